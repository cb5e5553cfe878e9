"""The key ring that seals secrets at rest (TOTP secrets, documents, letters, later HMAC secrets).

A leaf: configuration validates ENCRYPTION_KEYS with it and security serves it to the app, so it
imports neither of them."""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import ConfigError


class KeyRing:
    """AES-256-GCM keys by id. New data is sealed with the current key; any listed key opens
    old data, so keys rotate by adding a new id in front and re-sealing at leisure."""

    def __init__(self, spec: str, current_id: str = ""):
        self.keys: dict[str, bytes] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key_id, _, encoded = item.partition(":")
            try:
                key = base64.b64decode(encoded, validate=True)
            except ValueError as exc:
                raise ConfigError(f"ENCRYPTION_KEYS entry {key_id!r} is not valid base64") from exc
            if len(key) != 32 or not key_id:
                raise ConfigError(f"ENCRYPTION_KEYS entry {key_id!r} must be '<id>:<base64 of 32 bytes>'")
            self.keys[key_id] = key
        if not self.keys:
            raise ConfigError("ENCRYPTION_KEYS is empty; set '<id>:<base64 of 32 bytes>'")
        self.current_id = current_id or next(iter(self.keys))
        if self.current_id not in self.keys:
            raise ConfigError(f"ENCRYPTION_KEY_ID {self.current_id!r} is not in ENCRYPTION_KEYS")

    def aead(self, key_id: str) -> AESGCM:
        return AESGCM(self.keys[key_id])

    def seal(self, plaintext: bytes, associated: bytes = b"") -> str:
        nonce = os.urandom(12)
        sealed = self.aead(self.current_id).encrypt(nonce, plaintext, associated)
        return f"{self.current_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, token: str, associated: bytes = b"") -> bytes:
        key_id, _, encoded = token.partition(":")
        if key_id not in self.keys:
            raise ConfigError(f"data was sealed with key {key_id!r}, which is not in ENCRYPTION_KEYS any more")
        raw = base64.b64decode(encoded)
        return self.aead(key_id).decrypt(raw[:12], raw[12:], associated)
