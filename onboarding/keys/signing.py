"""The signing scheme market makers' software already speaks: MEXC's and Binance's spot API v3.

- The API key travels in a request header (default `X-MEXC-APIKEY`; `X-MBX-APIKEY` for Binance clients).
- `timestamp` (milliseconds) and optional `recvWindow` (default 5000, at most 60000) are parameters.
- `signature` is computed over the total parameter string: the query string as sent, without the
  `signature` parameter, immediately followed by the raw body. HMAC keys: HMAC-SHA256 in hex (not case
  sensitive). Ed25519 keys: the base64 signature, percent-encoded in the query string.
- A request is on time when `timestamp < now + 1000` and `now - timestamp <= recvWindow`."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
FUTURE_TOLERANCE_MS = 1000


@dataclass(frozen=True)
class SignedRequest:
    total_params: bytes
    signature: str | None
    timestamp: int | None
    recv_window: int | None  # None when given but not a whole number of ms in range


def _without_signature(raw: str) -> tuple[str, str | None]:
    """The parameter string with its `signature` parameter taken out (the rest exactly as sent)."""
    if "signature=" not in raw:
        return raw, None
    kept, signature = [], None
    for part in raw.split("&"):
        if part.startswith("signature=") and signature is None:
            signature = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), signature


_NAMED = ("timestamp", "recvWindow")
MAX_FIELDS = 200  # a parameter string with more fields is not read at all (its timestamp is missing)


def _parameters(query: str, body: str) -> dict[str, str]:
    """The first value of `timestamp` and `recvWindow` in the query, then the body: exactly what
    `parse_qsl(..., keep_blank_values=True, max_num_fields=200)` gives for them, without decoding every
    other parameter on every signed request. A parameter whose NAME is percent- or plus-encoded could be
    either of them, so only then is the whole string parsed."""
    found: dict[str, str] = {}
    for raw in (query, body):
        if raw.count("&") + 1 > MAX_FIELDS:
            continue
        for part in raw.split("&"):
            name, _, value = part.partition("=")
            if "%" in name or "+" in name:
                full = _parsed(query, body)
                return {named: full[named] for named in _NAMED if named in full}
            if name in _NAMED and name not in found:
                found[name] = unquote(value.replace("+", " ")) if ("%" in value or "+" in value) else value
    return found


def _parsed(query: str, body: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for raw in (query, body):
        try:
            for name, value in parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_FIELDS):
                found.setdefault(name, value)
        except ValueError:
            continue
    return found


def read_request(query: str, body: str) -> SignedRequest:
    query_rest, signature = _without_signature(query or "")
    body = body or ""
    if signature is None and "signature=" in body:
        body, signature = _without_signature(body)
    params = _parameters(query_rest, body)
    timestamp = _whole(params.get("timestamp"))
    window = params.get("recvWindow")
    recv_window = DEFAULT_RECV_WINDOW if window is None else _whole(window)
    if recv_window is not None and not 0 < recv_window <= MAX_RECV_WINDOW:
        recv_window = None
    return SignedRequest((query_rest + body).encode(), unquote(signature) if signature else None, timestamp,
                         recv_window)


def _whole(value: str | None) -> int | None:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 16:
        return None
    return int(value)


def on_time(request: SignedRequest, now_ms: int) -> bool:
    if request.timestamp is None or request.recv_window is None:
        return False
    return request.timestamp < now_ms + FUTURE_TOLERANCE_MS and now_ms - request.timestamp <= request.recv_window


def hmac_valid(secret: bytes, request: SignedRequest) -> bool:
    if not request.signature or len(request.signature) != 64:
        return False
    expected = hmac.new(secret, request.total_params, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request.signature.lower())


def ed25519_signature(request: SignedRequest) -> bytes | None:
    if not request.signature:
        return None
    try:
        raw = base64.b64decode(request.signature, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 64 else None


def replay_digest(public_id: str, request: SignedRequest) -> str:
    """The same signed payload under the same key, however its signature is spelled (hex case)."""
    return hashlib.sha256(public_id.encode() + b":" + request.total_params).hexdigest()
