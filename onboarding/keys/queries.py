"""Read-only look-ups of keys for the pages and the machine API."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from ..db import db
from .models import ApiKey, ApiKeyEvent, KeyUsage


def keys_of(institution_id: int) -> list[ApiKey]:
    """Live keys first, newest first within each group."""
    return list(db.session.scalars(select(ApiKey).where(ApiKey.institution_id == institution_id)
                                   .order_by(ApiKey.status.in_(("revoked", "expired")), ApiKey.id.desc())))


def key_of(institution_id: int, public_id: str) -> ApiKey | None:
    return db.session.scalar(select(ApiKey).where(ApiKey.institution_id == institution_id,
                                                  ApiKey.public_id == public_id))


def history_of(key_ids: list[int]) -> dict[int, list[ApiKeyEvent]]:
    found: dict[int, list[ApiKeyEvent]] = {key_id: [] for key_id in key_ids}
    if key_ids:
        for event in db.session.scalars(select(ApiKeyEvent).where(ApiKeyEvent.key_id.in_(key_ids))
                                        .order_by(ApiKeyEvent.id.desc())):
            found[event.key_id].append(event)
    return found


def recent_decisions(key_ids: list[int], days: int = 7) -> dict[int, dict[str, int]]:
    """Authorize decisions per key and reason over the last `days` days (as last flushed)."""
    found: dict[int, dict[str, int]] = {key_id: {} for key_id in key_ids}
    if key_ids:
        rows = db.session.execute(select(KeyUsage.key_id, KeyUsage.reason, func.sum(KeyUsage.count)).where(
            KeyUsage.key_id.in_(key_ids), KeyUsage.day >= date.today() - timedelta(days=days - 1))
            .group_by(KeyUsage.key_id, KeyUsage.reason))
        for key_id, reason, count in rows:
            found[key_id][reason] = int(count)
    return found


def last_ips(key_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    if key_ids:
        for key_id, ip in db.session.execute(select(KeyUsage.key_id, KeyUsage.last_ip).where(
                KeyUsage.key_id.in_(key_ids), KeyUsage.last_ip.is_not(None)).order_by(KeyUsage.day, KeyUsage.id)):
            found[key_id] = ip
    return found
