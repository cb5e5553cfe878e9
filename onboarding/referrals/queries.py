"""Read-only questions about referrals: the staff list and the dashboard's counts by status."""

from __future__ import annotations

from sqlalchemy import func, select

from ..db import db
from .models import CREDITED, HELD, VOIDED, Referral


def counts_by_status() -> dict[str, int]:
    counts = dict(db.session.execute(select(Referral.status, func.count()).group_by(Referral.status)).all())
    return {status: counts.get(status, 0) for status in (HELD, CREDITED, VOIDED)}


def referrals(status: str | None = None) -> list[Referral]:
    query = select(Referral)
    if status:
        query = query.where(Referral.status == status)
    # Held first (they wait for a decision), then newest.
    return list(db.session.scalars(query.order_by((Referral.status != HELD), Referral.id.desc()).limit(500)))


def credited_count(institution_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Referral).where(
        Referral.referrer_institution_id == institution_id, Referral.status == CREDITED)) or 0
