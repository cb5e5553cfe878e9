"""One row per check result, per submission round, so running checks twice never duplicates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import JSONDocument, db, utcnow

PASS, FLAG, FAIL = "pass", "flag", "fail"


class CheckResult(db.Model):
    __tablename__ = "check_results"
    __table_args__ = (UniqueConstraint("application_id", "round", "check_name", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    check_name: Mapped[str] = mapped_column(String(60))
    check_version: Mapped[str] = mapped_column(String(20))
    subject_type: Mapped[str] = mapped_column(String(20))  # document, application, company, party
    subject_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10))
    detail: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    # For a document that cannot be used: what the applicant should do about it.
    advice: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
