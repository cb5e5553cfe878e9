"""The API gateway through a real nginx + njs (deploy/nginx/), against a stub authorize API, and the
example market-maker client's signing (examples/mm_client.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .conftest import wait_until
from .gateway import (
    KEY_HEADER,
    StubAuthorize,
    StubUpstream,
    allowed,
    free_port,
    refused,
    running_gateway,
    send,
    send_raw,
    start_gateway,
)

ROOT = Path(__file__).resolve().parent.parent


def _load_client():
    spec = importlib.util.spec_from_file_location("mm_client", ROOT / "examples" / "mm_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mm = _load_client()

TOKEN = "svc_" + "Tk9" * 12
# Binance's public documentation, "SIGNED endpoint examples for POST /api/v3/order".
BINANCE_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
BINANCE_PARAMS = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
                  "&timestamp=1499827319559")
BINANCE_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"

UNAUTHENTICATED = ["malformed_key", "unknown_key", "bad_signature", "stale_timestamp", "replayed"]
FORBIDDEN = ["key_revoked", "key_expired", "key_frozen", "institution_frozen", "institution_restricted",
             "rules_not_agreed", "ip_not_allowed", "scope_not_granted"]


def split_signature(query: str) -> tuple[str, str]:
    parts = query.split("&")
    assert parts[-1].startswith("signature="), "signature must be the last parameter"
    return "&".join(parts[:-1]), parts[-1][len("signature="):]


# ---------------------------------------------------------------------------
# The example client's signing.


def test_hmac_signature_matches_binance_documentation_example():
    assert mm.sign_hmac(BINANCE_SECRET, BINANCE_PARAMS) == BINANCE_SIGNATURE
    params = [("symbol", "LTCBTC"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "1"), ("price", "0.1")]
    query = mm.signed_query(params, secret=BINANCE_SECRET, timestamp=1499827319559, recv_window=5000)
    assert query == f"{BINANCE_PARAMS}&signature={BINANCE_SIGNATURE}"


def test_hmac_signature_covers_query_then_body_without_separator():
    # Binance's "mixed query string and request body" example.
    total = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
             "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559")
    assert mm.sign_hmac(BINANCE_SECRET, total) == "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    body = b"quantity=1&price=0.1"
    query = mm.signed_query({"symbol": "LTCBTC"}, body, secret=BINANCE_SECRET, timestamp=1499827319559)
    rest, signature = split_signature(query)
    assert rest == "symbol=LTCBTC&timestamp=1499827319559"
    assert signature == hmac.new(BINANCE_SECRET.encode(), rest.encode() + body, hashlib.sha256).hexdigest()


def test_ed25519_signature_round_trip():
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    raw = private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())
    body = '{"note":"Grüße"}'
    query = mm.signed_query({"symbol": "BTCUSDT", "side": "SELL"}, body, ed25519_private_key=pem,
                            timestamp=1733300000000, recv_window=10000)
    rest, encoded = split_signature(query)
    assert rest == "symbol=BTCUSDT&side=SELL&recvWindow=10000&timestamp=1733300000000"
    assert "+" not in encoded and "/" not in encoded and "=" not in encoded  # percent-encoded base64
    signature = base64.b64decode(unquote(encoded), validate=True)
    private_key.public_key().verify(signature, rest.encode() + body.encode())  # raises if invalid
    # Ed25519 is deterministic: PEM (str or bytes), raw bytes and the key object sign alike.
    total = rest + body
    expected = base64.b64encode(signature).decode()
    for form in (pem, pem.decode(), raw, private_key):
        assert mm.sign_ed25519(form, total) == expected


def test_signed_query_refuses_what_the_server_would_refuse():
    with pytest.raises(ValueError):
        mm.signed_query({"a": "1"})  # no key
    with pytest.raises(ValueError):
        mm.signed_query({"a": "1"}, secret="s", ed25519_private_key=Ed25519PrivateKey.generate())
    with pytest.raises(ValueError):
        mm.signed_query({"a": "1"}, secret="s", recv_window=60001)
    with pytest.raises(ValueError):
        mm.signed_query({"timestamp": "1"}, secret="s")
    query = mm.signed_query({"note": "a b/c+d€"}, secret="s", timestamp=1)
    assert query.startswith("note=a%20b%2Fc%2Bd%E2%82%AC&timestamp=1&signature=")


def test_client_prepares_a_signed_request_without_sending_it():
    client = mm.Client("http://gateway.invalid/", "mxk_AbCdEf12", secret=BINANCE_SECRET, recv_window=5000)
    prepared = client.prepare("post", "/api/v3/order", {"symbol": "LTCBTC"}, "quantity=1", timestamp=1499827319559)
    assert prepared.get_method() == "POST"
    assert prepared.full_url.startswith("http://gateway.invalid/api/v3/order?symbol=LTCBTC&recvWindow=5000&"
                                        "timestamp=1499827319559&signature=")
    assert prepared.get_header(KEY_HEADER.capitalize()) == "mxk_AbCdEf12"
    assert prepared.data == b"quantity=1"


def test_cli_dry_run_prints_the_signed_request(capsys, monkeypatch):
    monkeypatch.setenv("MM_API_SECRET", BINANCE_SECRET)
    assert mm.main(["--base-url", "http://gateway.invalid", "--api-key", "mxk_AbCdEf12", "--recv-window", "5000",
                    "--dry-run", "POST", "/api/v3/order", "symbol=LTCBTC", "side=BUY"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("POST http://gateway.invalid/api/v3/order?symbol=LTCBTC&side=BUY&recvWindow=5000&timestamp=")
    assert "&signature=" in out and "X-MEXC-APIKEY: mxk_AbCdEf12" in out


# ---------------------------------------------------------------------------
# Through nginx.


@pytest.fixture(scope="module")
def module_authorize():
    stub = StubAuthorize(TOKEN)
    yield stub
    stub.stop()


@pytest.fixture(scope="module")
def module_gateway(module_authorize):
    gw = start_gateway(module_authorize.url, TOKEN, authorize_timeout="1s")
    yield gw
    gw.stop()


@pytest.fixture
def authorize(module_authorize):
    """The stub authorize API, with empty records and the default table (unknown keys refused)."""
    module_authorize.token = TOKEN
    module_authorize.decisions.clear()
    module_authorize.default = lambda question: refused("unknown_key")
    module_authorize.calls.clear()
    module_authorize.delay = 0.0
    return module_authorize


@pytest.fixture
def gateway(module_gateway, authorize):
    """nginx in front of the stub trading upstream (records emptied), asking the stub authorize API."""
    module_gateway.upstream.requests.clear()
    module_gateway.upstream.status = 200
    return module_gateway


def call(gateway, method="POST", target="/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=00", body=b"",
         key="mxk_good", headers=None):
    all_headers = {KEY_HEADER: key} if key is not None else {}
    all_headers.update(headers or {})
    status, response_headers, data = send(gateway, method, target, body, all_headers)
    return status, response_headers, json.loads(data) if data else None


def test_allowed_request_reaches_upstream_with_exact_body_and_identity(gateway, authorize):
    decision = allowed("mxk_AbCdEf12", 3, decision_id="dec_allowed1")
    authorize.decisions["mxk_good"] = decision
    body = json.dumps({"clientOrderId": "mm-1", "note": "Grüße ☃", "pad": "x" * 5000}).encode()
    target = ("/api/v3/order?symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=100&timestamp=1733300000000"
              "&signature=ab")
    status, headers, echo = call(gateway, "POST", target, body,
                                 headers={"X-Institution-Id": "999", "X-Api-Key-Id": "mxk_spoofed",
                                          "Content-Type": "application/json"})

    assert status == 200, (echo, gateway.error_log())
    assert headers["x-upstream"] == "stub-trading"
    assert headers["x-authorize-decision"] == "dec_allowed1"
    [seen] = gateway.upstream_requests
    assert seen["method"] == "POST" and seen["target"] == target
    assert seen["body_sha256"] == hashlib.sha256(body).hexdigest() == echo["body_sha256"]
    assert seen["body"] == body
    # The caller's identity comes from the decision; the client's own copies were dropped.
    assert (seen["institution_id"], seen["api_key_id"], seen["rate_tier"], seen["decision_id"]) == (
        "3", "mxk_AbCdEf12", "professional", "dec_allowed1")
    assert seen["headers"]["x-real-ip"] == "127.0.0.1"
    assert seen["headers"]["content-type"] == "application/json"

    [call_] = authorize.calls
    assert call_["path"] == "/api/v1/authorize"
    assert call_["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert call_["headers"]["content-type"] == "application/json"
    assert call_["question"] == {
        "method": "POST", "path": "/api/v3/order", "query": target.split("?", 1)[1], "body": body.decode(),
        "headers": {KEY_HEADER: "mxk_good"}, "client_ip": "127.0.0.1",
    }
    # nginx logs after answering: wait for the line.
    log = wait_until(lambda: "decision=dec_allowed1" in gateway.access_log() and gateway.access_log(),
                     timeout=5, message="the access log line")
    assert "institution=3 key=mxk_AbCdEf12" in log
    assert TOKEN not in log and TOKEN not in gateway.error_log()


def test_get_and_delete_are_forwarded_with_their_method_and_no_body(gateway, authorize):
    authorize.default = lambda question: allowed()
    for method in ("GET", "DELETE"):
        status, _, echo = call(gateway, method, "/api/v3/openOrders?symbol=BTCUSDT&timestamp=1&signature=00")
        assert status == 200, gateway.error_log()
        assert echo["method"] == method and echo["body_sha256"] == hashlib.sha256(b"").hexdigest()
    assert [q["method"] for q in authorize.questions] == ["GET", "DELETE"]
    assert all(q["body"] == "" for q in authorize.questions)


def test_upstream_answer_passes_through(gateway, authorize):
    authorize.default = lambda question: allowed()
    gateway.upstream.status = 400
    status, headers, echo = call(gateway)
    assert status == 400 and headers["x-upstream"] == "stub-trading" and echo["path"] == "/api/v3/order"


def test_largest_body_and_chunked_body_arrive_whole(gateway, authorize):
    authorize.default = lambda question: allowed()
    body = ("quantity=1&price=0.1&pad=" + "ab" * 40000)[: 64 * 1024].encode()
    status, _, echo = call(gateway, body=body)
    assert status == 200 and echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert authorize.questions[-1]["body"] == body.decode()

    chunked = b"quantity=1&price=0.1&" + b"z" * 3000
    wire = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (chunked[:1000], chunked[1000:])) + b"0\r\n\r\n"
    status, _, data = send_raw(gateway, (
        b"POST /api/v3/order?timestamp=1&signature=00 HTTP/1.1\r\nHost: x\r\nX-MEXC-APIKEY: mxk_good\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + wire))
    assert status == 200 and json.loads(data)["body_sha256"] == hashlib.sha256(chunked).hexdigest()
    assert authorize.questions[-1]["body"] == chunked.decode()


def test_body_over_the_limit_is_refused_before_authorize(gateway, authorize):
    authorize.default = lambda question: allowed()
    status, _, answer = call(gateway, body=b"x" * (64 * 1024 + 1))
    assert status == 413 and answer["code"] == "body_too_large"
    assert authorize.calls == [] and gateway.upstream_requests == []


@pytest.mark.parametrize("reason", UNAUTHENTICATED + FORBIDDEN)
def test_refusal_answers_reason_and_status_and_forwards_nothing(gateway, authorize, reason):
    authorize.decisions["mxk_good"] = refused(reason, decision_id="dec_refused1")
    status, headers, answer = call(gateway, body=b"quantity=1")
    assert status == (401 if reason in UNAUTHENTICATED else 403)
    assert answer["code"] == reason and answer["decision_id"] == "dec_refused1" and answer["msg"]
    assert headers["content-type"] == "application/json"
    assert headers["x-authorize-decision"] == "dec_refused1"
    assert len(authorize.calls) == 1
    assert gateway.upstream_requests == []


def test_unknown_refusal_reason_is_forbidden(gateway, authorize):
    authorize.decisions["mxk_good"] = refused("some_new_reason")
    status, _, answer = call(gateway)
    assert status == 403 and answer["code"] == "some_new_reason"
    assert gateway.upstream_requests == []


def test_authorize_down_fails_closed():
    upstream = StubUpstream()
    try:
        with running_gateway(f"http://127.0.0.1:{free_port()}", TOKEN, upstream=upstream) as gw:
            for _ in range(3):  # and stays closed: no retry elsewhere, no cached "allowed"
                status, headers, answer = call(gw)
                assert status == 503 and answer["code"] == "authorize_unavailable"
                assert headers["content-type"] == "application/json"
            assert "fail closed" in gw.error_log()
        assert upstream.requests == []
    finally:
        upstream.stop()


def _not_json(question):
    return (200, b"<html>maintenance</html>")


@pytest.mark.parametrize("answer", [
    (500, {"error": {"code": "internal", "message": "boom", "fields": {}}}),
    (400, {"error": {"code": "invalid", "message": "bad question", "fields": {"query": "missing"}}}),
    (404, {"error": {"code": "not_found", "message": "", "fields": {}}}),
    _not_json,
    {"reason": "ok"},  # no "allowed"
    {"allowed": "true", "reason": "ok", "decision_id": "dec_1"},  # not a boolean
    {"allowed": True, "reason": "ok", "decision_id": "dec_1"},  # allowed, but for whom?
    {**allowed(), "key": {"id": "mxk_a\r\nX-Injected: 1", "scopes": []}},  # no header injection
], ids=["500", "400", "404", "not-json", "no-allowed", "allowed-string", "no-identity", "header-injection"])
def test_unusable_authorize_answer_fails_closed(gateway, authorize, answer):
    authorize.decisions["mxk_good"] = answer
    status, _, reply = call(gateway)
    assert status == 503 and reply["code"] == "authorize_unavailable"
    assert gateway.upstream_requests == []


def test_wrong_service_token_fails_closed(gateway, authorize):
    authorize.decisions["mxk_good"] = allowed()
    authorize.token = "svc_" + "other" * 6
    status, _, reply = call(gateway)
    assert status == 503 and reply["code"] == "authorize_unavailable"
    assert authorize.calls[0]["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert gateway.upstream_requests == []


def test_slow_authorize_times_out_closed(gateway, authorize):
    authorize.decisions["mxk_good"] = allowed()
    authorize.delay = 1.5  # the gateway waits 1s
    started = time.monotonic()
    status, _, reply = call(gateway)
    assert status == 503 and reply["code"] == "authorize_unavailable"
    assert time.monotonic() - started < 1.45
    assert gateway.upstream_requests == []
    time.sleep(0.6)  # let the slow answer finish before the next test
    assert "timed out" in gateway.error_log()


@pytest.mark.parametrize("query", [
    "path=a%2Fb&note=a+b%20c&x=%E2%82%AC&empty=&flag&dup=1&dup=2&timestamp=1&signature=00",
    "symbol=BTCUSDT&sig=abc%2B%2F%3D&signature=QUJD%2BZGVm%2F%3D%3D",
    "timestamp=1&signature=00&signature=11",
    "",
])
def test_query_reaches_authorize_and_upstream_exactly_as_sent(gateway, authorize, query):
    authorize.default = lambda question: allowed()
    target = "/api/v3/order" + (f"?{query}" if query else "")
    status, _, echo = call(gateway, "GET", target)
    assert status == 200, gateway.error_log()
    assert authorize.questions[-1]["query"] == query
    assert echo["query"] == query and gateway.upstream_requests[-1]["target"] == target


def test_raw_non_ascii_query_reaches_authorize_as_sent(gateway, authorize):
    authorize.default = lambda question: allowed()
    query = "note=Grüße€&timestamp=1&signature=00"
    status, _, data = send_raw(gateway, (f"GET /api/v3/order?{query} HTTP/1.1\r\nHost: x\r\n"
                                         f"{KEY_HEADER}: mxk_good\r\nConnection: close\r\n\r\n").encode())
    assert status == 200, gateway.error_log()
    assert authorize.questions[-1]["query"] == query
    assert gateway.upstream_requests[-1]["query"].encode("latin-1") == query.encode()  # same bytes upstream


@pytest.mark.parametrize("path", ["/api/v3/%6Frder", "/api/v3/./order", "/api/v3/x/../order", "/api//v3/order",
                                  "/api/v3/order%3Fa=1"])
def test_path_that_nginx_would_normalise_is_refused(gateway, authorize, path):
    authorize.default = lambda question: allowed()
    status, _, reply = call(gateway, "GET", path + "?timestamp=1&signature=00")
    assert status == 400 and reply["code"] == "malformed_path"
    assert authorize.calls == [] and gateway.upstream_requests == []


def test_api_key_header_missing_or_repeated_is_refused_before_authorize(gateway, authorize):
    authorize.default = lambda question: allowed()
    status, _, reply = call(gateway, key=None)
    assert status == 401 and reply["code"] == "malformed_key"
    status, _, data = send_raw(gateway, (b"GET /api/v3/order?timestamp=1 HTTP/1.1\r\nHost: x\r\n"
                                         b"X-MEXC-APIKEY: mxk_a\r\nx-mexc-apikey: mxk_b\r\nConnection: close\r\n\r\n"))
    assert status == 401 and json.loads(data)["code"] == "malformed_key"
    assert authorize.calls == [] and gateway.upstream_requests == []
    # The header name is case-insensitive; authorize gets it under its canonical name.
    status, _, _ = call(gateway, key=None, headers={"x-mexc-apikey": "mxk_lower"})
    assert status == 200
    assert authorize.questions[-1]["headers"] == {KEY_HEADER: "mxk_lower"}


def test_body_that_is_not_utf8_is_refused(gateway, authorize):
    authorize.default = lambda question: allowed()
    status, _, reply = call(gateway, body=b"quantity=1&note=\xff\xfe")
    assert status == 400 and reply["code"] == "malformed_body"
    assert authorize.calls == [] and gateway.upstream_requests == []


def test_internal_locations_and_other_paths_are_not_reachable(gateway, authorize):
    authorize.default = lambda question: allowed()
    for target in ("/_authorize", "/@trading", "/", "/healthz"):
        status, _, reply = call(gateway, "POST", target, b"{}")
        assert status == 404 and reply["code"] == "not_found", target
    assert authorize.calls == [] and gateway.upstream_requests == []


def test_client_ip_is_the_peer_unless_a_trusted_proxy_says_otherwise(gateway, authorize):
    authorize.default = lambda question: allowed()
    status, _, _ = call(gateway, headers={"X-Forwarded-For": "203.0.113.10", "X-Real-IP": "203.0.113.11"})
    assert status == 200 and authorize.questions[-1]["client_ip"] == "127.0.0.1"  # a client cannot pick its IP
    assert gateway.upstream_requests[-1]["headers"]["x-forwarded-for"] == "127.0.0.1"
    # Behind a load balancer (here: 127.0.0.1) that nginx is told to trust, its X-Forwarded-For counts.
    with running_gateway(authorize.url, TOKEN, real_ip_from=["127.0.0.1"]) as behind_proxy:
        status, _, _ = call(behind_proxy, headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.10"})
        assert status == 200 and authorize.questions[-1]["client_ip"] == "203.0.113.10"
        assert behind_proxy.upstream_requests[-1]["headers"]["x-real-ip"] == "203.0.113.10"


def test_trading_upstream_down_answers_502_after_allowed(authorize):
    authorize.decisions["mxk_good"] = allowed(decision_id="dec_updown")
    upstream = StubUpstream()
    upstream.stop()
    with running_gateway(authorize.url, TOKEN, upstream=upstream) as gw:
        status, headers, reply = call(gw)
    assert status == 502 and reply["code"] == "upstream_unavailable"
    assert headers["x-authorize-decision"] == "dec_updown"


# ---------------------------------------------------------------------------
# The example client end to end: it signs, nginx carries, the stub verifies the signature itself.


def verifying(hmac_secrets: dict[str, str], ed25519_keys: dict[str, object]):
    def decide(question):
        key = question["headers"][KEY_HEADER]
        rest, signature = split_signature(question["query"])
        total = (rest + question["body"]).encode()
        if key in hmac_secrets:
            good = hmac.compare_digest(hmac.new(hmac_secrets[key].encode(), total, hashlib.sha256).hexdigest(),
                                       signature.lower())
        elif key in ed25519_keys:
            try:
                ed25519_keys[key].verify(base64.b64decode(unquote(signature), validate=True), total)
                good = True
            except Exception:  # noqa: BLE001 (any failure is a bad signature)
                good = False
        else:
            return refused("unknown_key")
        return allowed(key.replace("mxk_", "kid_")) if good else refused("bad_signature")
    return decide


def test_example_client_through_the_gateway(gateway, authorize):
    secret = "hmac-secret-0123456789abcdef"
    private_key = Ed25519PrivateKey.generate()
    authorize.default = verifying({"mxk_hmac": secret}, {"mxk_ed": private_key.public_key()})
    body = "quantity=1&price=100.5&note=Grüße"

    hmac_client = mm.Client(gateway.url, "mxk_hmac", secret=secret, recv_window=5000)
    status, headers, data = hmac_client.request("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY"}, body)
    assert status == 200, (data, gateway.error_log())
    assert json.loads(data)["body_sha256"] == hashlib.sha256(body.encode()).hexdigest()
    assert gateway.upstream_requests[-1]["api_key_id"] == "kid_hmac"

    ed_client = mm.Client(gateway.url, "mxk_ed", ed25519_private_key=private_key)
    status, _, data = ed_client.request("DELETE", "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", "42")])
    assert status == 200, data
    assert gateway.upstream_requests[-1]["api_key_id"] == "kid_ed"

    wrong = mm.Client(gateway.url, "mxk_hmac", secret="not-the-secret")
    status, _, data = wrong.request("POST", "/api/v3/order", {"symbol": "BTCUSDT"}, body)
    assert status == 401 and json.loads(data)["code"] == "bad_signature"

    # A body changed after signing does not pass.
    request = hmac_client.prepare("POST", "/api/v3/order", {"symbol": "BTCUSDT"}, body)
    target = request.full_url.removeprefix(gateway.url)
    status, _, reply = call(gateway, "POST", target, body.replace("100.5", "1000.5").encode(), key="mxk_hmac")
    assert status == 401 and reply["code"] == "bad_signature"
    assert len(gateway.upstream_requests) == 2


# ---------------------------------------------------------------------------
# The renderer.


def test_renderer_fills_every_placeholder_and_refuses_unsafe_values(tmp_path):
    from .gateway import render

    token_file = render.write_token_file(tmp_path / "token.conf", TOKEN)
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert token_file.read_text() == f'proxy_set_header Authorization "Bearer {TOKEN}";\n'
    common = {"prefix": tmp_path, "listen": "127.0.0.1:8080", "trading": "10.0.0.7:9000", "token_file": token_file}
    text = render.render(authorize_url="https://onboarding.internal:8443/base", **common)
    assert "@@" not in text and TOKEN not in text
    assert "proxy_pass https://authorize_api/base/api/v1/authorize;" in text
    assert "proxy_ssl_verify on;" in text and "server onboarding.internal:8443;" in text
    assert "proxy_ssl_verify" not in render.render(authorize_url="http://10.0.0.5:8000", **common)
    for bad in ({"authorize_url": "ftp://x"}, {"authorize_url": "http://x:1/?q=1"},
                {"authorize_url": "http://x:1", "key_header": 'X-Key"; evil'},
                {"authorize_url": "http://x:1", "trading": "10.0.0.7:9000; include /etc/shadow"},
                {"authorize_url": "http://x:1", "max_body": "1g;"}):
        with pytest.raises(ValueError):
            render.render(**{**common, **bad})
    for token in ('abc"def' * 4, "short", "a b" * 10, "x;" * 10):
        with pytest.raises(ValueError):
            render.token_include(token)
