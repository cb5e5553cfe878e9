"""Read-only questions about institutions and their grants."""

from __future__ import annotations

from sqlalchemy import select

from ..db import db
from .models import RESTRICTED, AccessGrant, Institution


def current_grant(institution_id: int) -> AccessGrant | None:
    return db.session.scalar(select(AccessGrant).where(
        AccessGrant.institution_id == institution_id, AccessGrant.superseded_at.is_(None)).limit(1))


def grant_from_application(application_id: int) -> AccessGrant | None:
    """The grant made when this application was approved (the one its letter states)."""
    return db.session.scalar(select(AccessGrant).where(AccessGrant.application_id == application_id)
                             .order_by(AccessGrant.id).limit(1))


def grant_history(institution_id: int) -> list[AccessGrant]:
    return list(db.session.scalars(select(AccessGrant).where(AccessGrant.institution_id == institution_id)
                                   .order_by(AccessGrant.id.desc())))


def institution_ids_with_status(*statuses: str) -> set[int]:
    return set(db.session.scalars(select(Institution.id).where(Institution.status.in_(statuses))))


def restricted_institution_ids() -> set[int]:
    return institution_ids_with_status(RESTRICTED)
