"""Delivery job: sends one queued e-mail once."""

from __future__ import annotations

from ..db import db, utcnow
from ..jobs import job_handler
from .delivery import send
from .models import EmailMessage


@job_handler("notifications.deliver_email")
def deliver_email(email_id: int) -> None:
    message = db.session.get(EmailMessage, email_id)
    if message is None or message.sent_at is not None:
        return  # already delivered by an earlier run
    send(message)
    message.sent_at = utcnow()
