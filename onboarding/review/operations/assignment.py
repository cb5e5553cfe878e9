"""Who works a case: claiming, releasing and (admins) assigning it, and the queue and deadline a case
lands in when its state changes."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from ...accounts.models import StaffRole, User
from ...applications.models import PENDING_APPROVAL, Application
from ...applications.states import Actor
from ...audit.operations import record
from ...db import db, utcnow
from ..guards import four_eyes
from ..permissions import ADMIN, REVIEW_QUEUE_ROLES, can_assign, can_release, can_work_queue, queue_role
from .common import CaseChanged, ReviewRefused, require, touch


def _check_can_take(application: Application, user: User) -> None:
    role = queue_role(application)
    if role is None:
        raise ReviewRefused(f"A case in “{application.state_label}” is not in a review queue.")
    if not can_work_queue(application, user):
        raise ReviewRefused(f"{user.full_name} does not have the {role.replace('_', ' ')} role that "
                            f"“{application.state_label}” needs.")
    if application.state == PENDING_APPROVAL:  # four eyes: the qualifier never takes the approval
        reason = four_eyes(application, user)
        if reason:
            raise ReviewRefused(reason)


def claim(application: Application, user: User) -> None:
    if application.assignee_id == user.id:
        raise ReviewRefused("This case is already assigned to you.")
    if application.assignee_id is not None:
        holder = db.session.get(User, application.assignee_id)
        raise CaseChanged(f"{holder.full_name if holder else 'Another reviewer'} claimed this case first. "
                          "An admin can reassign it.")
    _check_can_take(application, user)
    application.assignee_id, application.assigned_at = user.id, utcnow()
    record("application.claimed", "application", application.id,
           {"reference": application.reference, "state": application.state, "assignee": user.full_name})


def release(application: Application, user: User) -> None:
    if application.assignee_id is None:
        raise ReviewRefused("This case is not assigned to anyone.")
    if not can_release(application, user):
        raise ReviewRefused("Only the assignee or an admin can release this case.")
    application.assignee_id = application.assigned_at = None
    record("application.released", "application", application.id, {"reference": application.reference})


def release_cases_of(user: User) -> list[Application]:
    """A staff member leaves (deactivation): each case they hold goes back to its queue, unassigned, with an
    event on the case. Returns the cases released."""
    cases = list(db.session.scalars(select(Application).where(Application.assignee_id == user.id)
                                    .order_by(Application.id)))
    for application in cases:
        application.assignee_id = application.assigned_at = None
        touch(application)
        record("application.released", "application", application.id, {
            "reference": application.reference, "from": user.full_name, "why": "the assignee was deactivated"})
    return cases


def assign(application: Application, assignee: User | None, admin: User) -> None:
    require(can_assign(admin), ADMIN)
    if assignee is None or not assignee.is_staff:
        raise ReviewRefused("Choose a staff member to assign the case to.", field="assignee_id")
    if assignee.id == application.assignee_id:
        raise ReviewRefused(f"The case is already assigned to {assignee.full_name}.", field="assignee_id")
    _check_can_take(application, assignee)
    previous = db.session.get(User, application.assignee_id) if application.assignee_id else None
    application.assignee_id, application.assigned_at = assignee.id, utcnow()
    record("application.assigned", "application", application.id, {
        "reference": application.reference, "from": previous.full_name if previous else None,
        "to": assignee.full_name})


def eligible_assignees(application: Application) -> list[User]:
    """Staff who could take the case in its current queue (for the admin's reassign list)."""
    role = queue_role(application)
    if role is None:
        return []
    users = db.session.scalars(select(User).join(StaffRole).where(StaffRole.role == role, User.is_active.is_(True))
                               .order_by(User.full_name)).all()
    if application.state != PENDING_APPROVAL:
        return list(users)
    return [u for u in users if four_eyes(application, u) is None]


def review_deadline(risk_band: str | None) -> timedelta:
    days = current_app.config["REVIEW_DEADLINE_DAYS"]
    return timedelta(days=days.get(risk_band or "medium", days["medium"]))


def route_to_queue(application: Application, action: str, actor: Actor) -> None:
    """After every transition: the case leaves its reviewer and gets the deadline of its new queue. A
    resubmitted case goes back to the reviewer who asked for the changes, when they can still take it."""
    application.assignee_id = application.assigned_at = None
    application.due_at = None
    if application.state not in REVIEW_QUEUE_ROLES:
        return
    now = utcnow()
    application.due_at = now + review_deadline(application.risk_band)
    if action == "checks_done" and application.changes_requested_by_id:
        reviewer = db.session.get(User, application.changes_requested_by_id)
        if reviewer is not None and can_work_queue(application, reviewer):
            application.assignee_id, application.assigned_at = reviewer.id, now
