"""Users, staff roles, MFA recovery codes and login attempts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import db, utcnow
from ..institutions.models import Institution

APPLICANT, STAFF = "applicant", "staff"

STAFF_ROLES = {
    "document_reviewer": "Document reviewer",
    "qualification_reviewer": "Qualification reviewer",
    "approver": "Approver",
    "compliance": "Compliance officer",
    "admin": "Administrator",
}


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"), index=True)
    email_verified_at: Mapped[datetime | None]
    # Sealed with the application key ring (onboarding.security.KeyRing).
    totp_secret_sealed: Mapped[str | None] = mapped_column(String(200))
    totp_enrolled_at: Mapped[datetime | None]
    # The last TOTP time step accepted, so a code cannot be replayed within its window.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    # Bumped on password change: every existing session of the user stops working.
    session_version: Mapped[int] = mapped_column(default=1)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Shown to the user, so they can spot a sign-in that was not theirs.
    previous_login_at: Mapped[datetime | None]

    institution: Mapped[Institution | None] = relationship(back_populates="users")
    roles: Mapped[list[StaffRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    # Flask-Login protocol. The id carries the session version, so a password reset
    # signs out every other session of this user.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_applicant(self) -> bool:
        return self.kind == APPLICANT

    @property
    def is_staff(self) -> bool:
        return self.kind == STAFF

    @property
    def role_names(self) -> list[str]:
        return sorted(role.role for role in self.roles)

    def has_role(self, role: str) -> bool:
        return any(r.role == role for r in self.roles)

    def has_any_role(self, roles: Iterable[str]) -> bool:
        wanted = set(roles)
        return any(r.role in wanted for r in self.roles)

    @property
    def mfa_enrolled(self) -> bool:
        return self.totp_enrolled_at is not None


class StaffRole(db.Model):
    __tablename__ = "staff_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="roles")


class RecoveryCode(db.Model):
    """A single-use MFA recovery code, stored as an argon2 hash."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    used_at: Mapped[datetime | None]


class LoginAttempt(db.Model):
    """One failed (or successful) sign-in step, for throttling per account and per IP.
    Kept in the database so every web process sees the same counts."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    ip: Mapped[str] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class StaffInvitation(db.Model):
    """A single-use, expiring link that lets an invited staff member set a password (then enrol TOTP).
    Only a digest of the link's token is stored."""

    __tablename__ = "staff_invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    # Set when a newer invitation or the account's deactivation makes this link void.
    withdrawn_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class AdminGrant(db.Model):
    """A request to give someone the admin role. It takes effect only when a second admin, not the one who
    asked, confirms it."""

    __tablename__ = "admin_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))  # "confirmed" or "cancelled"; None while pending

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
