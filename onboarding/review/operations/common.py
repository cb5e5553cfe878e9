"""What every reviewer operation shares: the refusal types, the row lock with the version check, and the
checks of role, assignment and required text."""

from __future__ import annotations

from sqlalchemy import select

from ...accounts.models import User
from ...applications.models import Application
from ...db import db, utcnow
from ...errors import Conflict, OperationRefused
from ..guards import assigned_to_actor
from ..permissions import role_names

STALE = ("This case changed after you opened it (another reviewer acted on it, or you did in another tab). "
         "Nothing was changed: look at the current case and decide again.")


class ReviewRefused(OperationRefused):
    pass


class CaseChanged(Conflict):
    """The reviewer acted on an outdated page, or lost a race for the case (409)."""


def lock_case(application_id: int, seen_version: int | None = None) -> Application | None:
    """The case, locked for this transaction (PostgreSQL: SELECT ... FOR UPDATE, so a second reviewer
    waits for the first and then sees their decision). Refused when the form was for an older version."""
    application = db.session.scalar(
        select(Application).where(Application.id == application_id).with_for_update()
        .execution_options(populate_existing=True))
    if application is None or application.submitted_at is None:
        return None
    if seen_version is not None and application.lock_version != seen_version:
        raise CaseChanged(STALE)
    return application


def touch(application: Application) -> None:
    """Bump the case's version so forms opened before this change are refused as stale."""
    application.updated_at = utcnow()


def require(allowed: bool, *roles: str) -> None:
    if not allowed:
        raise ReviewRefused(f"You need the {role_names(*roles)} role to do this.")


def require_assignee(application: Application, user: User) -> None:
    reason = assigned_to_actor(application, user)
    if reason:
        raise ReviewRefused(reason)


def required_text(value: str | None, what: str, *, field: str, max_length: int = 4000) -> str:
    text = (value or "").strip()
    if not text:
        raise ReviewRefused(f"Give {what}.", field=field)
    if len(text) > max_length:
        raise ReviewRefused(f"Keep {what} under {max_length} characters.", field=field)
    return text
