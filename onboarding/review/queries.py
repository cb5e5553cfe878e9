"""Read-only questions about a case that the transition guards, the case page and the queues share."""

from __future__ import annotations

from sqlalchemy import func, select

from ..applications.models import Application
from ..db import db
from ..documents.models import Document
from ..screening.models import OPEN, LinkSignal, ScreeningHit
from .models import ChangeRequest, QualificationReview

ACCEPTED = "accepted"


def pending_hit_count(application: Application) -> int:
    # Hits belong to the institution: monitoring may add some while the case is in review.
    return db.session.scalar(select(func.count()).select_from(ScreeningHit).where(
        ScreeningHit.institution_id == application.institution_id, ScreeningHit.disposition == "pending")) or 0


def true_match_count(application: Application) -> int:
    return db.session.scalar(select(func.count()).select_from(ScreeningHit).where(
        ScreeningHit.institution_id == application.institution_id, ScreeningHit.disposition == "true_match")) or 0


def open_signal_count(application: Application) -> int:
    return db.session.scalar(select(func.count()).select_from(LinkSignal).where(
        LinkSignal.application_id == application.id, LinkSignal.status == OPEN)) or 0


def linked_to_restricted(application: Application) -> bool:
    """Any signal pointing at a permanently restricted institution (DESIGN 4.5), whatever its review:
    only a compliance officer's sign-off clears it, never a dismissal by a reviewer."""
    from ..accounts.models import Institution

    return bool(db.session.scalar(select(func.count()).select_from(LinkSignal).join(
        Institution, Institution.id == LinkSignal.other_institution_id).where(
        LinkSignal.application_id == application.id, Institution.status == "restricted")))


def documents_not_accepted(application: Application) -> list[Document]:
    return list(db.session.scalars(select(Document).where(
        Document.application_id == application.id, Document.review_status != ACCEPTED).order_by(Document.id)))


def current_qualification(application: Application) -> QualificationReview | None:
    return db.session.scalar(select(QualificationReview).where(
        QualificationReview.application_id == application.id,
        QualificationReview.round == application.check_round).order_by(QualificationReview.id.desc()).limit(1))


def latest_qualification(application: Application) -> QualificationReview | None:
    return db.session.scalar(select(QualificationReview).where(
        QualificationReview.application_id == application.id).order_by(QualificationReview.id.desc()).limit(1))


def open_change_requests(application: Application) -> list[ChangeRequest]:
    return list(db.session.scalars(select(ChangeRequest).where(
        ChangeRequest.application_id == application.id, ChangeRequest.resolved_at.is_(None))
        .order_by(ChangeRequest.id)))


def all_change_requests(application: Application) -> list[ChangeRequest]:
    return list(db.session.scalars(select(ChangeRequest).where(ChangeRequest.application_id == application.id)
                                   .order_by(ChangeRequest.round.desc(), ChangeRequest.id)))
