"""The format of API keys and service tokens: a recognisable prefix, 256 bits of randomness in base62
and a CRC32 checksum, so a malformed or leaked credential is recognised without a database look-up (as
GitHub's tokens are). Stored only as a SHA-256 hash; the short public identifier (prefix and the first
eight characters) is what pages and logs show."""

from __future__ import annotations

import hashlib
import secrets
import zlib
from functools import lru_cache

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ALPHABET_SET = frozenset(ALPHABET)
RANDOM_CHARS = 43  # 62**43 > 2**256
CHECKSUM_CHARS = 6  # 62**6 > 2**32
PUBLIC_CHARS = 8
API_KEY_PREFIX = "mxk_"
SERVICE_TOKEN_PREFIX = "mxs_"  # noqa: S105 (a prefix, not a secret)


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        chars.append(ALPHABET[rest])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), CHECKSUM_CHARS)


def new_token(prefix: str) -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_CHARS))
    return f"{prefix}{body}{_checksum(body)}"


def well_formed(token: str, prefix: str) -> bool:
    """Prefix, length, alphabet and checksum: all checked without the database."""
    if not isinstance(token, str) or len(token) != len(prefix) + RANDOM_CHARS + CHECKSUM_CHARS:
        return False
    return _well_formed(token, prefix)


# Every signed request presents its key and the gateway's token: the same few strings again and again.
@lru_cache(maxsize=65536)
def _well_formed(token: str, prefix: str) -> bool:
    if not token.startswith(prefix):
        return False
    body, checksum = token[len(prefix):-CHECKSUM_CHARS], token[-CHECKSUM_CHARS:]
    if not _ALPHABET_SET.issuperset(body + checksum):  # checked on every authorize call: a set, not a loop
        return False
    return secrets.compare_digest(_checksum(body), checksum)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def public_id(token: str) -> str:
    """What may be shown and logged: the prefix and the first characters, never the whole token."""
    prefixlen = token.index("_") + 1 if "_" in token[:5] else 0
    return token[: prefixlen + PUBLIC_CHARS]
