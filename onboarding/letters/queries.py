"""Read-only look-ups of approval letters for pages, jobs and other modules."""

from __future__ import annotations

from sqlalchemy import select

from ..applications.models import APPROVED, Application
from ..db import db
from ..institutions.models import ACTIVE, FROZEN, PROSPECT, RESTRICTED, Institution
from ..institutions.status import STATUS_LABELS
from .models import ApprovalLetter

# What the public verification page says about the institution's access today (DESIGN 3).
# The institution's own labels, except that a public page says a frozen access is suspended.
ACCESS_STATUS = {
    ACTIVE: (STATUS_LABELS[ACTIVE], ACTIVE),
    FROZEN: ("Suspended (frozen)", FROZEN),
    RESTRICTED: (STATUS_LABELS[RESTRICTED], RESTRICTED),
}
NOT_ACTIVE = ("Not active", PROSPECT)


def letter_for(application_id: int) -> ApprovalLetter | None:
    """The application's approval letter, issued or being prepared, or None."""
    return db.session.scalar(select(ApprovalLetter).where(ApprovalLetter.application_id == application_id))


def letter_by_code(code: str) -> ApprovalLetter | None:
    return db.session.scalar(select(ApprovalLetter).where(ApprovalLetter.verification_code == code))


def latest_approved_application(institution_id: int) -> Application | None:
    return db.session.scalar(
        select(Application).where(Application.institution_id == institution_id, Application.state == APPROVED)
        .order_by(Application.id.desc()).limit(1)
    )


def access_status(institution_id: int) -> tuple[str, str]:
    """(label, style) of the institution's API access now."""
    institution = db.session.get(Institution, institution_id)
    return ACCESS_STATUS.get(institution.status if institution else "", NOT_ACTIVE)
