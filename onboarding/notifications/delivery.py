"""Mail transports: SMTP for real delivery, the console for development.

Attachments are read from the encrypted document store only when a message is sent, and checked
against the SHA-256 recorded when it was queued: the outbox keeps no copy of the files, and a
message whose attachment is missing or altered is not sent (the delivery job fails and retries)."""

from __future__ import annotations

import hashlib
import hmac
import smtplib
import sys
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime
from typing import Any

from flask import current_app

# The store is infrastructure (bytes and keys, no records), so the sink still imports no feature.
from ..storage import TamperedDocument, document_store
from .models import EmailMessage


class AttachmentUnavailable(RuntimeError):
    """An attachment cannot be read or does not match its recorded SHA-256."""


def attachment_bytes(spec: dict[str, Any]) -> bytes:
    """The plaintext of a stored attachment, verified against its recorded SHA-256."""
    try:
        data = document_store().read_all(spec["storage_key"], associated_data=spec["associated_data"].encode())
    except (TamperedDocument, FileNotFoundError, ValueError, KeyError) as exc:
        raise AttachmentUnavailable(f"attachment {spec.get('filename')!r} cannot be read: {exc!r}") from None
    if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), spec.get("sha256") or ""):
        raise AttachmentUnavailable(f"attachment {spec.get('filename')!r} does not match its recorded SHA-256")
    return data


def build_mime(message: EmailMessage) -> MimeMessage:
    config = current_app.config
    mime = MimeMessage()
    mime["From"] = config["MAIL_FROM"]
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(message.created_at)
    # Stable per message: if a crash makes us send twice, receivers can drop the duplicate.
    domain = config["MAIL_FROM"].rsplit("@", 1)[-1].strip("> ") or "localhost"
    mime["Message-ID"] = f"<onboarding-email-{message.id}@{domain}>"
    mime.set_content(message.text_body)
    if message.html_body:
        mime.add_alternative(message.html_body, subtype="html")
    for spec in message.attachments or []:
        maintype, _, subtype = spec.get("content_type", "application/octet-stream").partition("/")
        mime.add_attachment(attachment_bytes(spec), maintype=maintype, subtype=subtype, filename=spec["filename"])
    return mime


def describe_attachments(mime: MimeMessage) -> str:
    lines = [
        f"Attachment: {part.get_filename()} ({part.get_content_type()}, {len(part.get_content())} bytes)"
        for part in mime.iter_attachments()
    ]
    return "".join(line + "\n" for line in lines)


def send(message: EmailMessage) -> None:
    config = current_app.config
    mime = build_mime(message)
    if config["MAIL_BACKEND"] == "console":
        print(
            f"\n----- e-mail #{message.id} (console mail backend) -----\n"
            f"To: {message.to_address}\nSubject: {message.subject}\n{describe_attachments(mime)}\n"
            f"{message.text_body}\n"
            "-----------------------------------------------------\n",
            file=sys.stderr,
            flush=True,
        )
        return
    with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=config["SMTP_TIMEOUT"]) as smtp:
        if config["SMTP_STARTTLS"]:
            smtp.starttls()
        if config["SMTP_USERNAME"]:
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        smtp.send_message(mime)
