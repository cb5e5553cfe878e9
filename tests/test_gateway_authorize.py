"""End to end: the example market-maker client (examples/mm_client.py) signs, a real nginx + njs gateway
(deploy/nginx/) asks the REAL `POST /api/v1/authorize` (the app on a socket, AppServer) with a real
service token, and only an allowed request reaches the stub trading upstream. Keys are real ones, made
through onboarding.keys.operations for an institution holding a grant."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from onboarding.api.tokens import create_service_token
from onboarding.db import db
from onboarding.institutions.models import FROZEN, Institution
from onboarding.institutions.status import change_status
from onboarding.keys.models import ApiKey
from onboarding.keys.operations import IssuedKey, revoke_key
from onboarding.keys.status import freeze_institution_keys

from .factories import granted_institution
from .gateway import AppServer, Gateway, send, start_gateway
from .test_keys import TRADER_IP, ed25519_key, hmac_key

ROOT = Path(__file__).resolve().parent.parent


def _load_client():
    spec = importlib.util.spec_from_file_location("mm_client", ROOT / "examples" / "mm_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mm = _load_client()

# tests/test_keys.py's ORDER, as the client's parameters; a form body that the signature covers too.
ORDER_PARAMS = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "1"), ("price", "100")]
BODY = "newClientOrderId=mm-e2e-1&note=Gr%C3%BC%C3%9Fe&timeInForce=GTC"
OUTSIDE_GRANT_IP = "198.51.100.9"  # in neither the key's allow-list nor the institution's grant
INSIDE_GRANT_ONLY_IP = "203.0.113.200"  # in the grant (203.0.113.0/24), not in the key's list


# ---------------------------------------------------------------------------
# One app server + one gateway per test.


@dataclass
class Stack:
    app_server: AppServer
    gateway: Gateway
    user: object
    app_stopped: bool = False

    @property
    def upstream_requests(self) -> list[dict]:
        return self.gateway.upstream_requests

    def stop_app(self) -> None:
        if not self.app_stopped:
            self.app_stopped = True
            self.app_server.stop()

    def client(self, issued: IssuedKey, *, private=None, ip: str | None = TRADER_IP, headers: dict | None = None):
        """The example client for this key; `ip` is the X-Forwarded-For the trusted proxy (127.0.0.1) sends."""
        extra = {"X-Forwarded-For": ip} if ip else {}
        extra.update(headers or {})
        signing = {"ed25519_private_key": private} if private is not None else {"secret": issued.secret}
        return mm.Client(self.gateway.url, issued.api_key, **signing, headers=extra)


@pytest.fixture
def stack(app):
    """The real app on a socket, an institution holding a grant, a real service token, and nginx asking
    the app (trusting 127.0.0.1's X-Forwarded-For), in front of its stub trading upstream."""
    _, token = create_service_token("gateway e2e", ["authorize"], created_by="pytest")
    db.session.commit()
    user = granted_institution()
    app_server = AppServer(app)
    try:
        gateway = start_gateway(app_server.url, token, real_ip_from=["127.0.0.1"],
                                key_header=app.config["API_KEY_HEADER"])
    except BaseException:
        app_server.stop()
        raise
    running = Stack(app_server, gateway, user)
    try:
        yield running
    finally:
        gateway.stop()
        running.stop_app()
        db.session.rollback()  # see what the app committed from here on


def answer(result) -> tuple[int, dict, dict]:
    """(status, headers with lowercase names, JSON body) of mm.Client.request's or send's result."""
    status, headers, data = result
    return status, {name.lower(): value for name, value in headers.items()}, json.loads(data) if data else {}


def order(client, path: str = "/api/v3/order", body: str = BODY):
    return answer(client.request("POST", path, ORDER_PARAMS, body))


def wire(stack: Stack, prepared) -> tuple[str, bytes, dict[str, str]]:
    """A prepared (signed, unsent) request as the request target, body and headers to put on the wire."""
    return prepared.full_url.removeprefix(stack.gateway.url), prepared.data or b"", dict(prepared.header_items())


def sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def refresh(model, ident):
    db.session.rollback()  # end the test's read transaction: see what the app committed
    return db.session.get(model, ident)


# ---------------------------------------------------------------------------
# 1. Allowed.


def test_allowed_orders_reach_upstream_with_exact_body_and_identity(stack):
    issued = hmac_key(stack.user)
    client = stack.client(issued, headers={"X-Institution-Id": "999", "X-Api-Key-Id": "mxk_spoofed"})
    status, headers, echo = order(client)

    assert status == 200, (echo, stack.gateway.error_log())
    assert headers["x-upstream"] == "stub-trading"
    [seen] = stack.upstream_requests
    assert seen["method"] == "POST" and seen["path"] == "/api/v3/order"
    assert seen["body"] == BODY.encode() and seen["body_sha256"] == sha256(BODY) == echo["body_sha256"]
    assert seen["query"].startswith("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=100&timestamp=")
    # Who the caller is comes from the app's decision; the client's own copies were dropped.
    assert seen["institution_id"] == str(stack.user.institution_id)
    assert seen["api_key_id"] == issued.key.public_id
    assert seen["rate_tier"] == "professional"
    assert seen["decision_id"].startswith("dec_") and headers["x-authorize-decision"] == seen["decision_id"]
    assert seen["headers"]["x-real-ip"] == TRADER_IP

    ed_issued, private = ed25519_key(stack.user)
    ed_body = "newClientOrderId=mm-e2e-ed&note=%E2%82%AC"
    status, _, echo = order(stack.client(ed_issued, private=private), body=ed_body)
    assert status == 200, (echo, stack.gateway.error_log())
    assert len(stack.upstream_requests) == 2
    seen = stack.upstream_requests[-1]
    assert seen["body_sha256"] == sha256(ed_body) == echo["body_sha256"]
    signature = seen["query"].rsplit("&signature=", 1)[1]
    assert len(signature) >= 88 and not set("+/=") & set(signature)  # base64, percent-encoded, passed as sent
    assert (seen["institution_id"], seen["api_key_id"]) == (str(stack.user.institution_id), ed_issued.key.public_id)


# ---------------------------------------------------------------------------
# 2.-5. Refused by the real decision; nothing forwarded.


def test_body_changed_after_signing_is_refused(stack):
    issued = hmac_key(stack.user)
    prepared = stack.client(issued).prepare("POST", "/api/v3/order", ORDER_PARAMS, BODY)
    target, body, headers = wire(stack, prepared)
    tampered = body.replace(b"mm-e2e-1", b"mm-e2e-2")
    assert len(tampered) == len(body) and sum(a != b for a, b in zip(body, tampered, strict=True)) == 1

    status, _, reply = answer(send(stack.gateway, "POST", target, tampered, headers))
    assert (status, reply["code"]) == (401, "bad_signature"), reply
    assert reply["decision_id"].startswith("dec_")
    assert stack.upstream_requests == []

    # The same signed request with its body untouched passes: the one changed byte was the reason.
    status, _, echo = answer(send(stack.gateway, "POST", target, body, headers))
    assert status == 200, echo
    assert [seen["body_sha256"] for seen in stack.upstream_requests] == [sha256(body)]


def test_the_same_signed_request_twice_is_a_replay(stack):
    issued = hmac_key(stack.user)
    target, body, headers = wire(stack, stack.client(issued).prepare("POST", "/api/v3/order", ORDER_PARAMS, BODY))
    first = answer(send(stack.gateway, "POST", target, body, headers))
    second = answer(send(stack.gateway, "POST", target, body, headers))
    assert first[0] == 200, first
    assert (second[0], second[2]["code"]) == (401, "replayed"), second
    assert len(stack.upstream_requests) == 1


@pytest.mark.parametrize("ip", [OUTSIDE_GRANT_IP, INSIDE_GRANT_ONLY_IP, None],
                         ids=["outside-grant", "outside-key-list", "no-forwarded-for"])
def test_a_client_address_outside_the_allow_list_is_refused(stack, ip):
    issued = hmac_key(stack.user)
    status, _, reply = order(stack.client(issued, ip=ip))  # None: the proxy's own 127.0.0.1
    assert (status, reply["code"]) == (403, "ip_not_allowed"), reply
    assert stack.upstream_requests == []


def test_a_scope_not_granted_is_refused(stack):
    issued = hmac_key(stack.user)  # market:read, spot:trade: no margin:trade
    status, _, reply = order(stack.client(issued), path="/api/v3/margin/order")
    assert (status, reply["code"]) == (403, "scope_not_granted"), reply
    assert stack.upstream_requests == []


# ---------------------------------------------------------------------------
# 6.-7. Status changes refuse the very next request.


def test_a_key_revoked_between_two_requests_is_refused_at_once(stack):
    issued = hmac_key(stack.user)
    client = stack.client(issued)
    assert order(client)[0] == 200

    revoke_key(refresh(ApiKey, issued.key.id), user_id=stack.user.id, reason="leaked in a log")
    db.session.commit()
    status, _, reply = order(client)
    assert (status, reply["code"]) == (403, "key_revoked"), reply
    assert len(stack.upstream_requests) == 1


@pytest.mark.parametrize("first", ["institution", "keys"])
def test_a_freeze_between_two_requests_refuses_the_next_one(stack, first):
    issued = hmac_key(stack.user)
    client = stack.client(issued)
    institution_id = stack.user.institution_id
    assert order(client)[0] == 200

    def freeze_institution():
        change_status(refresh(Institution, institution_id), FROZEN, reason="market abuse investigation")
        db.session.commit()

    def freeze_keys():
        db.session.rollback()
        assert [key.id for key in freeze_institution_keys(institution_id, reason="surveillance report")] == \
            [issued.key.id]
        db.session.commit()

    if first == "institution":  # the institution alone, then its keys too
        freeze_institution()
        status, _, reply = order(client)
        assert (status, reply["code"]) == (403, "institution_frozen"), reply
        freeze_keys()
    else:  # the keys alone (the institution still active), then the institution too
        freeze_keys()
        status, _, reply = order(client)
        assert (status, reply["code"]) == (403, "key_frozen"), reply
        freeze_institution()
    status, _, reply = order(client)
    assert (status, reply["code"]) == (403, "key_frozen"), reply
    assert len(stack.upstream_requests) == 1


# ---------------------------------------------------------------------------
# 8. Fail closed.


def test_authorize_down_fails_closed(stack):
    issued = hmac_key(stack.user)
    client = stack.client(issued)
    assert order(client)[0] == 200  # the app was up a moment ago
    stack.stop_app()
    for _ in range(3):
        status, headers, reply = order(client)
        assert (status, reply.get("code")) == (503, "authorize_unavailable"), (status, reply)
        assert headers["content-type"] == "application/json"
    assert len(stack.upstream_requests) == 1
    assert "fail closed" in stack.gateway.error_log()


# ---------------------------------------------------------------------------
# Latency (printed, not asserted).


def test_median_latency_through_the_gateway(stack):
    issued = hmac_key(stack.user)
    client = stack.client(issued)
    order(client)  # warm up: connections to the app and the upstream, caches of the key material
    count, durations, statuses = 200, [], Counter()
    timestamp = int(time.time() * 1000)
    for _ in range(count):
        timestamp = max(timestamp + 1, int(time.time() * 1000))  # distinct: no request is a replay
        prepared = client.prepare("POST", "/api/v3/order", ORDER_PARAMS, BODY, timestamp=timestamp)
        target, body, headers = wire(stack, prepared)
        started = time.perf_counter()
        status, _, _ = send(stack.gateway, "POST", target, body, headers)
        durations.append(time.perf_counter() - started)
        statuses[status] += 1
    # nginx writes the access log line after answering.
    deadline = time.monotonic() + 5
    while stack.gateway.access_log().count("\n") < count + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    authorize_ms = [float(value) for value in re.findall(r"authorize_ms=([\d.]+)", stack.gateway.access_log())]
    durations_ms = sorted(duration * 1000 for duration in durations)
    print(f"\n{count} signed orders through nginx -> real authorize ({db.engine.dialect.name}) -> stub upstream: "
          f"median {statistics.median(durations_ms):.2f} ms, p90 {durations_ms[int(count * 0.9) - 1]:.2f} ms, "
          f"max {durations_ms[-1]:.2f} ms; authorize call median "
          f"{statistics.median(authorize_ms[-count:]) if authorize_ms else float('nan'):.2f} ms; statuses "
          f"{dict(statuses)}")
    assert statuses == Counter({200: count}), statuses
    assert len(stack.upstream_requests) == count + 1
