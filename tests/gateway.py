"""The API gateway under test: a real nginx (with njs) rendered from deploy/nginx/, in its own prefix
in a temporary directory on a free local port, in front of a stub trading upstream.

    gateway = start_gateway(authorize_url, service_token)   # any authorize API: the stub or the app
    status, headers, body = send(gateway, "POST", "/api/v3/order?...", b"...", {"X-MEXC-APIKEY": ...})
    gateway.upstream_requests   # what reached the trading upstream
    gateway.stop()

`StubAuthorize` stands in for `POST /api/v1/authorize` (checks the bearer token, answers from a table);
`AppServer(app)` serves the real app on a socket for tests against the real one; `StubUpstream` records
and echoes what the gateway forwards."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import http.client
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .services import free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy" / "nginx"
NJS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")
NGINX_CANDIDATES = ["/usr/sbin/nginx"]
KEY_HEADER = "X-MEXC-APIKEY"


def _load_renderer():
    spec = importlib.util.spec_from_file_location("gateway_render", DEPLOY / "render.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render = _load_renderer()


def nginx_binary() -> str:
    """The nginx executable, or a clear failure naming the Debian packages to install."""
    binary = shutil.which("nginx") or next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)
    if not binary:
        raise RuntimeError("nginx is not installed: run `make test` (or `apt-get install nginx libnginx-mod-http-js`)")
    if not NJS_MODULE.exists():
        raise RuntimeError(f"the njs module {NJS_MODULE} is missing: run `make test` "
                           "(or `apt-get install libnginx-mod-http-js`)")
    return binary


# ---------------------------------------------------------------------------
# Small recording HTTP servers in threads.


class _Server:
    handler_class: type[BaseHTTPRequestHandler]

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler_class)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as nginx's upstream keepalive expects
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms delayed-ACK stall

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, payload, extra_headers: dict | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _UpstreamHandler(_Handler):
    def handle_any(self) -> None:
        server: StubUpstream = self.server.owner
        body = self.read_body()
        path, _, query = self.path.partition("?")
        seen = {
            "method": self.command,
            "target": self.path,
            "path": path,
            "query": query,
            "body": body,
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "institution_id": self.headers.get("X-Institution-Id"),
            "api_key_id": self.headers.get("X-Api-Key-Id"),
            "rate_tier": self.headers.get("X-Rate-Tier"),
            "decision_id": self.headers.get("X-Authorize-Decision"),
        }
        with server.lock:
            server.requests.append(seen)
        echo = {key: value for key, value in seen.items() if key not in ("body", "headers")}
        self.send_json(server.status, echo, {"X-Upstream": "stub-trading"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


class StubUpstream(_Server):
    """The trading upstream: records each request and echoes method, path, query, the body's SHA-256
    and the identity headers as JSON (status `self.status`, 200 unless changed)."""

    handler_class = _UpstreamHandler

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        super().__init__()


def allowed(key_id: str = "mxk_AbCdEf12", institution_id: int = 3, *, name: str = "Evergreen Liquidity BV",
            tier: str = "professional", scopes: tuple[str, ...] = ("market:read", "spot:trade"),
            decision_id: str | None = None) -> dict:
    """An "allowed" answer of the authorize API."""
    return {
        "allowed": True, "reason": "ok", "decision_id": decision_id or f"dec_{os.urandom(6).hex()}",
        "institution": {"id": institution_id, "name": name},
        "key": {"id": key_id, "scopes": list(scopes)},
        "rate_tier": {"code": tier, "requests_per_second": 100, "orders_per_second": 50},
    }


def refused(reason: str, *, decision_id: str | None = None) -> dict:
    """A refusal of the authorize API."""
    return {"allowed": False, "reason": reason, "decision_id": decision_id or f"dec_{os.urandom(6).hex()}"}


# An entry of StubAuthorize.decisions: a decision dict (answered with 200), or a function of the
# question returning one, or (status, payload) for anything else.
Decision = dict | Callable[[dict], "dict | tuple[int, object]"] | tuple[int, object]


class _AuthorizeHandler(_Handler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        server: StubAuthorize = self.server.owner
        raw = self.read_body()
        call = {"path": self.path, "headers": {n.lower(): v for n, v in self.headers.items()}, "raw": raw,
                "question": None}
        with server.lock:
            server.calls.append(call)
        if server.delay:
            time.sleep(server.delay)
        if self.path != "/api/v1/authorize":
            return self.send_json(404, {"error": {"code": "not_found", "message": self.path, "fields": {}}})
        if self.headers.get("Authorization") != f"Bearer {server.token}":
            return self.send_json(401, {"error": {"code": "unauthorized", "message": "bad service token",
                                                  "fields": {}}})
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            return self.send_json(415, {"error": {"code": "unsupported_media_type", "message": "JSON only",
                                                  "fields": {}}})
        try:
            question = json.loads(raw)
        except ValueError:
            return self.send_json(400, {"error": {"code": "malformed", "message": "not JSON", "fields": {}}})
        call["question"] = question
        key = (question.get("headers") or {}).get(KEY_HEADER, "")
        entry = server.decisions.get(key, server.default)
        answer = entry(question) if callable(entry) else entry
        status, payload = answer if isinstance(answer, tuple) else (200, answer)
        self.send_json(status, payload)


class StubAuthorize(_Server):
    """Stands in for `POST /api/v1/authorize`: checks `Authorization: Bearer <token>` (401 otherwise),
    records every call, and answers from `decisions` (API key -> Decision; `default` for the rest,
    an unknown_key refusal unless changed). `delay` seconds slows every answer."""

    handler_class = _AuthorizeHandler

    def __init__(self, token: str) -> None:
        self.token = token
        self.decisions: dict[str, Decision] = {}
        self.default: Decision = lambda question: refused("unknown_key")
        self.calls: list[dict] = []
        self.delay = 0.0
        super().__init__()

    @property
    def questions(self) -> list[dict]:
        return [call["question"] for call in self.calls if call["question"] is not None]


class AppServer:
    """The Flask app on a real local socket (werkzeug, threaded) so nginx can reach its authorize API:
    `start_gateway(AppServer(app).url, token)`. Each request runs in its own application context."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# ---------------------------------------------------------------------------
# nginx itself.


_RUNNING: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_leftovers() -> None:
    """nginx runs in the foreground as our child: never leave one behind, even after an interrupted run."""
    for gateway in list(_RUNNING):
        gateway.stop()


class Gateway:
    """A running nginx gateway. `url` is its base URL; `upstream_requests` what reached the trading
    upstream (its own StubUpstream unless one was given); `stop()` ends nginx and removes the prefix."""

    def __init__(self, authorize_url: str, token: str, *, upstream: StubUpstream | None = None,
                 **render_options) -> None:
        self.binary = nginx_binary()
        self.own_upstream = upstream is None
        self.upstream = upstream or StubUpstream()
        self.port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="test-nginx-"))
        # Workers run unprivileged (nobody) when the tests run as root: they must reach the prefix.
        os.chmod(self.prefix, 0o755)  # noqa: S103 (read-only for others)
        self.config = self.prefix / "nginx.conf"
        token_file = render.write_token_file(self.prefix / "authorize-token.conf", token)
        options = {"worker_processes": "1", "error_log_level": "info", **render_options}
        self.config.write_text(render.render(
            prefix=self.prefix, listen=f"127.0.0.1:{self.port}", authorize_url=authorize_url,
            trading=self.upstream.address, token_file=token_file, daemon=False, **options,
        ))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def upstream_requests(self) -> list[dict]:
        return self.upstream.requests

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log(self) -> str:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> Gateway:
        command = [self.binary, "-p", str(self.prefix), "-e", str(self.prefix / "error.log"), "-c", str(self.config)]
        check = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejects the rendered configuration {self.config}:\n{check.stderr}")
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _RUNNING.add(self)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode(errors="replace")
                raise RuntimeError(f"nginx exited with {self.process.returncode}:\n{stderr}\n{self.error_log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nginx did not listen on port {self.port} within 10s:\n{self.error_log()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: fast shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process and self.process.stderr:
            self.process.stderr.close()
        self.process = None
        _RUNNING.discard(self)
        if self.own_upstream:
            self.upstream.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


def start_gateway(authorize_url: str, token: str, *, upstream: StubUpstream | None = None,
                  **render_options) -> Gateway:
    """nginx in front of a stub trading upstream, asking `authorize_url` (the base URL of a service with
    `POST /api/v1/authorize`: StubAuthorize's or the real app's) with `token`. Options go to
    deploy/nginx/render.py's render() (e.g. authorize_timeout="1s", max_body="16k")."""
    return Gateway(authorize_url, token, upstream=upstream, **render_options).start()


@contextlib.contextmanager
def running_gateway(authorize_url: str, token: str, **options) -> Iterator[Gateway]:
    gateway = start_gateway(authorize_url, token, **options)
    try:
        yield gateway
    finally:
        gateway.stop()


# ---------------------------------------------------------------------------
# Talking to it.


def send(gateway: Gateway | str, method: str, target: str, body: bytes | str = b"", headers: dict | None = None,
         *, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request with the request target exactly as given (nothing re-encoded); returns
    (status, headers with lowercase names, body)."""
    base = gateway.url if isinstance(gateway, Gateway) else gateway
    host, port = base.removeprefix("http://").split(":")
    data = body.encode() if isinstance(body, str) else body
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        sent = {name.lower() for name in (headers or {})}
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if "content-length" not in sent and "transfer-encoding" not in sent and (data or method in ("POST", "PUT")):
            connection.putheader("Content-Length", str(len(data)))
        connection.endheaders(data or None)
        response = connection.getresponse()
        return response.status, {n.lower(): v for n, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def send_raw(gateway: Gateway, request: bytes, *, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (e.g. a request line with raw UTF-8) and read one response."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=timeout) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, {n.lower(): v for n, v in response.getheaders()}, response.read()
