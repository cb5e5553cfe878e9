"""The machine API: service tokens (CLI, scopes), POST /api/v1/authorize over HTTP with every malformed
call answered in the one JSON error shape, the institution look-up, the OpenAPI document, and a
revocation seen by the very next call on every web process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from sqlalchemy import select

from onboarding.api.models import ServiceToken
from onboarding.api.openapi import openapi_document
from onboarding.api.tokens import create_service_token, revoke_service_token
from onboarding.db import db
from onboarding.keys.models import ApiKey
from onboarding.keys.operations import revoke_key

from .conftest import ROOT, wait_until
from .factories import granted_institution
from .test_keys import ORDER, TRADER_IP, hmac_key, signed


def service_token(*scopes: str) -> str:
    _, plaintext = create_service_token("gateway test", list(scopes or ["authorize"]), created_by="pytest")
    db.session.commit()
    return plaintext


def call(client, token: str | None, payload, *, content_type="application/json"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.post("/api/v1/authorize", data=data, headers=headers, content_type=content_type)


def order_call(api_key: str, query: str, **changes) -> dict:
    return {"method": "POST", "path": "/api/v3/order", "query": query, "body": "",
            "headers": {"X-MEXC-APIKEY": api_key}, "client_ip": TRADER_IP, **changes}


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


def test_the_cli_creates_lists_and_revokes_service_tokens(app):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["service-token", "create", "--name", "gateway eu-1", "--scope", "authorize"])
    assert created.exit_code == 0, created.output
    plaintext = created.output.strip().splitlines()[-1]
    assert plaintext.startswith("mxs_") and "shown only once" in created.output
    token = db.session.scalar(select(ServiceToken))
    assert token.token_hash != plaintext and plaintext not in json.dumps(token.scopes)
    listed = runner.invoke(args=["service-token", "list"])
    assert token.public_id in listed.output and "gateway eu-1" in listed.output and "never" in listed.output
    assert "mxs_" in listed.output and plaintext not in listed.output
    bad = runner.invoke(args=["service-token", "create", "--name", "x", "--scope", "everything"])
    assert bad.exit_code != 0 and "Invalid value" in bad.output
    revoked = runner.invoke(args=["service-token", "revoke", token.public_id])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    again = runner.invoke(args=["service-token", "revoke", token.public_id])
    assert again.exit_code != 0 and "already revoked" in again.output


def test_an_allowed_and_a_refused_decision_over_http(app):
    user = granted_institution()
    issued = hmac_key(user)
    token = service_token()
    client = app.test_client()
    response = call(client, token, order_call(issued.api_key, signed(ORDER, secret=issued.secret)))
    assert response.status_code == 200
    body = response.get_json()
    assert body["allowed"] is True and body["reason"] == "ok" and body["key"]["id"] == issued.key.public_id
    assert body["rate_tier"]["code"] == "professional" and body["decision_id"].startswith("dec_")
    response = call(client, token, order_call(issued.api_key, signed(ORDER, secret=issued.secret),
                                              client_ip="198.51.100.9"))
    assert response.status_code == 200 and response.get_json()["reason"] == "ip_not_allowed"
    assert response.get_json()["allowed"] is False
    lower = call(client, token, order_call(issued.api_key, signed(ORDER, secret=issued.secret),
                                           headers={"x-mexc-apikey": issued.api_key}))
    assert lower.get_json()["reason"] == "ok", "header names are case-insensitive"
    missing = call(client, token, order_call(issued.api_key, signed(ORDER, secret=issued.secret), headers={}))
    assert missing.get_json()["reason"] == "malformed_key"


@pytest.mark.parametrize(("token", "status", "code"), [
    (None, 401, "token_missing"),
    ("mxs_notatoken", 401, "token_malformed"),
    ("unknown", 401, "token_invalid"),
    ("revoked", 401, "token_invalid"),
    ("wrong-scope", 403, "token_scope"),
])
def test_callers_without_a_valid_token_with_the_scope_are_refused(app, token, status, code):
    if token == "unknown":
        from onboarding.keys.tokens import SERVICE_TOKEN_PREFIX, new_token

        token = new_token(SERVICE_TOKEN_PREFIX)
    elif token == "revoked":
        issued, token = create_service_token("old gateway", ["authorize"], created_by="pytest")
        revoke_service_token(issued, by="pytest")
        db.session.commit()
    elif token == "wrong-scope":
        token = service_token("institutions:read")
    response = call(app.test_client(), token, order_call("mxk_x", "timestamp=1"))
    assert response.status_code == status
    assert error_of(response)["code"] == code


@pytest.mark.parametrize(("payload", "content_type", "status", "code", "fields"), [
    ("symbol=BTCUSDT", "application/x-www-form-urlencoded", 415, "unsupported_media_type", set()),
    ("{not json", "application/json", 400, "malformed_json", set()),
    ("[1, 2]", "application/json", 400, "malformed_json", set()),
    ("[" * 100_000, "application/json", 400, "malformed_json", set()),  # deeper than the parser follows
    (b'{"method": "\xff"}', "application/json", 400, "malformed_json", set()),  # not UTF-8
    ({}, "application/json", 422, "invalid_call", {"method", "path", "client_ip"}),
    ({"method": "POST", "path": "api/v3/order", "client_ip": "1.2.3"}, "application/json", 422, "invalid_call",
     {"path", "client_ip"}),
    ({"method": "PO ST", "path": "/x", "client_ip": "203.0.113.1", "headers": ["a"], "scope": "root"},
     "application/json", 422, "invalid_call", {"method", "headers", "scope"}),
    ({"method": 5, "path": "/x", "client_ip": "203.0.113.1", "body": {"a": 1}}, "application/json", 422,
     "invalid_call", {"method", "body"}),
])
def test_a_malformed_call_is_a_json_error_naming_the_fields(app, payload, content_type, status, code, fields):
    response = call(app.test_client(), service_token(), payload, content_type=content_type)
    assert response.status_code == status
    error = error_of(response)
    assert error["code"] == code and set(error["fields"]) == fields


def test_unknown_api_paths_and_methods_answer_in_the_json_shape(app):
    client = app.test_client()
    assert error_of(client.get("/api/v1/nothing"))["code"] == "not_found"
    assert error_of(client.get("/api/v1/authorize"))["code"] == "method_not_allowed"


def test_the_institution_look_up_shows_status_grant_and_keys_never_secrets(app):
    user = granted_institution()
    issued = hmac_key(user)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {service_token('institutions:read')}"}
    body = client.get(f"/api/v1/institutions/{user.institution_id}", headers=headers).get_json()
    assert body["status"] == "active" and body["grant"]["rate_tier"] == "professional"
    assert [k["id"] for k in body["keys"]] == [issued.key.public_id] and body["keys"][0]["status"] == "active"
    text = json.dumps(body)
    assert issued.api_key not in text and issued.secret not in text and "secret" not in text
    assert client.get("/api/v1/institutions/999999", headers=headers).status_code == 404
    authorize_only = {"Authorization": f"Bearer {service_token('authorize')}"}
    assert client.get(f"/api/v1/institutions/{user.institution_id}", headers=authorize_only).status_code == 403


def test_the_openapi_document_describes_every_json_endpoint(app):
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert document == openapi_document() and document["openapi"].startswith("3.1")
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = rule.rule.replace("<int(max=2147483647):institution_id>", "{institution_id}")
            routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == described


# --- two web processes -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebProcess:
    """The app served by its own process (the Werkzeug server), on the test database and Redis."""

    def __init__(self, database_url: str, redis_url: str):
        self.port = free_port()
        env = {**os.environ, "APP_ENV": "testing", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
               "JOBS_EAGER": "1", "MAIL_BACKEND": "console"}
        self.process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "run", "--port",
                                         str(self.port), "--no-reload"], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._up, timeout=30, message=f"web process on port {self.port}")

    def _up(self) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)  # noqa: S310
            return True
        except OSError:
            return False

    def authorize(self, token: str, payload: dict) -> dict:
        request = urllib.request.Request(  # noqa: S310 (our own loopback server)
            f"http://127.0.0.1:{self.port}/api/v1/authorize", data=json.dumps(payload).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def test_a_revocation_refuses_the_very_next_call_on_every_process(app, migrated, redis_server, make_app):
    user = granted_institution()
    issued = hmac_key(user)
    token = service_token()
    first, second = WebProcess(migrated, redis_server.url), WebProcess(migrated, redis_server.url)
    try:
        for process in (first, second):  # both have served this key: any cache of theirs is warm
            answer = process.authorize(token, order_call(issued.api_key, signed(ORDER, secret=issued.secret)))
            assert answer["reason"] == "ok"
        query = signed(ORDER, secret=issued.secret)
        assert first.authorize(token, order_call(issued.api_key, query))["reason"] == "ok"
        assert second.authorize(token, order_call(issued.api_key, query))["reason"] == "replayed", \
            "the replay guard is shared through Redis"
        key_id, user_id = issued.key.id, user.id
        db.session.commit()
        with make_app(REDIS_URL=redis_server.url).app_context():  # a staff member's process of the deployment
            revoke_key(db.session.get(ApiKey, key_id), user_id=user_id, reason=None)
            db.session.commit()
            db.session.remove()
        started = time.monotonic()
        for process in (second, first):
            answer = process.authorize(token, order_call(issued.api_key, signed(ORDER, secret=issued.secret)))
            assert answer["reason"] == "key_revoked"
        assert time.monotonic() - started < 5
    finally:
        first.stop()
        second.stop()


def test_the_machine_api_neither_reads_nor_writes_the_browser_session(app):
    """A signed-in browser's cookie gives no authority under /api/ (service tokens only), and no answer there
    sets a cookie; pages still keep their session."""
    user = granted_institution()
    client = app.test_client()
    with client.session_transaction() as browser_session:  # a browser with a session cookie
        browser_session["probe"] = "kept"
        browser_session.permanent = True  # a page would send it again on every answer (refreshed expiry)
    answer = client.get(f"/api/v1/institutions/{user.institution_id}")
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "token_missing"
    assert "Set-Cookie" not in answer.headers
    assert client.get("/api/v1/openapi.json").headers.get("Set-Cookie") is None
    assert "Set-Cookie" in client.get("/login").headers  # a page does
    with client.session_transaction() as browser_session:
        assert browser_session["probe"] == "kept"  # the API left the page session as it was
