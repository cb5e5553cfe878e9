"""Issuing approval letters and handing them out.

Issuing freezes the letter's facts, renders the PDF from them, stores it encrypted in the document
store (bound to the letter by its associated data) and e-mails it, with the PDF attached, to every
active, verified user of the institution: all in the caller's transaction, so a failed attempt
leaves nothing behind (its stored file is deleted) and a later attempt finds the letter issued.
Serving a letter re-checks the SHA-256 recorded at issue."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import re
import secrets
from typing import Any

from sqlalchemy import select

from ..accounts.models import User
from ..applications.models import APPROVED, Application
from ..audit.operations import record
from ..db import db, utcnow
from ..notifications.operations import queue_email
from ..storage import TamperedDocument, document_store
from .facts import gather_facts
from .models import ApprovalLetter
from .queries import letter_for
from .render import render_pdf

log = logging.getLogger(__name__)

# RFC 4648 base32: no 0, 1, 8 or 9, so nothing is mistaken for O, I or B when typed from paper.
CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
CODE_LENGTH = 20  # 100 bits: not guessable, even with unlimited tries
CODE_GROUP = 4
# Read as typed: what people confuse on paper maps back to the alphabet.
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})
MAX_LETTER_BYTES = 5 * 1024 * 1024


class LetterTampered(Exception):
    """The stored PDF is missing, does not decrypt, or does not hash to the SHA-256 recorded at issue."""

    MESSAGE = (
        "The stored approval letter failed its integrity check, so it is not served. The problem has been "
        "logged for our team; please contact us."
    )

    def __init__(self, reason: str):
        super().__init__(reason)
        self.message = self.MESSAGE


def new_verification_code() -> str:
    """20 random base32 characters in groups of four: ABCD-EFGH-JKLM-NPQR-STUV."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return group_code(raw)


def group_code(raw: str) -> str:
    return "-".join(raw[i:i + CODE_GROUP] for i in range(0, len(raw), CODE_GROUP))


def normalise_code(typed: str) -> str | None:
    """The canonical form of a code as someone typed it (any case, spaces or dashes), or None when
    it cannot be a code at all."""
    raw = re.sub(r"[\s\-–—]+", "", typed or "").upper().translate(_LOOKALIKES)
    if len(raw) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in raw):
        return None
    return group_code(raw)


def associated_data(application_id: int) -> bytes:
    # Binds the stored PDF to its letter: a file moved under another letter will not open.
    return b"letter:%d" % application_id


def letter_filename(letter: ApprovalLetter) -> str:
    """A fixed download name built from the reference only (never from applicant text)."""
    reference = re.sub(r"[^A-Za-z0-9-]", "", str(letter.facts.get("reference") or "")) or str(letter.application_id)
    return f"approval-letter-{reference}.pdf"


# ---------------------------------------------------------------------------
# Issuing.


def issue_approval_letter(application: Application, approved_by_id: int) -> ApprovalLetter | None:
    """Issue the letter of an approved application (once: a second call returns the letter already
    issued and sends nothing). Returns None, doing nothing, when the application is not approved."""
    if application.state != APPROVED:
        log.warning("letter not issued: application %s is %s, not approved", application.id, application.state)
        return None
    letter = letter_for(application.id)
    if letter is not None and letter.rendered_at is not None:
        return letter
    if letter is None:
        letter = create_letter(application, approved_by_id)
    blob_key = store_pdf(letter, render_pdf(letter.facts))
    try:
        recipients = queue_approval_emails(letter)
        record("letter.issued", "application", application.id, {
            "letter_id": letter.id, "reference": application.reference, "sha256": letter.sha256,
            "size": letter.size, "approved_by_id": approved_by_id, "emailed_to": len(recipients),
        })
        db.session.flush()
    except BaseException:
        document_store().delete(blob_key)  # no committed row will point at it
        raise
    return letter


def create_letter(application: Application, approved_by_id: int) -> ApprovalLetter:
    issued_at = utcnow()
    code = new_verification_code()
    letter = ApprovalLetter(
        application_id=application.id, institution_id=application.institution_id, verification_code=code,
        facts=gather_facts(application, approved_by_id=approved_by_id, code=code, issued_at=issued_at),
        issued_at=issued_at,
    )
    db.session.add(letter)
    db.session.flush()
    return letter


def store_pdf(letter: ApprovalLetter, pdf: bytes) -> str:
    """Encrypt the PDF into the document store and record its fingerprint on the letter."""
    blob = document_store().save(io.BytesIO(pdf), max_bytes=MAX_LETTER_BYTES,
                                 associated_data=associated_data(letter.application_id))
    letter.sha256, letter.size = blob.sha256, blob.size
    letter.storage_key, letter.key_id = blob.storage_key, blob.key_id
    letter.rendered_at = utcnow()
    return blob.storage_key


def attachment_of(letter: ApprovalLetter) -> dict[str, Any]:
    """How the e-mail outbox finds the PDF at send time: where it is stored, how it is bound and
    what it must hash to. The outbox decrypts it then; the e-mail row holds no copy."""
    return {
        "kind": "approval_letter", "id": letter.id, "filename": letter_filename(letter),
        "content_type": "application/pdf", "storage_key": letter.storage_key,
        "associated_data": associated_data(letter.application_id).decode(), "sha256": letter.sha256,
        "size": letter.size,
    }


def queue_approval_emails(letter: ApprovalLetter) -> list[str]:
    """The approval e-mail, letter attached, to every active, verified user of the institution."""
    recipients = db.session.scalars(
        select(User).where(User.institution_id == letter.institution_id, User.is_active.is_(True),
                           User.email_verified_at.is_not(None)).order_by(User.id)
    ).all()
    facts = letter.facts
    subject = f"Application {facts['reference']} approved: your approval letter"
    for user in recipients:
        queue_email(user.email, "application_approved", subject, attachments=[attachment_of(letter)],
                    name=user.full_name, facts=facts, filename=letter_filename(letter))
    return [user.email for user in recipients]


# ---------------------------------------------------------------------------
# Serving.


def verified_pdf(letter: ApprovalLetter) -> bytes:
    """The decrypted PDF of an issued letter, only if it still hashes to the SHA-256 recorded at issue."""
    try:
        pdf = document_store().read_all(letter.storage_key or "",
                                        associated_data=associated_data(letter.application_id))
    except (TamperedDocument, FileNotFoundError, ValueError) as exc:
        log.error("approval letter %s cannot be opened: %r", letter.id, exc)
        raise LetterTampered(repr(exc)) from None
    if not hmac.compare_digest(hashlib.sha256(pdf).hexdigest(), letter.sha256 or ""):
        log.error("approval letter %s does not match its recorded SHA-256", letter.id)
        raise LetterTampered("SHA-256 mismatch")
    return pdf


def record_download(letter: ApprovalLetter) -> None:
    record("letter.downloaded", "application", letter.application_id,
           {"letter_id": letter.id, "sha256": letter.sha256})


def record_integrity_failure(letter: ApprovalLetter) -> None:
    record("letter.integrity_failed", "application", letter.application_id, {"letter_id": letter.id})
