"""Uploaded documents: the record of each file; the bytes live encrypted in the document store."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import JSONDocument, db, utcnow


class Document(db.Model):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    # Empty for company documents; the owner or director otherwise.
    party_id: Mapped[int | None] = mapped_column(ForeignKey("application_parties.id", ondelete="CASCADE"),
                                                 index=True)
    kind: Mapped[str] = mapped_column(String(60))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(32), unique=True)
    key_id: Mapped[str] = mapped_column(String(40))
    issue_date: Mapped[date | None] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # What the quick checks found at upload: {"verdict": usable | warning | unusable, "findings": [...]}
    # with the findings that did not pass. Empty for files uploaded before these checks existed.
    upload_check: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    # Set when the malware scan finds something: the file is no longer served to anyone.
    quarantined_at: Mapped[datetime | None]
    # The document reviewer's decision: pending, accepted, rejected or reupload (a new file is needed).
    review_status: Mapped[str] = mapped_column(String(12), default="pending")
    review_reason: Mapped[str | None] = mapped_column(String(40))
    review_comment: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]

    @property
    def requirement_key(self) -> str:
        return requirement_key(self.kind, self.party_id)


def requirement_key(kind: str, party_id: int | None) -> str:
    return f"company:{kind}" if party_id is None else f"party:{party_id}:{kind}"


USABLE, WARNING, UNUSABLE = "usable", "warning", "unusable"
