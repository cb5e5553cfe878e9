"""Mail transports: SMTP for real delivery, the console for development."""

from __future__ import annotations

import smtplib
import sys
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime

from flask import current_app

from .models import EmailMessage


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
    return mime


def send(message: EmailMessage) -> None:
    config = current_app.config
    mime = build_mime(message)
    if config["MAIL_BACKEND"] == "console":
        print(
            f"\n----- e-mail #{message.id} (console mail backend) -----\n"
            f"To: {message.to_address}\nSubject: {message.subject}\n\n{message.text_body}\n"
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
