"""Counts of screening results that the review guards, the case page and the queues share."""

from __future__ import annotations

from sqlalchemy import func, select

from ..applications.models import Application
from ..db import db
from ..institutions.models import RESTRICTED, Institution
from .models import OPEN, PENDING, TRUE_MATCH, LinkSignal, ScreeningHit


def pending_hit_count(application: Application) -> int:
    # Hits belong to the institution: monitoring may add some while the case is in review.
    return db.session.scalar(select(func.count()).select_from(ScreeningHit).where(
        ScreeningHit.institution_id == application.institution_id, ScreeningHit.disposition == PENDING)) or 0


def true_match_count(application: Application) -> int:
    return db.session.scalar(select(func.count()).select_from(ScreeningHit).where(
        ScreeningHit.institution_id == application.institution_id, ScreeningHit.disposition == TRUE_MATCH)) or 0


def open_signal_count(application: Application) -> int:
    return db.session.scalar(select(func.count()).select_from(LinkSignal).where(
        LinkSignal.application_id == application.id, LinkSignal.status == OPEN)) or 0


def linked_to_restricted(application: Application) -> bool:
    """Any signal pointing at a permanently restricted institution (DESIGN 4.5), whatever its review:
    only a compliance officer's sign-off clears it, never a dismissal by a reviewer."""
    return bool(db.session.scalar(select(func.count()).select_from(LinkSignal).join(
        Institution, Institution.id == LinkSignal.other_institution_id).where(
        LinkSignal.application_id == application.id, Institution.status == RESTRICTED)))
