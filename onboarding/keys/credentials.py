"""The secret half of a key: an HMAC secret we generate and seal, or the Ed25519 public key the
institution registers (PEM or raw base64). Opened material is cached per process by key id: it never
changes for a key, unlike its status, which is always read fresh."""

from __future__ import annotations

import base64
import binascii
import secrets
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from ..security import keyring
from .refusals import KeyRefused


def new_hmac_secret() -> str:
    return secrets.token_hex(32)


def associated_data(public_id: str) -> bytes:
    # Binds the sealed secret to its key: copied onto another row it will not open.
    return f"api-key:{public_id}".encode()


def seal_secret(secret: str, public_id: str) -> str:
    return keyring().seal(secret.encode(), associated_data(public_id))


@lru_cache(maxsize=65536)
def open_secret(sealed: str, public_id: str) -> bytes:
    return keyring().open(sealed, associated_data(public_id))


def parse_ed25519_public_key(text: str | None) -> str:
    """The raw 32-byte public key, base64, from a PEM block or raw base64 (as Binance accepts)."""
    value = (text or "").strip()
    if not value:
        raise KeyRefused("Paste your Ed25519 public key (PEM, or the raw 32 bytes in base64).",
                               field="public_key")
    try:
        if value.startswith("-----BEGIN"):
            key = load_pem_public_key(value.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("not Ed25519")
            raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        else:
            raw = base64.b64decode(value, validate=True)
            Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise KeyRefused("This is not an Ed25519 public key. Paste the PEM block that begins with "
                               "“-----BEGIN PUBLIC KEY-----”, or the raw 32-byte key in base64. Never paste "
                               "the private key.", field="public_key") from exc
    if len(raw) != 32:
        raise KeyRefused("An Ed25519 public key is 32 bytes long.", field="public_key")
    return base64.b64encode(raw).decode()


@lru_cache(maxsize=65536)
def ed25519_key(public_key_b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))


def ed25519_valid(public_key_b64: str, signature: bytes, payload: bytes) -> bool:
    try:
        ed25519_key(public_key_b64).verify(signature, payload)
        return True
    except InvalidSignature:
        return False
