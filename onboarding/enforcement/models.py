"""Violation reports and the investigations they open."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import JSONDocument, db, utcnow

CATEGORIES = {
    "api_abuse": "API abuse",
    "unauthorized_bot_trading": "Unauthorised bot trading",
    "unauthorized_algorithmic_trading": "Unauthorised algorithmic trading",
    "malicious_arbitrage": "Malicious arbitrage",
    "rate_limit_abuse": "Rate-limit abuse",
    "linked_accounts": "Linked accounts",
    "self_referral": "Self-referral",
    "other": "Other",
}
IMPACTS = {"none": "None", "minor": "Minor", "significant": "Significant"}

# Investigation statuses; OPEN and AWAITING_AGREEMENT keep the institution frozen.
OPEN, AWAITING_AGREEMENT, DISMISSED, REINSTATED, RESTRICTED = (
    "open", "awaiting_agreement", "dismissed", "reinstated", "restricted")
STATUS_LABELS = {OPEN: "Open", AWAITING_AGREEMENT: "Waiting for the institution's agreement",
                 DISMISSED: "Dismissed", REINSTATED: "Reinstated", RESTRICTED: "Permanently restricted"}
UNRESOLVED = (OPEN, AWAITING_AGREEMENT)
# Outcomes that confirm the violation (count as an earlier violation next time).
CONFIRMED_OUTCOMES = (AWAITING_AGREEMENT, REINSTATED, RESTRICTED)


class Investigation(db.Model):
    """One case in the compliance queue: the institution stays frozen while it is unresolved. Its status
    is written only by `enforcement.decisions`."""

    __tablename__ = "investigations"
    __table_args__ = (Index("ix_investigations_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=OPEN)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    reinstated_at: Mapped[datetime | None]
    # Bumped on every change: a decision made on a page opened before it is refused as stale.
    version: Mapped[int] = mapped_column(default=1)


class Violation(db.Model):
    """A report from market surveillance (API) or a compliance officer (staff form). The reporter's own
    reference makes the report idempotent: the same reference twice returns the first result."""

    __tablename__ = "violations"
    __table_args__ = (UniqueConstraint("reporter", "reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    investigation_id: Mapped[int] = mapped_column(ForeignKey("investigations.id"), index=True)
    category: Mapped[str] = mapped_column(String(40))
    observed_at: Mapped[datetime]
    market_impact: Mapped[str] = mapped_column(String(12))
    malicious: Mapped[bool] = mapped_column(default=False)
    evidence_text: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    # Who reported: "token:<service token id>" or "staff:<user id>"; with `reference`, unique.
    reporter: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(100))
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)


# Four eyes: a decision against the default outcome, or a restriction extended to linked institutions,
# is first a proposal a second compliance officer confirms or sends back.
PENDING, CONFIRMED, SENT_BACK = "pending", "confirmed", "sent_back"
OUTCOMES = {"dismiss": "Dismiss (the report was unfounded)", "reinstatable": "Offer reinstatement (first offence)",
            "restrict": "Restrict permanently"}


class DecisionProposal(db.Model):
    """A decision recorded as proposed, waiting for a different compliance officer. At most one is
    pending per investigation; written only by `enforcement.decisions`."""

    __tablename__ = "investigation_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    investigation_id: Mapped[int] = mapped_column(ForeignKey("investigations.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))  # a key of OUTCOMES
    reason: Mapped[str] = mapped_column(Text)
    # Institutions (ids) the restriction is extended to; linked to this one by confirmed signals.
    extend_to: Mapped[list[int]] = mapped_column(JSONDocument, default=list)
    # Why a second officer is needed, in words shown on the case page.
    why_four_eyes: Mapped[str] = mapped_column(Text)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None]
    answer_reason: Mapped[str | None] = mapped_column(Text)
