"""Who may do what on a case: one predicate per decision, used by the decision routes, the operations
and the case page alike, so a role list is written once."""

from __future__ import annotations

from ..accounts.models import User
from ..applications.models import DOCUMENT_REVIEW, PENDING_APPROVAL, QUALIFICATION_REVIEW, Application

# The staff role that works each review queue.
REVIEW_QUEUE_ROLES = {
    DOCUMENT_REVIEW: "document_reviewer",
    QUALIFICATION_REVIEW: "qualification_reviewer",
    PENDING_APPROVAL: "approver",
}
REVIEW_STATES = tuple(REVIEW_QUEUE_ROLES)
ADMIN, COMPLIANCE = "admin", "compliance"
# Who decides sanctions hits and link signals: compliance at any time (monitoring finds hits on active
# institutions too), a document reviewer on the case assigned to them.
SCREENING_ROLES = ("document_reviewer", COMPLIANCE)


def role_names(*roles: str) -> str:
    return " or ".join(r.replace("_", " ") for r in roles)


def queue_role(application: Application) -> str | None:
    return REVIEW_QUEUE_ROLES.get(application.state)


def is_assignee(application: Application, user: User) -> bool:
    return application.assignee_id is not None and application.assignee_id == user.id


def can_work_queue(application: Application, user: User) -> bool:
    """Holds the role of the case's current queue (may claim it when nobody has)."""
    role = queue_role(application)
    return role is not None and user.is_active and user.has_role(role)


def can_claim(application: Application, user: User) -> bool:
    return application.assignee_id is None and can_work_queue(application, user)


def can_release(application: Application, user: User) -> bool:
    return application.assignee_id is not None and (is_assignee(application, user) or can_assign(user))


def can_assign(user: User) -> bool:
    return user.has_role(ADMIN)


def is_screening_reviewer(user: User) -> bool:
    """Holds a role that decides hits and signals (the operation then checks the case's assignment)."""
    return user.has_any_role(SCREENING_ROLES)


def can_decide_screening(application: Application, user: User) -> bool:
    """Sanctions hits and link signals. During document review the case's assignee decides them, as
    every other decision on it; at any other time (monitoring on an active institution, a hit found
    while the case waits for approval) a compliance officer does."""
    if application.state == DOCUMENT_REVIEW:
        return is_assignee(application, user) and user.has_any_role(SCREENING_ROLES)
    return user.has_role(COMPLIANCE) or (user.has_role("document_reviewer") and is_assignee(application, user))


def can_reject_after_true_match(user: User) -> bool:
    """A compliance officer rejects a case with a confirmed sanctions match without taking it over."""
    return user.has_role(COMPLIANCE)


def can_sign_off(user: User) -> bool:
    return user.has_role(COMPLIANCE)


def can_decide_case(application: Application, user: User) -> bool:
    """Document decisions, qualification, approval, send back, changes, rejection: the assignee, holding
    the queue's role."""
    return is_assignee(application, user) and can_work_queue(application, user)
