"""A signature accepted once is refused when replayed within its window, on every process: a Redis
`SET NX PX` when Redis is configured, else a row in `seen_signatures` whose primary key decides."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ..db import db, utcnow
from ..jobs import shared_redis
from .models import SeenSignature

REDIS_PREFIX = "onboarding:seen:"


def first_use(digest: str, ttl_ms: int) -> bool:
    """True the first time `digest` is seen within `ttl_ms`; False for a replay."""
    connection = shared_redis()
    if connection is not None:
        return bool(connection.set(REDIS_PREFIX + digest, b"1", nx=True, px=max(ttl_ms, 1)))
    now = utcnow()
    try:
        with db.session.begin_nested():
            db.session.add(SeenSignature(digest=digest, expires_at=now + timedelta(milliseconds=ttl_ms)))
    except IntegrityError:
        # Seen before: still a replay if its window has not passed (an old row is reused otherwise).
        row = db.session.get(SeenSignature, digest, populate_existing=True)
        if row is not None and row.expires_at > now:
            return False
        row.expires_at = now + timedelta(milliseconds=ttl_ms)
    return True


def forget_expired() -> int:
    result = db.session.execute(delete(SeenSignature).where(SeenSignature.expires_at <= utcnow()))
    return result.rowcount or 0
