"""Queueing e-mail: render now (with the data of this transaction), deliver after commit."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template
from jinja2 import TemplateNotFound

from ..db import db
from ..jobs import request_job
from .models import EmailMessage


def queue_email(
    to_address: str, template: str, subject: str, *, attachments: list[dict[str, Any]] | None = None, **context: Any
) -> EmailMessage:
    """Render `templates/emails/<template>.txt` (and `.html` when present) into the outbox.
    `attachments` are references to stored files (see EmailMessage.attachments), read at send time."""
    context.setdefault("base_url", current_app.config["BASE_URL"].rstrip("/"))
    text_body = render_template(f"emails/{template}.txt", subject=subject, **context)
    html_body = None
    try:
        html_body = render_template(f"emails/{template}.html", subject=subject, **context)
    except Exception as exc:  # an HTML part is optional
        if not isinstance(exc, TemplateNotFound):
            raise
    message = EmailMessage(
        to_address=to_address, subject=subject, template=template, text_body=text_body, html_body=html_body,
        attachments=list(attachments) if attachments else None,
    )
    db.session.add(message)
    db.session.flush()
    request_job("notifications.deliver_email", email_id=message.id)
    return message
