"""An issued approval letter: the PDF lives encrypted in the document store; its facts are kept here
so the public verification page can confirm them without opening the file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import JSONDocument, db, utcnow


class ApprovalLetter(db.Model):
    __tablename__ = "approval_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    # Printed on the letter; /letters/verify/<code> confirms it. Random, not guessable.
    verification_code: Mapped[str] = mapped_column(String(40), unique=True)
    # What the letter says, frozen at issue: legal details, grants, rules agreed, approvers.
    facts: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set once the PDF is rendered and stored.
    rendered_at: Mapped[datetime | None]
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    storage_key: Mapped[str | None] = mapped_column(String(32), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(40))


# Notices about an institution's access, issued by enforcement (which gathers their facts).
FREEZE, REINSTATEMENT, RESTRICTION = "freeze", "reinstatement", "restriction"
NOTICE_KINDS = {FREEZE: "Notice of suspension (freeze)", REINSTATEMENT: "Notice of reinstatement",
                RESTRICTION: "Notice of permanent restriction"}


class Notice(db.Model):
    """A PDF notice to an institution about its access (freeze, reinstatement, restriction). Like the
    approval letter, it is rendered from facts frozen at issue and stored encrypted; the row exists from
    the moment the decision commits, the PDF from when the job has rendered it."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # a key of NOTICE_KINDS
    # The case it belongs to, as the institution and staff know it, e.g. "INV-12".
    reference: Mapped[str] = mapped_column(String(40))
    facts: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    rendered_at: Mapped[datetime | None]
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    storage_key: Mapped[str | None] = mapped_column(String(32), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(40))
