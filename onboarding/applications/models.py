"""An institution's application, the people and companies in it, and who owns whom."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import JSONDocument, db, utcnow

# States of DESIGN 3. The transition table in states.py is the only writer of `state`.
DRAFT = "draft"
CHECKING = "checking"
DOCUMENT_REVIEW = "document_review"
QUALIFICATION_REVIEW = "qualification_review"
PENDING_APPROVAL = "pending_approval"
APPROVED = "approved"
REJECTED = "rejected"
CHANGES_REQUESTED = "changes_requested"
WITHDRAWN = "withdrawn"

CLOSED_STATES = (APPROVED, REJECTED, WITHDRAWN)
EDITABLE_STATES = (DRAFT, CHANGES_REQUESTED)

STATE_LABELS = {
    DRAFT: "Draft",
    CHECKING: "Automated checks",
    DOCUMENT_REVIEW: "Document review",
    QUALIFICATION_REVIEW: "Qualification review",
    PENDING_APPROVAL: "Pending approval",
    APPROVED: "Approved",
    REJECTED: "Rejected",
    CHANGES_REQUESTED: "Changes requested",
    WITHDRAWN: "Withdrawn",
}

PERSON, COMPANY = "person", "company"

# Why an application was rejected, as the applicant sees it (`decision_category`). Deliberately general:
# never reveals screening results.
REJECTION_CATEGORIES = {
    "kyb_unverified": "We could not verify the company, its owners or its documents.",
    "qualification": "The market-making profile does not meet the requirements of the programme.",
    "linked_accounts": "The institution is linked to another account in a way our rules do not allow.",
    "jurisdiction": "We cannot offer API access to institutions in this jurisdiction.",
    "compliance": "The application does not meet our compliance requirements.",
}

# The parts of the application a change request can be about (the step that fixes it).
CHANGE_STEPS = {"company": "Company", "ownership": "Ownership and control", "profile": "Market-making profile",
                "documents": "Documents"}


class Application(db.Model):
    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(24), default=DRAFT, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    # Who did the qualification review: the four-eyes rule keeps them from approving.
    qualified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Optimistic locking: two writers on one application cannot both win.
    lock_version: Mapped[int] = mapped_column(default=1)

    # Review: who works the case in its current queue, and by when (deadline per risk band).
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    # Who asked for changes: the resubmitted case goes back to them.
    changes_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # High risk, or linked to a restricted institution: approval needs a compliance officer's sign-off.
    needs_compliance_signoff: Mapped[bool] = mapped_column(default=False)
    compliance_signoff_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    compliance_signoff_at: Mapped[datetime | None]
    compliance_signoff_note: Mapped[str | None] = mapped_column(Text)
    # Rejection: a category the applicant sees, and notes they never see.
    decision_category: Mapped[str | None] = mapped_column(String(40))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None]

    # Step 1: company.
    legal_name: Mapped[str | None] = mapped_column(String(300))
    trading_names: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    registration_number: Mapped[str | None] = mapped_column(String(80))
    jurisdiction: Mapped[str | None] = mapped_column(String(2))
    incorporation_date: Mapped[date | None] = mapped_column(Date)
    lei: Mapped[str | None] = mapped_column(String(20))
    registered_address: Mapped[str | None] = mapped_column(Text)
    business_address: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(300))
    is_regulated: Mapped[bool | None]
    regulator: Mapped[str | None] = mapped_column(String(200))
    licence_number: Mapped[str | None] = mapped_column(String(100))
    # The institution whose referral code the applicant gave (checked when saved; see the referrals part).
    referred_by_institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))

    # Step 3: market-making profile and requested access (DESIGN 4.7).
    mm_experience_years: Mapped[int | None]
    mm_venues: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    volume_30d_usd: Mapped[int | None] = mapped_column(BigInteger)
    capital_usd: Mapped[int | None] = mapped_column(BigInteger)
    pairs: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    max_spread_bps: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    min_depth_usd: Mapped[int | None] = mapped_column(BigInteger)
    uptime_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    expected_order_rate: Mapped[int | None] = mapped_column(Integer)
    requested_scopes: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    ip_allowlist: Mapped[list[str]] = mapped_column(JSONDocument, default=list)

    # Automated checks: each submission is a new round; results of earlier rounds are kept.
    check_round: Mapped[int] = mapped_column(default=0)
    checks_planned: Mapped[int] = mapped_column(default=0)
    risk_score: Mapped[int | None]
    risk_band: Mapped[str | None] = mapped_column(String(10))
    risk_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)

    # Which steps the applicant finished with "Save and continue" (the rest may be partial drafts).
    steps_saved: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)

    parties: Mapped[list[Party]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="Party.id"
    )
    ownership_links: Mapped[list[OwnershipLink]] = relationship(
        back_populates="application", cascade="all, delete-orphan", order_by="OwnershipLink.id"
    )

    __mapper_args__ = {"version_id_col": lock_version}
    __table_args__ = (
        # The queues: one state, ordered by due date.
        Index("ix_applications_state_due_at", "state", "due_at"),
        # Sorted by risk, ties by id: with id in the key PostgreSQL reads the page off the index instead of
        # sorting every case of the state (risk scores have few distinct values; SQLite keys on rowid anyway).
        Index("ix_applications_state_risk_score", "state", "risk_score", "id"),
        # Queue search reads these three columns from the index alone, without visiting every row.
        Index("ix_applications_state_search", "state", "legal_name", "reference", "registration_number"),
        # The list of every application, newest first.
        Index("ix_applications_submitted_at", "submitted_at"),
        # The same list filtered by jurisdiction and risk band: count and page from the index alone.
        Index("ix_applications_jurisdiction_risk", "jurisdiction", "risk_band", "submitted_at", "id"),
        # The compliance queue: the few cases still waiting for a sign-off. The two flag columns are in the
        # key as well so that SQLite's planner, which has no statistics, prefers this index (three matched
        # terms) to (state, ...) ones: the navigation's count on every staff page reads this index alone
        # instead of visiting every case in review (x10 at 50,000 applications).
        Index("ix_applications_awaiting_signoff", "state", "needs_compliance_signoff", "compliance_signoff_at",
              sqlite_where=db.text("needs_compliance_signoff = 1 AND compliance_signoff_at IS NULL"),
              postgresql_where=db.text("needs_compliance_signoff AND compliance_signoff_at IS NULL")),
        # One open application per institution, enforced by the database as well.
        Index(
            "uq_applications_one_open_per_institution", "institution_id", unique=True,
            sqlite_where=db.text("state NOT IN ('approved', 'rejected', 'withdrawn')"),
            postgresql_where=db.text("state NOT IN ('approved', 'rejected', 'withdrawn')"),
        ),
    )

    @property
    def is_editable(self) -> bool:
        return self.state in EDITABLE_STATES

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    def party(self, party_id: int) -> Party | None:
        return next((p for p in self.parties if p.id == party_id), None)


class Party(db.Model):
    """A natural person or a company named in the application: owner, director, signatory or
    senior managing official. One record per real person, whatever their roles."""

    __tablename__ = "application_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(300))
    # Natural persons.
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    nationality: Mapped[str | None] = mapped_column(String(2))
    residence: Mapped[str | None] = mapped_column(String(2))
    # Companies.
    jurisdiction: Mapped[str | None] = mapped_column(String(2))
    registration_number: Mapped[str | None] = mapped_column(String(80))
    # Roles (natural persons).
    is_director: Mapped[bool] = mapped_column(default=False)
    is_signatory: Mapped[bool] = mapped_column(default=False)
    is_controller: Mapped[bool] = mapped_column(default=False)
    title: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    application: Mapped[Application] = relationship(back_populates="parties")

    @property
    def is_person(self) -> bool:
        return self.kind == PERSON

    @property
    def is_company(self) -> bool:
        return self.kind == COMPANY


class OwnershipLink(db.Model):
    """`owner` holds `percentage` of `owned` (a company party), or of the applicant company
    itself when `owned_id` is empty."""

    __tablename__ = "ownership_links"
    __table_args__ = (UniqueConstraint("application_id", "owner_id", "owned_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("application_parties.id", ondelete="CASCADE"), index=True)
    owned_id: Mapped[int | None] = mapped_column(ForeignKey("application_parties.id", ondelete="CASCADE"))
    percentage: Mapped[Decimal] = mapped_column(Numeric(7, 4))

    application: Mapped[Application] = relationship(back_populates="ownership_links")
    owner: Mapped[Party] = relationship(foreign_keys=[owner_id])
    owned: Mapped[Party | None] = relationship(foreign_keys=[owned_id])


class ChangeRequest(db.Model):
    """One thing the applicant must fix before resubmitting. Resolved when they resubmit.
    Written only by `applications.changes`."""

    __tablename__ = "change_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    # The submission round the request was made in.
    round: Mapped[int]
    # Which step of the application form fixes it: company, ownership, profile or documents.
    step: Mapped[str] = mapped_column(String(20))
    # For documents: the requirement slot ("company:<kind>" or "party:<id>:<kind>").
    document_slot: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
