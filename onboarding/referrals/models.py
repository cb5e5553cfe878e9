"""A referral: one approved application that named another institution's referral code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import JSONDocument, db, utcnow

# credited: counts for the referrer. held: the two institutions are linked by signals (a possible
# self-referral), waiting for compliance. voided: compliance confirmed the self-referral; never credited.
CREDITED, HELD, VOIDED = "credited", "held", "voided"
STATUS_LABELS = {HELD: "Held: possible self-referral", CREDITED: "Credited", VOIDED: "Voided: self-referral"}


class Referral(db.Model):
    """Written only by `referrals.operations`."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    referrer_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    referred_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), index=True)
    # The link signals (DESIGN 4.5) found between the two institutions when the referral was settled.
    signals: Mapped[list[dict]] = mapped_column(JSONDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
