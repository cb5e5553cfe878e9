"""API keys, the history row of every change to one (as GOV.UK Notify keeps them), the daily decision
counts flushed from Redis, and the signatures already seen (replay protection without Redis)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import JSONDocument, db, utcnow

HMAC, ED25519 = "hmac", "ed25519"
KINDS = {HMAC: "HMAC-SHA256 (we generate the secret)", ED25519: "Ed25519 (you keep the private key)"}
ACTIVE, FROZEN, REVOKED, EXPIRED = "active", "frozen", "revoked", "expired"
STATUS_LABELS = {ACTIVE: "Active", FROZEN: "Frozen", REVOKED: "Revoked", EXPIRED: "Expired"}


class ApiKey(db.Model):
    """One credential of an institution. Its status is written only by `keys.status`."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_institution_status", "institution_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    # The first characters of the key: what pages and logs show. The key itself is kept only hashed.
    public_id: Mapped[str] = mapped_column(String(20), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    label: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    ip_allowlist: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # HMAC: the secret sealed with the key ring (signatures must be recomputed). Ed25519: the raw public
    # key, base64. Never both.
    secret_sealed: Mapped[str | None] = mapped_column(String(200))
    public_key: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), default=ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime | None]
    # Rotation: the key this one replaces (which stays valid until its own expiry, the overlap).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    status_changed_at: Mapped[datetime | None]
    status_reason: Mapped[str | None] = mapped_column(Text)
    last_used_at: Mapped[datetime | None]

    @property
    def is_trading(self) -> bool:
        return any(scope.endswith(":trade") for scope in self.scopes or [])


class ApiKeyEvent(db.Model):
    """What happened to a key, with a copy of what it was then."""

    __tablename__ = "api_key_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)


class KeyUsage(db.Model):
    """Authorize decisions per key, day and reason, flushed from the per-request counters by a job."""

    __tablename__ = "api_key_usage"
    __table_args__ = (UniqueConstraint("key_id", "day", "reason"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(30))
    count: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    last_ip: Mapped[str | None] = mapped_column(String(64))


class SeenSignature(db.Model):
    """A signature already accepted, kept for its window: the replay guard when Redis is not configured
    (the unique constraint decides between two processes)."""

    __tablename__ = "seen_signatures"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
