"""The institution and the access it holds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import JSONDocument, db, utcnow

PROSPECT, ACTIVE, FROZEN, RESTRICTED = "prospect", "active", "frozen", "restricted"


class Institution(db.Model):
    """A company applying for, or holding, API access. Its status (DESIGN 3) is written only by
    `institutions.status.change_status`."""

    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default=PROSPECT, index=True)
    status_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    signup_ip: Mapped[str | None] = mapped_column(String(64))

    # The users are the accounts part's; the relationship is named by class so this part imports none
    # of its modules (accounts sits above institutions).
    users: Mapped[list[User]] = relationship(back_populates="institution")  # noqa: F821


class AccessGrant(db.Model):
    """What an institution may do with API keys: scopes, rate tier, maximum active keys and the IP
    allow-list its keys must stay within. Written only by `institutions.operations.grant_access`; a new
    grant supersedes the previous one, which is kept as history."""

    __tablename__ = "access_grants"
    __table_args__ = (Index("ix_access_grants_current", "institution_id", "superseded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    # The approved application the grant comes from (none for a later change made by staff).
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    scopes: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    rate_tier: Mapped[str] = mapped_column(String(20))
    max_keys: Mapped[int]
    ip_allowlist: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[datetime | None]

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None


PENDING, APPROVED, DECLINED = "pending", "approved", "declined"


class AllowlistChange(db.Model):
    """The institution asks to change the IP addresses it was granted; staff decide. An approval makes a
    new grant (`grant_access`), so keys outside a narrowed list stop being allowed at once."""

    __tablename__ = "allowlist_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    addresses: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default=PENDING, index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
