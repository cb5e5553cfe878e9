"""Referral codes: an active institution gives its code to the firms it introduces. The code carries the
institution's id and an HMAC of it under REFERRAL_KEY (else SECRET_KEY), so it needs no table, cannot be
guessed for another institution and reads back to exactly one institution (or none). Codes made under a
SECRET_KEY now in SECRET_KEY_FALLBACKS are still read, so a rotation does not void codes handed out."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from flask import current_app

from ..db import db
from .models import ACTIVE, Institution

MAC_LENGTH = 8  # base32 characters: 40 bits, so a typed guess is refused, never matched
CODE_PATTERN = re.compile(rf"([A-Z2-7]{{3,7}})-([A-Z2-7]{{{MAC_LENGTH}}})")
# What people mistype on paper maps back to the alphabet (as for approval letter codes).
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def _signing_secrets() -> list[str]:
    """The secret new codes are made with, first, then every secret an older code may have been made with."""
    config = current_app.config
    secrets = [config.get("REFERRAL_KEY") or config["SECRET_KEY"], config["SECRET_KEY"],
               *(config.get("SECRET_KEY_FALLBACKS") or [])]
    return list(dict.fromkeys(secrets))


def _mac(institution_id: int, secret: str) -> str:
    key = hashlib.sha256(b"referral-code:" + secret.encode()).digest()
    return _b32(hmac.new(key, b"%d" % institution_id, hashlib.sha256).digest())[:MAC_LENGTH]


def _id_part(institution_id: int) -> str:
    # A-Z stands for 0-25 and 2-7 for 26-31: base32 digits of the id, at least three.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    digits = ""
    value = institution_id
    while value or len(digits) < 3:
        digits = alphabet[value % 32] + digits
        value //= 32
    return digits


def referral_code(institution_id: int) -> str:
    """The code an institution hands out, e.g. AAM-K3QZ7XWA."""
    return f"{_id_part(institution_id)}-{_mac(institution_id, _signing_secrets()[0])}"


def institution_from_code(typed: str | None, *, active_only: bool = True) -> Institution | None:
    """The institution whose code this is (any case, spaces ignored; only an active one unless
    `active_only` is False), or None."""
    raw = re.sub(r"\s+", "", typed or "").upper().translate(_LOOKALIKES)
    found = CODE_PATTERN.fullmatch(raw)
    if not found:
        return None
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    institution_id = 0
    for ch in found.group(1):
        institution_id = institution_id * 32 + alphabet.index(ch)
    # Every candidate is compared (no early exit), so timing says nothing about which secret matched.
    matches = [hmac.compare_digest(found.group(2), _mac(institution_id, secret)) for secret in _signing_secrets()]
    if not any(matches):
        return None
    institution = db.session.get(Institution, institution_id)
    if institution is None or (active_only and institution.status != ACTIVE):
        return None
    return institution
