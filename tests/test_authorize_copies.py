"""The authorize decision's process-local copies (keys.freshness): a steady stream of requests costs no
database statement, and every change committed in ANOTHER process (another app on the same database and
Redis) refuses the very next request, as if nothing were copied."""

from __future__ import annotations

import contextlib
import time
from types import SimpleNamespace

import pytest
from redis import Redis
from sqlalchemy import event, text

from onboarding.agreements.models import API_USAGE
from onboarding.agreements.operations import publish_rules
from onboarding.api.tokens import create_service_token, revoke_service_token, token_by_public_id
from onboarding.db import db
from onboarding.institutions.models import FROZEN, Institution
from onboarding.institutions.operations import grant_access
from onboarding.institutions.status import change_status
from onboarding.keys.freshness import GENERATION_KEY
from onboarding.keys.models import ApiKey
from onboarding.keys.operations import revoke_key
from onboarding.keys.status import freeze_institution_keys
from onboarding.keys.tokens import public_id
from onboarding.keys.usage import LAST, flush_usage

from .factories import granted_institution
from .test_keys import NEWER_RULES, ORDER, TRADER_IP, ask, hmac_key, signed


@contextlib.contextmanager
def statements():
    """The SQL statements this app's engine runs inside the block."""
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


@pytest.fixture()
def two_processes(make_app, redis_server):
    """The gateway's process (`asked`) and another one where staff and jobs change things (`other`)."""
    asked = make_app(REDIS_URL=redis_server.url)
    other = make_app(REDIS_URL=redis_server.url)
    with asked.app_context():
        flush_usage()
    return asked, other


def _granted_key(app):
    """(issued key, user id, institution id) of a new granted institution, made in `app`."""
    def make():
        user = granted_institution()
        issued = hmac_key(user)
        return SimpleNamespace(api_key=issued.api_key, secret=issued.secret, key_id=issued.key.id), user.id, \
            user.institution_id

    return _in(app, make)


def _in(app, work):
    with app.app_context():
        try:
            return work()
        finally:
            db.session.remove()


def test_a_copied_key_answers_without_a_statement_and_exactly_like_the_database(two_processes):
    asked, other = two_processes
    issued, _, _ = _granted_key(other)

    def twice():
        first = ask(issued.api_key, signed(ORDER, secret=issued.secret))
        with statements() as seen:
            second = ask(issued.api_key, signed(ORDER, secret=issued.secret))
            replay_query = signed(ORDER, secret=issued.secret)
            third = ask(issued.api_key, replay_query)
            replayed = ask(issued.api_key, replay_query)
            bad = ask(issued.api_key, signed(ORDER, secret="not the secret"))
        return first, second, third, replayed, bad, seen

    first, second, third, replayed, bad, seen = _in(asked, twice)
    assert [d.reason for d in (first, second, third, replayed, bad)] == ["ok", "ok", "ok", "replayed", "bad_signature"]
    assert second.as_json()["institution"] == first.as_json()["institution"]
    assert seen == [], "answered from the copy"


@pytest.mark.parametrize("change, reason", [
    ("freeze_keys", "key_frozen"),
    ("freeze_institution", "institution_frozen"),
    ("revoke", "key_revoked"),
    ("new_rules", "rules_not_agreed"),
    ("narrow_grant", "scope_not_granted"),
])
def test_a_change_committed_in_another_process_refuses_the_very_next_request(two_processes, change, reason):
    asked, other = two_processes
    issued, user_id, institution_id = _granted_key(other)
    for _ in range(2):  # the second answer comes from the copy
        assert _in(asked, lambda: ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason) == "ok"

    def make_change():
        institution = db.session.get(Institution, institution_id)
        if change == "freeze_keys":
            freeze_institution_keys(institution.id, reason="surveillance report")
        elif change == "freeze_institution":
            change_status(institution, FROZEN, reason="investigation")
        elif change == "revoke":
            revoke_key(db.session.get(ApiKey, issued.key_id), user_id=user_id, reason="leaked")
        elif change == "new_rules":
            publish_rules(API_USAGE, "2099-01", NEWER_RULES)
        else:
            grant_access(institution, scopes=["market:read"], rate_tier="standard", max_keys=5,
                         ip_allowlist=["203.0.113.0/24"], granted_by_id=None, reason="no more trading")
        db.session.commit()

    _in(other, make_change)
    assert _in(asked, lambda: ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason) == reason


def test_usage_flushes_and_last_used_times_keep_the_copies(two_processes, redis_server):
    asked, other = two_processes
    issued, _, _ = _granted_key(other)
    assert _in(asked, lambda: ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason) == "ok"
    generation = Redis.from_url(redis_server.url).get(GENERATION_KEY)
    # The asking process's tally reaches Redis by its own pusher thread, within about a second.
    deadline = time.monotonic() + 10
    while Redis.from_url(redis_server.url).hget(LAST, str(issued.key_id)) is None:
        assert time.monotonic() < deadline, "the asking process never pushed its counts to Redis"
        time.sleep(0.1)

    def flush():
        flush_usage()
        db.session.commit()

    _in(other, flush)
    assert _in(other, lambda: db.session.get(ApiKey, issued.key_id).last_used_at) is not None
    assert Redis.from_url(redis_server.url).get(GENERATION_KEY) == generation, "a usage flush changes no decision"


def test_an_emptied_redis_or_a_hand_made_change_is_not_served_from_a_copy(two_processes, redis_server, make_app):
    asked, other = two_processes
    issued, _, _ = _granted_key(other)
    for _ in range(2):
        assert _in(asked, lambda: ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason) == "ok"
    Redis.from_url(redis_server.url).flushall()  # a restarted Redis: no generation at all

    def freeze_by_hand():  # a change no session event sees (an operator's SQL), then Redis was emptied
        db.session.execute(text("UPDATE api_keys SET status = 'frozen' WHERE id = :id"), {"id": issued.key_id})
        db.session.commit()

    _in(other, freeze_by_hand)
    assert _in(asked, lambda: ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason) == "key_frozen"


def test_copies_can_be_turned_off(make_app, redis_server):
    app = make_app(REDIS_URL=redis_server.url, AUTHORIZE_COPY_SECONDS=0)

    def run():
        issued = hmac_key(granted_institution())
        ask(issued.api_key, signed(ORDER, secret=issued.secret))
        with statements() as seen:
            assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "ok"
        return seen

    assert len(_in(app, run)) == 1, "one statement: the decision row"


def test_a_service_token_revoked_in_another_process_is_refused_at_the_next_call(two_processes):
    asked, other = two_processes
    issued, _, _ = _granted_key(other)

    def new_token():
        _, plaintext = create_service_token("gateway", ["authorize"], created_by="test")
        db.session.commit()
        return plaintext

    token = _in(other, new_token)
    client = asked.test_client()

    def call():
        body = {"method": "POST", "path": "/api/v3/order", "query": signed(ORDER, secret=issued.secret),
                "headers": {asked.config["API_KEY_HEADER"]: issued.api_key}, "client_ip": TRADER_IP}
        return client.post("/api/v1/authorize", json=body, headers={"Authorization": f"Bearer {token}"})

    for _ in range(2):
        response = call()
        assert response.status_code == 200 and response.get_json()["allowed"] is True

    def revoke():
        revoke_service_token(token_by_public_id(public_id(token)), by="test")
        db.session.commit()

    _in(other, revoke)
    response = call()
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "token_invalid"


def test_a_change_inside_a_savepoint_replaces_the_generation_only_at_the_outer_commit(two_processes, redis_server):
    asked, other = two_processes
    issued, _, institution_id = _granted_key(other)
    assert _in(asked, lambda: ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason) == "ok"
    generation = Redis.from_url(redis_server.url).get(GENERATION_KEY)

    def freeze_then_savepoint():
        freeze_institution_keys(institution_id, reason="surveillance report")
        with db.session.begin_nested():  # as the violations intake guards its reference
            pass
        assert Redis.from_url(redis_server.url).get(GENERATION_KEY) == generation, \
            "nothing is visible to other processes before the outer commit"
        db.session.commit()

    _in(other, freeze_then_savepoint)
    assert Redis.from_url(redis_server.url).get(GENERATION_KEY) != generation
    assert _in(asked, lambda: ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason) == "key_frozen"
