#!/usr/bin/env python3
"""A market maker's client for the exchange's signed API (MEXC / Binance spot API v3 signing).

Standard library only, plus `cryptography` for Ed25519 keys.

- The API key travels in a request header (default `X-MEXC-APIKEY`).
- `timestamp` (ms since the epoch) and, when set, `recvWindow` (at most 60000) are added to the query.
- The total parameter string is the query string exactly as sent, without `signature`, immediately
  followed by the raw body. HMAC keys sign it with HMAC-SHA256 (lowercase hex); Ed25519 keys with an
  Ed25519 signature in base64, percent-encoded in the query string.
- `signature` is the last query parameter.

    python examples/mm_client.py --base-url https://api.example.exchange --api-key mxk_... \\
        POST /api/v3/order symbol=BTCUSDT side=BUY type=LIMIT quantity=1 price=100

The HMAC secret comes from `--secret-file` or the MM_API_SECRET environment variable (a secret on the
command line shows in `ps`; `--secret` exists for quick trials). `--ed25519-key PEM_FILE` signs with
Ed25519 instead. `--dry-run` prints the signed request without sending it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlencode

DEFAULT_HEADER = "X-MEXC-APIKEY"
MAX_RECV_WINDOW = 60000

Params = Mapping[str, object] | Iterable[tuple[str, object]] | None


def sign_hmac(secret: str | bytes, total_params: str | bytes) -> str:
    """HMAC-SHA256 of the total parameter string, lowercase hex."""
    key = secret.encode() if isinstance(secret, str) else secret
    message = total_params.encode() if isinstance(total_params, str) else total_params
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def load_ed25519_private_key(key):
    """An Ed25519 private key from a PEM (str or bytes), 32 raw bytes, or a key object."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    if isinstance(key, Ed25519PrivateKey):
        return key
    if isinstance(key, str):
        key = key.encode()
    if isinstance(key, bytes) and key.lstrip().startswith(b"-----BEGIN"):
        loaded = load_pem_private_key(key, password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError("the PEM key is not an Ed25519 private key")
        return loaded
    if isinstance(key, bytes) and len(key) == 32:
        return Ed25519PrivateKey.from_private_bytes(key)
    raise ValueError("give an Ed25519 private key as PEM, as 32 raw bytes, or as a key object")


def sign_ed25519(private_key, total_params: str | bytes) -> str:
    """Ed25519 signature of the total parameter string, base64 (not yet percent-encoded)."""
    message = total_params.encode() if isinstance(total_params, str) else total_params
    return base64.b64encode(load_ed25519_private_key(private_key).sign(message)).decode("ascii")


def _pairs(params: Params) -> list[tuple[str, str]]:
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    pairs = []
    for name, value in items:
        if name in ("signature", "timestamp", "recvWindow"):
            raise ValueError(f"{name!r} is added by the client; do not pass it")
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append((str(name), str(value)))
    return pairs


def _body_bytes(body: bytes | str | None) -> bytes:
    if body is None:
        return b""
    return body.encode() if isinstance(body, str) else body


def signed_query(
    params: Params,
    body: bytes | str | None = None,
    *,
    secret: str | bytes | None = None,
    ed25519_private_key=None,
    timestamp: int | None = None,
    recv_window: int | None = None,
) -> str:
    """The query string to send: params, `recvWindow` when set, `timestamp` (now unless given), then
    `signature` over that query string immediately followed by the body."""
    if (secret is None) == (ed25519_private_key is None):
        raise ValueError("give exactly one of secret (HMAC) and ed25519_private_key")
    pairs = _pairs(params)
    if recv_window is not None:
        if not 0 < int(recv_window) <= MAX_RECV_WINDOW:
            raise ValueError(f"recvWindow must be between 1 and {MAX_RECV_WINDOW} ms")
        pairs.append(("recvWindow", str(int(recv_window))))
    pairs.append(("timestamp", str(int(time.time() * 1000) if timestamp is None else int(timestamp))))
    query = urlencode(pairs, quote_via=quote, safe="")
    total = query.encode("ascii") + _body_bytes(body)
    if secret is not None:
        signature = sign_hmac(secret, total)
    else:
        signature = quote(sign_ed25519(ed25519_private_key, total), safe="")
    return f"{query}&signature={signature}"


class Client:
    """Sends signed requests: `Client(url, key, secret=...).request("POST", "/api/v3/order", {...})`."""

    def __init__(self, base_url: str, api_key: str, *, secret: str | bytes | None = None, ed25519_private_key=None,
                 header: str = DEFAULT_HEADER, recv_window: int | None = None, timeout: float = 10.0,
                 headers: Mapping[str, str] | None = None):
        if (secret is None) == (ed25519_private_key is None):
            raise ValueError("give exactly one of secret (HMAC) and ed25519_private_key")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.secret = secret
        self.ed25519_private_key = (None if ed25519_private_key is None
                                    else load_ed25519_private_key(ed25519_private_key))
        self.header = header
        self.recv_window = recv_window
        self.timeout = timeout
        self.headers = dict(headers or {})  # sent with every request (e.g. User-Agent)

    def prepare(self, method: str, path: str, params: Params = None, body: bytes | str | None = None,
                *, timestamp: int | None = None) -> urllib.request.Request:
        """The signed request, not sent."""
        if not path.startswith("/"):
            raise ValueError("path must start with /")
        data = _body_bytes(body)
        query = signed_query(params, data, secret=self.secret, ed25519_private_key=self.ed25519_private_key,
                             timestamp=timestamp, recv_window=self.recv_window)
        url = f"{self.base_url}{path}?{query}"
        request = urllib.request.Request(url, data=data or None, method=method.upper())  # noqa: S310 (http/https only)
        for name, value in self.headers.items():
            request.add_header(name, value)
        request.add_header(self.header, self.api_key)
        request.add_header("Accept", "application/json")
        if data:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        return request

    def request(self, method: str, path: str, params: Params = None, body: bytes | str | None = None,
                ) -> tuple[int, dict[str, str], bytes]:
        """Sign and send; (status, headers, body) whatever the status."""
        prepared = self.prepare(method, path, params, body)
        try:
            with urllib.request.urlopen(prepared, timeout=self.timeout) as response:  # noqa: S310 (http/https only)
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers.items()), error.read()


def _parse_param(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"parameters are NAME=VALUE, not {text!r}")
    return name, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Send one signed request to the exchange's API.")
    parser.add_argument("--base-url", required=True, help="e.g. https://api.example.exchange")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--secret", help="HMAC secret (prefer --secret-file or MM_API_SECRET)")
    parser.add_argument("--secret-file", help="file holding the HMAC secret")
    parser.add_argument("--ed25519-key", metavar="PEM_FILE", help="Ed25519 private key (PEM) instead of HMAC")
    parser.add_argument("--header", default=DEFAULT_HEADER, help="API key header (default %(default)s)")
    parser.add_argument("--recv-window", type=int, help="recvWindow in ms (at most 60000)")
    parser.add_argument("--body", help="raw request body (signed after the query string)")
    parser.add_argument("--dry-run", action="store_true", help="print the signed request instead of sending it")
    parser.add_argument("method")
    parser.add_argument("path")
    parser.add_argument("params", nargs="*", type=_parse_param, metavar="NAME=VALUE")
    args = parser.parse_args(argv)

    secret = args.secret
    if args.secret_file:
        with open(args.secret_file) as handle:
            secret = handle.read().strip()
    if secret is None and not args.ed25519_key:
        secret = os.environ.get("MM_API_SECRET")
    private_key = None
    if args.ed25519_key:
        if secret is not None and (args.secret or args.secret_file):
            parser.error("give either an HMAC secret or --ed25519-key, not both")
        secret = None
        with open(args.ed25519_key, "rb") as handle:
            private_key = handle.read()
    if secret is None and private_key is None:
        parser.error("no key to sign with: --secret-file, MM_API_SECRET, --secret or --ed25519-key")

    client = Client(args.base_url, args.api_key, secret=secret, ed25519_private_key=private_key,
                    header=args.header, recv_window=args.recv_window)
    if args.dry_run:
        prepared = client.prepare(args.method, args.path, args.params, args.body)
        print(f"{prepared.get_method()} {prepared.full_url}")
        print(f"{args.header}: {args.api_key}")
        if args.body:
            print()
            print(args.body)
        return 0
    status, headers, body = client.request(args.method, args.path, args.params, args.body)
    print(f"HTTP {status}", file=sys.stderr)
    try:
        print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
    except ValueError:
        sys.stdout.write(body.decode("utf-8", errors="replace"))
    return 0 if 200 <= status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
