"""A stand-in for the exchange's trading system behind the local gateway (`make run`): it answers every
request the gateway lets through with what it received and who the gateway says is calling.
Standard library only; for demonstrations, never for production."""

from __future__ import annotations

import argparse
import hashlib
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        payload = {
            "demo_exchange": "request accepted (no order is placed: this is the demo trading system)",
            "method": self.command, "path": url.path, "query": url.query,
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "institution_id": self.headers.get("X-Institution-Id"), "api_key_id": self.headers.get("X-Api-Key-Id"),
            "rate_tier": self.headers.get("X-Rate-Tier"), "decision": self.headers.get("X-Authorize-Decision"),
        }
        data = json.dumps(payload, indent=2).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PUT = _answer  # noqa: N815 (http.server's naming)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9090)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
