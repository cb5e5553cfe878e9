"""API keys: creation (HMAC and Ed25519) within the grant, rotation with an overlap, revocation, history,
e-mails, and the authorize decision with each of its reasons."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import time
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import current_app
from sqlalchemy import func, select

from onboarding.agreements.models import API_USAGE
from onboarding.agreements.operations import publish_rules
from onboarding.audit.models import AuditEvent
from onboarding.db import db, utcnow
from onboarding.institutions.models import FROZEN, RESTRICTED, Institution
from onboarding.institutions.operations import grant_access
from onboarding.institutions.status import change_status
from onboarding.keys.authorize import AuthorizeCall, decide, new_decision_id
from onboarding.keys.models import ApiKey, ApiKeyEvent
from onboarding.keys.operations import KeyRefused, create_key, live_key_count, revoke_key, rotate_key
from onboarding.keys.status import freeze_institution_keys, unfreeze_institution_keys
from onboarding.keys.tokens import API_KEY_PREFIX, new_token, public_id, well_formed
from onboarding.keys.usage import flush_usage
from onboarding.notifications.models import EmailMessage

from .factories import granted_institution

ORDER = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=100"
TRADER_IP = "203.0.113.10"
NEWER_RULES = "API usage rules, 2099 edition. " * 20 + "Every key is bound to an IP allow-list."


def institution_of(user) -> Institution:
    return db.session.get(Institution, user.institution_id)


def hmac_key(user, **changes):
    values = {"kind": "hmac", "label": "quoting engine", "scopes": ["market:read", "spot:trade"],
              "ip_allowlist": ["203.0.113.10", "203.0.113.64/26"], "user_id": user.id, **changes}
    issued = create_key(institution_of(user), **values)
    db.session.commit()
    return issued


def ed25519_key(user, **changes):
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    issued = hmac_key(user, kind="ed25519", public_key=base64.b64encode(raw).decode(), **changes)
    return issued, private


_last_timestamp = [0]


def now_ms() -> int:
    """Milliseconds, never the same twice: two requests signed in one millisecond would be a replay."""
    _last_timestamp[0] = max(int(time.time() * 1000), _last_timestamp[0] + 1)
    return _last_timestamp[0]


def signed(query: str, body: str = "", *, secret: str | None = None, private=None, timestamp: int | None = None,
           recv_window: int | None = None) -> str:
    """The query string a market maker's client sends: parameters, timestamp, then the signature."""
    params = f"{query}&timestamp={timestamp if timestamp is not None else now_ms()}"
    if recv_window is not None:
        params += f"&recvWindow={recv_window}"
    payload = (params + body).encode()
    if secret is not None:
        signature = hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    else:
        signature = quote(base64.b64encode(private.sign(payload)).decode(), safe="")
    return f"{params}&signature={signature}"


def ask(api_key: str, query: str, *, method="POST", path="/api/v3/order", body="", ip=TRADER_IP, scope=None):
    return decide(AuthorizeCall(method=method, path=path, query=query, body=body, api_key=api_key, client_ip=ip,
                                scope=scope))


# --- format -------------------------------------------------------------------------------------


def test_keys_carry_a_prefix_256_random_bits_and_a_checksum():
    key = new_token(API_KEY_PREFIX)
    assert key.startswith("mxk_") and len(key) == 4 + 43 + 6 and well_formed(key, API_KEY_PREFIX)
    assert public_id(key) == key[:12]
    flipped = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert not well_formed(flipped, API_KEY_PREFIX), "a typo is caught by the checksum, no database needed"
    assert not well_formed(key[:20], API_KEY_PREFIX) and not well_formed("mxs_" + key[4:], API_KEY_PREFIX)
    assert len({new_token(API_KEY_PREFIX) for _ in range(1000)}) == 1000


# --- creation ----------------------------------------------------------------------------------


def test_an_hmac_key_is_created_within_the_grant_and_its_secret_is_shown_once(app):
    user = granted_institution()
    issued = hmac_key(user)
    key = db.session.get(ApiKey, issued.key.id)
    assert issued.api_key.startswith("mxk_") and len(issued.secret) == 64
    assert key.key_hash != issued.api_key and issued.secret not in (key.secret_sealed or "")
    assert key.public_id == issued.api_key[:12] and key.status == "active" and key.expires_at is None
    assert key.ip_allowlist == ["203.0.113.10", "203.0.113.64/26"]
    assert [e.action for e in db.session.scalars(select(ApiKeyEvent).where(ApiKeyEvent.key_id == key.id))] == \
        ["created"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "key.created"))
    assert event.details["key"] == key.public_id and issued.api_key not in str(event.details)
    [mail] = db.session.scalars(select(EmailMessage)).all()
    assert key.public_id in mail.subject
    assert issued.api_key not in mail.text_body and issued.secret not in mail.text_body


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"scopes": ["margin:trade"]}, "scopes", "Not granted to the institution: Margin trading"),
    ({"scopes": []}, "scopes", "Choose at least one scope"),
    ({"ip_allowlist": ["198.51.100.7"]}, "ip_allowlist", "outside the addresses granted"),
    ({"ip_allowlist": ["0.0.0.0/0"]}, "ip_allowlist", "whole internet"),
    ({"ip_allowlist": ["::/0"]}, "ip_allowlist", "whole internet"),
    ({"ip_allowlist": ["10.0.0.1"]}, "ip_allowlist", "private, loopback or reserved"),
    ({"ip_allowlist": ["127.0.0.1"]}, "ip_allowlist", "private, loopback or reserved"),
    ({"ip_allowlist": ["not-an-ip"]}, "ip_allowlist", "not an IPv4 or IPv6 address"),
    ({"ip_allowlist": [f"203.0.113.{i}" for i in range(1, 32)]}, "ip_allowlist", "at most 30"),
    ({"ip_allowlist": []}, "ip_allowlist", "Trading scopes need an IP allow-list"),
    ({"label": "  "}, "label", "Give the key a label"),
    ({"kind": "rsa"}, "kind", "Choose HMAC or Ed25519"),
    ({"kind": "ed25519", "public_key": "-----BEGIN PRIVATE KEY-----\nMC4CAQ==\n-----END PRIVATE KEY-----"},
     "public_key", "Never paste the private key"),
    ({"kind": "ed25519", "public_key": base64.b64encode(b"x" * 31).decode()}, "public_key", "not an Ed25519"),
    ({"expires_on": date.today() - timedelta(days=1)}, "expires_on", "in the future"),
    ({"scopes": ["market:read"], "ip_allowlist": [], "expires_on": date.today() + timedelta(days=120)},
     "expires_on", "at most 90 days ahead for a key without an IP allow-list"),
])
def test_a_bad_key_is_refused_at_its_field_and_nothing_is_saved(app, changes, field, message):
    user = granted_institution()
    with pytest.raises(KeyRefused, match=message) as refused:
        hmac_key(user, **changes)
    assert refused.value.field == field
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 0
    assert db.session.scalar(select(func.count()).select_from(EmailMessage)) == 0


def test_a_read_only_key_without_allow_list_expires_within_90_days(app):
    user = granted_institution()
    key = hmac_key(user, scopes=["market:read"], ip_allowlist=[]).key
    assert timedelta(days=89) < key.expires_at - utcnow() <= timedelta(days=90)


@pytest.mark.parametrize(("setup", "message"), [
    (lambda inst, user: change_status(inst, FROZEN, reason="test"), "only while the institution's access is active"),
    (lambda inst, user: publish_rules(API_USAGE, "2099-01", NEWER_RULES), "Agree to the current API usage rules"),
])
def test_keys_are_created_only_while_active_and_agreed(app, setup, message):
    user = granted_institution()
    setup(institution_of(user), user)
    db.session.commit()
    with pytest.raises(KeyRefused, match=message):
        hmac_key(user)


def test_the_key_limit_of_the_grant_holds(app):
    user = granted_institution(max_keys=2)
    hmac_key(user)
    second = hmac_key(user)
    with pytest.raises(KeyRefused, match="already has its 2 keys"):
        hmac_key(user)
    db.session.rollback()
    revoke_key(db.session.get(ApiKey, second.key.id), user_id=user.id, reason=None)
    db.session.commit()
    hmac_key(user)
    assert live_key_count(user.institution_id) == 2


# --- the authorize decision --------------------------------------------------------------------


def test_a_signed_hmac_order_is_allowed_with_who_and_the_rate_tier(app):
    user = granted_institution()
    issued = hmac_key(user)
    decision = ask(issued.api_key, signed(ORDER, secret=issued.secret))
    assert decision.allowed and decision.reason == "ok"
    assert decision.institution == {"id": user.institution_id, "name": "Evergreen Liquidity BV"}
    assert decision.key == {"id": issued.key.public_id, "scopes": ["market:read", "spot:trade"]}
    assert decision.rate_tier == {"code": "professional", "requests_per_second": 100, "orders_per_second": 50}
    assert decision.decision_id.startswith("dec_")


def test_a_signed_ed25519_order_is_allowed_and_the_body_is_signed_too(app):
    user = granted_institution()
    issued, private = ed25519_key(user)
    body = "newClientOrderId=abc-1"
    query = signed(ORDER, body, private=private)
    assert ask(issued.api_key, query, body=body).reason == "ok"
    assert ask(issued.api_key, signed(ORDER, body, private=private), body=body + "0").reason == "bad_signature"


def test_the_signature_may_travel_in_the_body(app):
    user = granted_institution()
    issued = hmac_key(user)
    params = f"{ORDER}&timestamp={int(time.time() * 1000)}"
    signature = hmac.new(issued.secret.encode(), params.encode(), hashlib.sha256).hexdigest()
    assert ask(issued.api_key, "", body=f"{params}&signature={signature}").reason == "ok"


def test_refusals_are_logged_one_by_one_allowed_decisions_only_when_asked(app, caplog):
    config = current_app.config  # the test body runs in the context of the twin app (conftest)
    user = granted_institution()
    issued = hmac_key(user)
    caplog.set_level(logging.INFO, logger="onboarding.keys.authorize")
    allowed = ask(issued.api_key, signed(ORDER, secret=issued.secret))
    refused = ask(issued.api_key, signed(ORDER + "&newClientOrderId=2", secret=issued.secret), ip="198.51.100.9")
    assert allowed.reason == "ok" and refused.reason == "ip_not_allowed"
    lines = [r.getMessage() for r in caplog.records if r.name == "onboarding.keys.authorize"]
    assert lines == [f"authorize {refused.decision_id} /api/v3/order key={issued.key.public_id} ip=198.51.100.9 "
                     "-> ip_not_allowed"]
    assert all(issued.api_key not in line for line in lines), "only the key's public id is ever logged"
    config["AUTHORIZE_LOG_ALLOWED"] = True
    try:
        again = ask(issued.api_key, signed(ORDER + "&newClientOrderId=again", secret=issued.secret))
    finally:
        config["AUTHORIZE_LOG_ALLOWED"] = False
    assert again.reason == "ok"
    assert any(r.getMessage().endswith("-> ok") and again.decision_id in r.getMessage() for r in caplog.records)


def test_scope_rules_given_as_lists_are_used(app):
    user = granted_institution()
    issued = hmac_key(user)
    config = current_app.config  # the test body runs in the context of the twin app (conftest)
    config["AUTHORIZE_SCOPE_RULES"] = [["POST", "/api/v3/order", "margin:trade"]]  # create_app(config) may say so
    try:
        reason = ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason
    finally:
        config["AUTHORIZE_SCOPE_RULES"] = None
    assert reason == "scope_not_granted"
    assert ask(issued.api_key, signed(ORDER + "&newClientOrderId=default", secret=issued.secret)).reason == "ok"


def test_decision_ids_are_unique_in_a_process_and_across_forked_workers():
    mine = {new_decision_id() for _ in range(1000)}
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reader)
        os.write(writer, " ".join(new_decision_id() for _ in range(1000)).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        theirs = set(pipe.read().split())
    os.waitpid(child, 0)
    assert len(mine) == len(theirs) == 1000 and not mine & theirs
    assert all(re.fullmatch(r"dec_[0-9a-f]{13,}", d) for d in mine | theirs)


def test_each_refusal_has_its_reason(app):
    user = granted_institution()
    issued = hmac_key(user)
    secret, api_key = issued.secret, issued.api_key
    now = int(time.time() * 1000)
    assert ask(api_key[:-1] + "x", signed(ORDER, secret=secret)).reason == "malformed_key"
    assert ask(new_token(API_KEY_PREFIX), signed(ORDER, secret=secret)).reason == "unknown_key"
    assert ask(api_key, signed(ORDER, secret="0" * 64)).reason == "bad_signature"
    assert ask(api_key, signed(ORDER, secret=secret).replace("quantity=1", "quantity=9")).reason == "bad_signature"
    assert ask(api_key, signed(ORDER, secret=secret, timestamp=now - 6000)).reason == "stale_timestamp"
    assert ask(api_key, signed(ORDER, secret=secret, timestamp=now - 6000, recv_window=10000)).reason == "ok"
    assert ask(api_key, signed(ORDER, secret=secret, timestamp=now + 5000)).reason == "stale_timestamp"
    assert ask(api_key, signed(ORDER, secret=secret, recv_window=60001)).reason == "stale_timestamp"
    no_timestamp = f"{ORDER}&signature=" + hmac.new(secret.encode(), ORDER.encode(), hashlib.sha256).hexdigest()
    assert ask(api_key, no_timestamp).reason == "stale_timestamp"
    query = signed(ORDER, secret=secret)
    assert ask(api_key, query).reason == "ok"
    assert ask(api_key, query).reason == "replayed"
    upper = query.replace(query[-64:], query[-64:].upper())
    assert ask(api_key, upper).reason == "replayed", "the hex case changes nothing"
    assert ask(api_key, signed(ORDER, secret=secret), ip="198.51.100.9").reason == "ip_not_allowed"
    assert ask(api_key, signed(ORDER, secret=secret), ip="203.0.113.70").reason == "ok", "inside the /26"
    assert ask(api_key, signed(ORDER, secret=secret), path="/api/v3/margin/order").reason == "scope_not_granted"
    assert ask(api_key, signed(ORDER, secret=secret), path="/api/v9/unknown").reason == "scope_not_granted"
    assert ask(api_key, signed("symbol=BTCUSDT", secret=secret), method="GET", path="/api/v3/account").reason == \
        "scope_not_granted", "account:read was granted to the institution but not to this key"


def test_an_unsigned_caller_learns_nothing_about_a_revoked_or_frozen_key(app):
    user = granted_institution()
    issued = hmac_key(user)
    revoke_key(db.session.get(ApiKey, issued.key.id), user_id=user.id, reason=None)
    db.session.commit()
    assert ask(issued.api_key, signed(ORDER, secret="0" * 64)).reason == "bad_signature"
    decision = ask(issued.api_key, signed(ORDER, secret="0" * 64))
    assert decision.institution is None and decision.key is None
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "key_revoked"


def test_status_changes_refuse_the_very_next_request(app):
    user = granted_institution()
    issued = hmac_key(user)
    institution = institution_of(user)
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "ok"
    freeze_institution_keys(institution.id, reason="surveillance report")
    db.session.commit()
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "key_frozen"
    unfreeze_institution_keys(institution.id, reason="dismissed")
    change_status(institution, FROZEN, reason="investigation")
    db.session.commit()
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "institution_frozen"
    change_status(institution, RESTRICTED, reason="second violation")
    db.session.commit()
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "institution_restricted"


def test_newer_rules_not_yet_agreed_refuse_requests(app):
    user = granted_institution()
    issued = hmac_key(user)
    publish_rules(API_USAGE, "2099-01", NEWER_RULES)
    db.session.commit()
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "rules_not_agreed"


def test_a_narrowed_grant_applies_at_once(app):
    user = granted_institution()
    issued = hmac_key(user)
    grant_access(institution_of(user), scopes=["market:read", "spot:trade"], rate_tier="standard", max_keys=5,
                 ip_allowlist=["203.0.113.64/26"], granted_by_id=None, reason="narrowed")
    db.session.commit()
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret), ip=TRADER_IP).reason == "ip_not_allowed"
    decision = ask(issued.api_key, signed(ORDER, secret=issued.secret), ip="203.0.113.70")
    assert decision.reason == "ok" and decision.rate_tier["code"] == "standard"
    grant_access(institution_of(user), scopes=["market:read"], rate_tier="standard", max_keys=5,
                 ip_allowlist=["203.0.113.64/26"], granted_by_id=None, reason="no more trading")
    db.session.commit()
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret), ip="203.0.113.70").reason == "scope_not_granted"


def test_rotation_keeps_the_old_key_for_the_overlap_then_it_expires(app):
    user = granted_institution()
    old = hmac_key(user)
    new = rotate_key(db.session.get(ApiKey, old.key.id), user_id=user.id, overlap_hours=1)
    db.session.commit()
    assert new.key.replaces_id == old.key.id and new.key.scopes == old.key.scopes
    assert new.secret != old.secret
    assert ask(old.api_key, signed(ORDER, secret=old.secret)).reason == "ok", "valid during the overlap"
    assert ask(new.api_key, signed(ORDER, secret=new.secret)).reason == "ok"
    with pytest.raises(KeyRefused, match="already rotated"):
        rotate_key(db.session.get(ApiKey, old.key.id), user_id=user.id)
    db.session.rollback()
    db.session.get(ApiKey, old.key.id).expires_at = utcnow() - timedelta(seconds=1)  # the overlap is over
    db.session.commit()
    assert ask(old.api_key, signed(ORDER, secret=old.secret)).reason == "key_expired"
    actions = db.session.scalars(select(ApiKeyEvent.action).where(ApiKeyEvent.key_id == old.key.id)
                                 .order_by(ApiKeyEvent.id)).all()
    assert actions == ["created", "rotated"]


@pytest.mark.parametrize("hours", [-1, 169, None])
def test_the_overlap_is_at_most_seven_days(app, hours):
    user = granted_institution()
    old = hmac_key(user)
    with pytest.raises(KeyRefused, match="between 0 and 168 hours") as refused:
        rotate_key(db.session.get(ApiKey, old.key.id), user_id=user.id, overlap_hours=hours)
    assert refused.value.field == "overlap_hours"


def test_usage_is_counted_without_a_write_per_request_and_flushed(app):
    flush_usage()  # what earlier tests in this process counted
    user = granted_institution()
    issued = hmac_key(user)
    for _ in range(3):
        ask(issued.api_key, signed(ORDER, secret=issued.secret))
    ask(issued.api_key, signed(ORDER, secret=issued.secret), ip="198.51.100.9")
    assert db.session.get(ApiKey, issued.key.id).last_used_at is None, "nothing written yet"
    assert flush_usage() == 4
    db.session.commit()
    key = db.session.get(ApiKey, issued.key.id)
    assert key.last_used_at is not None
    rows = db.session.execute(text_usage(), {"key": key.id}).all()
    assert {(r.reason, r.count) for r in rows} == {("ok", 3), ("ip_not_allowed", 1)}
    assert flush_usage() == 0


def text_usage():
    from sqlalchemy import text

    return text("SELECT reason, count FROM api_key_usage WHERE key_id = :key")


def test_with_redis_usage_is_shared_and_flushed_by_the_worker_housekeeping(make_app, redis_server):
    from onboarding.worker import housekeep_keys

    app = make_app(REDIS_URL=redis_server.url)
    with app.app_context():
        flush_usage()  # what earlier tests counted in this Redis (their keys are gone: nothing is recorded)
        user = granted_institution()
        issued = hmac_key(user, expires_on=None)
        for _ in range(2):
            assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "ok"
        query = signed(ORDER, secret=issued.secret)
        assert ask(issued.api_key, query).reason == "ok"
        assert ask(issued.api_key, query).reason == "replayed", "the replay guard lives in Redis here"
        assert db.session.get(ApiKey, issued.key.id).last_used_at is None
        housekeep_keys()
        rows = dict(db.session.execute(text_usage(), {"key": issued.key.id}).all())
        assert rows == {"ok": 3, "replayed": 1}
        assert db.session.get(ApiKey, issued.key.id).last_used_at is not None
        housekeep_keys()  # nothing new: nothing counted twice
        assert dict(db.session.execute(text_usage(), {"key": issued.key.id}).all()) == rows


def test_housekeeping_expires_keys_past_their_date(app):
    from onboarding.worker import housekeep_keys

    user = granted_institution()
    issued = hmac_key(user)
    db.session.get(ApiKey, issued.key.id).expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    housekeep_keys()
    key = db.session.get(ApiKey, issued.key.id)
    assert key.status == "expired"
    assert db.session.scalars(select(ApiKeyEvent.action).where(ApiKeyEvent.key_id == key.id)).all()[-1] == "expired"
