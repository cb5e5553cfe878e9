"""Read-only questions about a case that review's guards, the case page and the queues share."""

from __future__ import annotations

from sqlalchemy import select

from ..applications.models import Application
from ..db import db
from ..documents.models import Document
from .models import QualificationReview

ACCEPTED = "accepted"


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
