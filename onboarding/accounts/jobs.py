"""Account jobs: the password-reset e-mail is decided off the request, so the request does the same work
whether or not the address has an account."""

from __future__ import annotations

from ..jobs import job_handler
from .operations import send_password_reset


@job_handler("accounts.send_password_reset")
def send_password_reset_job(email: str) -> None:
    send_password_reset(email)
