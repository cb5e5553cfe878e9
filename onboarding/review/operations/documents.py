"""The document reviewer's decision on each document: accept, ask for a new file, or reject."""

from __future__ import annotations

from ...accounts.models import User
from ...applications.models import DOCUMENT_REVIEW, Application
from ...audit.operations import record
from ...db import utcnow
from ...documents.models import Document
from .common import ReviewRefused, require_assignee, touch

DOCUMENT_DECISIONS = {"accepted": "Accept", "reupload": "Request a new file", "rejected": "Reject"}
# Shown to the applicant when a document is not accepted.
DOCUMENT_REASONS = {
    "illegible": "The document is not legible.",
    "expired": "The document has expired.",
    "outdated": "The document is older than we can accept.",
    "wrong_document": "This is not the document requested.",
    "mismatch": "Details in the document do not match the application.",
    "incomplete": "Pages or parts of the document are missing.",
    "other": "See the reviewer's comment.",
}


def decide_document(application: Application, document: Document, decision: str, reason: str | None,
                    comment: str | None, user: User) -> None:
    if application.state != DOCUMENT_REVIEW:
        raise ReviewRefused("Documents are decided during document review.")
    require_assignee(application, user)
    if document.application_id != application.id:
        raise ReviewRefused("That document is not part of this application.")
    if decision not in DOCUMENT_DECISIONS:
        raise ReviewRefused("Choose accept, request a new file or reject.", field="decision")
    comment = (comment or "").strip() or None
    if decision == "accepted":
        if document.quarantined_at is not None:
            raise ReviewRefused("A quarantined file (the malware scan found something) cannot be accepted.",
                                field="decision")
        reason = None
    else:
        if reason not in DOCUMENT_REASONS:
            raise ReviewRefused("Choose the reason the document cannot be accepted.", field="reason")
        if reason == "other" and not comment:
            raise ReviewRefused("Explain in the comment what is wrong with the document.", field="comment")
    if comment and len(comment) > 2000:
        raise ReviewRefused("Keep the comment under 2000 characters.", field="comment")
    document.review_status, document.review_reason, document.review_comment = decision, reason, comment
    document.reviewed_by_id, document.reviewed_at = user.id, utcnow()
    touch(application)
    record("document.reviewed", "application", application.id, {
        "document_id": document.id, "kind": document.kind, "decision": decision, "reason": reason,
        "comment": comment})
