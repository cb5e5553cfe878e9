"""The history rows of a key: what happened and what the key was at that moment."""

from __future__ import annotations

from ..db import db
from .models import ApiKey, ApiKeyEvent


def snapshot(key: ApiKey) -> dict:
    return {"status": key.status, "label": key.label, "scopes": list(key.scopes or []),
            "ip_allowlist": list(key.ip_allowlist or []),
            "expires_at": key.expires_at.isoformat() if key.expires_at else None}


def remember(key: ApiKey, action: str, *, actor_id: int | None, reason: str | None = None) -> ApiKeyEvent:
    db.session.flush()  # the key has its id
    event = ApiKeyEvent(key_id=key.id, action=action, actor_id=actor_id, reason=reason, snapshot=snapshot(key))
    db.session.add(event)
    return event
