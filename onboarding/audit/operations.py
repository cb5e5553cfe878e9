"""Recording and verifying audit events."""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context
from flask_login import current_user
from sqlalchemy import select, text

from ..db import db, utcnow
from ..security import client_ip
from .models import GENESIS_HASH, AuditEvent

# Any constant works; it only has to be the same for every writer.
_CHAIN_LOCK_KEY = 0x0A0D17


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "subject_type": event.subject_type,
        "subject_id": event.subject_id,
        "details": event.details,
        "ip": event.ip,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


# Set while a job runs: its events are the system's, even when it runs inside a web request
# (jobs run in-process after the request's commit when there is no Redis).
_in_job: ContextVar[bool] = ContextVar("audit_in_job", default=False)


@contextmanager
def acting_as_system():
    token = _in_job.set(True)
    try:
        yield
    finally:
        _in_job.reset(token)


def _current_actor() -> tuple[int | None, str, str | None]:
    if _in_job.get() or not has_request_context():
        return None, "system", None
    if current_user and current_user.is_authenticated:
        return current_user.id, current_user.email, client_ip()
    if g.get("service_token"):
        # A machine caller (surveillance reporting a violation): name its token, not "anonymous".
        return None, f"service token {g.service_token}", client_ip()
    return None, "anonymous", client_ip()


def record(
    action: str,
    subject_type: str,
    subject_id: Any,
    details: dict[str, Any] | None = None,
    *,
    actor_id: int | None = None,
    actor_label: str | None = None,
) -> AuditEvent:
    """Append an event in the caller's transaction; it is committed with the change it records."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        # Serialise appenders so each reads the true tail; released at commit or rollback.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
    tail = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    request_actor_id, request_label, ip = _current_actor()
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_id=actor_id if actor_id is not None else request_actor_id,
        actor_label=actor_label or request_label,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        # A JSON round trip gives exactly what the database will hand back when verifying.
        details=json.loads(json.dumps(details or {}, default=str)),
        ip=ip,
        prev_hash=tail or GENESIS_HASH,
    )
    event.hash = compute_hash(event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(batch_size: int = 1000) -> ChainReport:
    """Walk the log in order and report the first event whose link or content does not hold."""
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch_size)
        ).all()
        if not events:
            return ChainReport(checked=checked)
        for event in events:
            if event.prev_hash != expected_prev:
                return ChainReport(
                    checked, event.id,
                    f"event #{event.id} ({event.action}) does not follow the event before it: "
                    "an event was removed or inserted",
                )
            if compute_hash(event) != event.hash:
                return ChainReport(
                    checked, event.id,
                    f"event #{event.id} ({event.action}) was altered after it was recorded",
                )
            expected_prev = event.hash
            checked += 1
            last_id = event.id
        for event in events:  # keep memory flat on long logs, without detaching the caller's objects
            db.session.expunge(event)
