"""The institution's status (DESIGN 3): `prospect → active → frozen ⇄ active`, `active/frozen →
restricted`, `restricted` final. `change_status()` is the only code that writes `Institution.status`:
it checks the table and its guard, records an audit event and tells the institution's users, all in the
caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from ..audit.operations import record
from ..db import db, utcnow
from ..errors import OperationRefused
from ..notifications.operations import queue_email
from .models import ACTIVE, FROZEN, PROSPECT, RESTRICTED, AccessGrant, Institution

STATUS_LABELS = {
    PROSPECT: "Not yet granted",
    ACTIVE: "Active",
    FROZEN: "Frozen",
    RESTRICTED: "Permanently restricted",
}
# Statuses whose institution is watched by sanctions monitoring and may hold keys.
HOLDS_ACCESS = (ACTIVE, FROZEN)


class StatusRefused(OperationRefused):
    code = "status_refused"


def _has_grant(institution: Institution) -> str | None:
    granted = db.session.scalar(select(AccessGrant.id).where(
        AccessGrant.institution_id == institution.id, AccessGrant.superseded_at.is_(None)).limit(1))
    return None if granted else "Access is activated only with a grant of scopes, rate tier and key limit."


@dataclass(frozen=True)
class Move:
    event: str  # audit action, "institution.<event>"
    guard: Callable[[Institution], str | None] | None = None
    # (subject, headline, next steps) e-mailed to the institution's users; None sends nothing here
    # (activation is announced by the approval letter's e-mail).
    message: tuple[str, str, str] | None = None


_FROZEN_MESSAGE = (
    "API access of {name} is frozen",
    "API access of {name} has been frozen while we look into activity on its account.",
    "Every API key of the institution is suspended. We will tell you what happens next; sign in to see the case.",
)
_REACTIVATED_MESSAGE = (
    "API access of {name} is active again",
    "API access of {name} has been restored.",
    "Keys that were suspended work again. Sign in to review them.",
)
_RESTRICTED_MESSAGE = (
    "API access of {name} is permanently restricted",
    "API access of {name} has been permanently restricted under the API usage rules.",
    "Every API key of the institution is revoked and no new key can be created.",
)

TRANSITIONS: dict[tuple[str, str], Move] = {
    (PROSPECT, ACTIVE): Move("activated", guard=_has_grant),
    (ACTIVE, FROZEN): Move("frozen", message=_FROZEN_MESSAGE),
    (FROZEN, ACTIVE): Move("reactivated", message=_REACTIVATED_MESSAGE),
    (ACTIVE, RESTRICTED): Move("restricted", message=_RESTRICTED_MESSAGE),
    (FROZEN, RESTRICTED): Move("restricted", message=_RESTRICTED_MESSAGE),
}


def can_change_status(institution: Institution, target: str) -> bool:
    move = TRANSITIONS.get((institution.status, target))
    return move is not None and (move.guard is None or move.guard(institution) is None)


def change_status(institution: Institution, target: str, *, reason: str, details: dict | None = None) -> None:
    """Move the institution to `target` or raise StatusRefused. `reason` goes into the audit event."""
    move = TRANSITIONS.get((institution.status, target))
    if move is None:
        raise StatusRefused(f"An institution that is “{STATUS_LABELS.get(institution.status, institution.status)}” "
                            f"cannot become “{STATUS_LABELS.get(target, target)}”.")
    if move.guard is not None and (problem := move.guard(institution)):
        raise StatusRefused(problem)
    source = institution.status
    institution.status = target
    institution.status_changed_at = utcnow()
    record(f"institution.{move.event}", "institution", institution.id,
           {"from": source, "to": target, "reason": reason, **(details or {})})
    if move.message:
        _tell_users(institution, move.message)


def _tell_users(institution: Institution, message: tuple[str, str, str]) -> None:
    subject, headline, next_steps = (text.format(name=institution.legal_name) for text in message)
    for user in institution.users:
        if user.is_active and user.email_verified_at is not None:
            queue_email(user.email, "institution_status", subject, name=user.full_name, headline=headline,
                        next_steps=next_steps)
