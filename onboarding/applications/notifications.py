"""E-mails to the applying institution when its application changes state."""

from __future__ import annotations

from sqlalchemy import select

from ..accounts.models import User
from ..db import db
from ..notifications.operations import queue_email
from .models import Application

# action -> (subject, what happened, what comes next). Actions not listed send nothing.
MESSAGES = {
    "submit": (
        "We received your application {reference}",
        "Your application {reference} for API access has been submitted.",
        "Automated checks of your documents and of the people named in it run first; then our "
        "institutional team reviews it. You can follow every step on your status page.",
    ),
    "request_changes": (
        "Changes requested on application {reference}",
        "Our review team asks you to change some parts of application {reference}.",
        "Sign in to see exactly what to fix, make the changes and submit again.",
    ),
    # "approve" is sent by the letter job, with the approval letter attached.
    "reject": (
        "Decision on application {reference}",
        "We are unable to grant API access on application {reference}.",
        "Sign in to see the reason. You may apply again after the cool-off period.",
    ),
    "withdraw": (
        "Application {reference} withdrawn",
        "Application {reference} has been withdrawn at your request.",
        "You can start a new application at any time.",
    ),
}


def notify_applicant(application: Application, action: str) -> None:
    if action not in MESSAGES:
        return
    subject, headline, next_steps = (text.format(reference=application.reference or "draft")
                                     for text in MESSAGES[action])
    recipients = db.session.scalars(
        select(User).where(User.institution_id == application.institution_id, User.is_active.is_(True),
                           User.email_verified_at.is_not(None))
    ).all()
    for user in recipients:
        queue_email(user.email, "application_status", subject, name=user.full_name, headline=headline,
                    next_steps=next_steps, reference=application.reference)
