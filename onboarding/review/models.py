"""What reviewers record on a case besides its state: internal notes and the qualification scoring with
the access it proposes (granted at approval through `institutions.grant_access`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..db import JSONDocument, db, utcnow


class CaseNote(db.Model):
    """An internal note on a case. Never shown to the applicant."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author: Mapped[User] = relationship()


class QualificationReview(db.Model):
    """The business team's scoring of the market-making profile (DESIGN 4.7) and the access it grants.
    One per submission round; the latest is the one the approver approves."""

    __tablename__ = "qualification_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    round: Mapped[int]
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # {criterion: {"score": 0-5, "note": "..."}}
    scores: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    total_score: Mapped[int]
    granted_scopes: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    rate_tier: Mapped[str] = mapped_column(String(20))
    max_keys: Mapped[int]
    summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    reviewer: Mapped[User] = relationship()
