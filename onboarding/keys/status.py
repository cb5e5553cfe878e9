"""The status of API keys: `active ⇄ frozen`, `active/frozen → revoked` or `→ expired`, both final.
The only writer of `ApiKey.status`; every change is a history row and an audit event. Enforcement calls
`freeze_institution_keys` / `unfreeze_institution_keys` / `revoke_institution_keys`; it never writes
key rows itself."""

from __future__ import annotations

from sqlalchemy import select

from ..audit.operations import record
from ..db import db, utcnow
from ..errors import OperationRefused
from .history import remember
from .models import ACTIVE, EXPIRED, FROZEN, REVOKED, STATUS_LABELS, ApiKey

TRANSITIONS = {
    (ACTIVE, FROZEN): "frozen",
    (FROZEN, ACTIVE): "unfrozen",
    (ACTIVE, REVOKED): "revoked",
    (FROZEN, REVOKED): "revoked",
    (ACTIVE, EXPIRED): "expired",
    (FROZEN, EXPIRED): "expired",
}
LIVE = (ACTIVE, FROZEN)


class KeyStatusRefused(OperationRefused):
    code = "key_status_refused"


def change_key_status(key: ApiKey, target: str, *, reason: str, actor_id: int | None = None) -> None:
    action = TRANSITIONS.get((key.status, target))
    if action is None:
        raise KeyStatusRefused(f"Key {key.public_id} is {STATUS_LABELS[key.status].lower()}: it cannot be "
                               f"{STATUS_LABELS.get(target, target).lower()}.")
    source = key.status
    key.status = target
    key.status_changed_at, key.status_reason = utcnow(), reason
    remember(key, action, actor_id=actor_id, reason=reason)
    record(f"key.{action}", "institution", key.institution_id,
           {"key": key.public_id, "from": source, "to": target, "reason": reason})


def _institution_keys(institution_id: int, statuses: tuple[str, ...]) -> list[ApiKey]:
    return list(db.session.scalars(select(ApiKey).where(ApiKey.institution_id == institution_id,
                                                        ApiKey.status.in_(statuses)).order_by(ApiKey.id)))


def freeze_institution_keys(institution_id: int, *, reason: str, actor_id: int | None = None) -> list[ApiKey]:
    keys = _institution_keys(institution_id, (ACTIVE,))
    for key in keys:
        change_key_status(key, FROZEN, reason=reason, actor_id=actor_id)
    return keys


def unfreeze_institution_keys(institution_id: int, *, reason: str, actor_id: int | None = None) -> list[ApiKey]:
    """Frozen keys come back, except those whose expiry passed meanwhile (they expire instead)."""
    keys = _institution_keys(institution_id, (FROZEN,))
    now = utcnow()
    for key in keys:
        expired = key.expires_at is not None and key.expires_at <= now
        change_key_status(key, EXPIRED if expired else ACTIVE, reason=reason, actor_id=actor_id)
    return keys


def revoke_institution_keys(institution_id: int, *, reason: str, actor_id: int | None = None) -> list[ApiKey]:
    keys = _institution_keys(institution_id, LIVE)
    for key in keys:
        change_key_status(key, REVOKED, reason=reason, actor_id=actor_id)
    return keys


def expire_due_keys() -> int:
    """Mark keys whose expiry passed (the authorize decision already refuses them by their date)."""
    due = list(db.session.scalars(select(ApiKey).where(ApiKey.status.in_(LIVE), ApiKey.expires_at <= utcnow())))
    for key in due:
        change_key_status(key, EXPIRED, reason="expiry date reached")
    return len(due)
