"""Service tokens: the credentials of machine callers (the gateway, market surveillance)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import JSONDocument, db, utcnow

SERVICE_SCOPES = {
    "authorize": "Ask whether a signed trading request may pass (the gateway)",
    "violations:write": "Report violations (market surveillance)",
    "institutions:read": "Read an institution's status, keys and open cases",
    "metrics:read": "Scrape /metrics (Prometheus)",
}


class ServiceToken(db.Model):
    __tablename__ = "service_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    public_id: Mapped[str] = mapped_column(String(20), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(320))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
