"""Decisions that move a case: notes, change requests, accepting the documents, qualification, approval
(with the grant of access it makes), send back and rejection. State changes go through
`applications.states.transition`."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from ...accounts.models import User
from ...applications.changes import ChangeItem, list_changes
from ...applications.models import (
    CLOSED_STATES,
    PENDING_APPROVAL,
    QUALIFICATION_REVIEW,
    REJECTION_CATEGORIES,
    Application,
    ChangeRequest,
)
from ...applications.states import Actor, transition
from ...audit.operations import record
from ...db import db
from ...documents.models import Document
from ...documents.operations import document_label
from ...errors import OperationRefused
from ...institutions.access import MAX_KEYS_LIMIT, RATE_TIERS, TRADE_SCOPES, ordered_scopes
from ...institutions.models import ACTIVE, PROSPECT, Institution
from ...institutions.operations import grant_access
from ...institutions.status import change_status
from ...jobs import request_job
from ..models import CaseNote, QualificationReview
from ..permissions import REVIEW_STATES
from ..qualification import CRITERIA, MAX_SCORE
from ..queries import current_qualification
from .common import ReviewRefused, require_assignee, required_text
from .documents import DOCUMENT_REASONS


def add_note(application: Application, body: str | None, user: User) -> CaseNote:
    body = required_text(body, "the text of the note", field="body", max_length=5000)
    note = CaseNote(application_id=application.id, author_id=user.id, body=body)
    db.session.add(note)
    db.session.flush()
    record("application.note_added", "application", application.id, {"note_id": note.id})
    return note


def request_changes(application: Application, items: Iterable[tuple[str, str]], user: User) -> list[ChangeRequest]:
    """Ask the applicant to fix the listed items, plus every document not accepted; then send the case
    back to them. `items` are (step, message) pairs."""
    if application.state not in REVIEW_STATES or application.state == PENDING_APPROVAL:
        raise ReviewRefused(f"Changes cannot be requested while the case is “{application.state_label}”.")
    require_assignee(application, user)
    wanted = [ChangeItem(step, message) for step, message in items]
    for document in db.session.scalars(select(Document).where(
            Document.application_id == application.id, Document.review_status.in_(("reupload", "rejected")))):
        text = DOCUMENT_REASONS[document.review_reason] if document.review_reason else "Upload a new file."
        if document.review_comment:
            text += f" {document.review_comment}"
        # Named by document type and person (the slot the applicant replaces), not by the file's name.
        wanted.append(ChangeItem("documents", f"{document_label(document)}: {text}", document.requirement_key))
    try:
        created = list_changes(application, wanted, by_user_id=user.id)
    except OperationRefused as refusal:
        raise ReviewRefused(refusal.message, field=refusal.field) from refusal
    transition(application, "request_changes", Actor(user), details={"items": [c.message for c in created]})
    return created


def accept_documents(application: Application, user: User) -> None:
    transition(application, "documents_accepted", Actor(user))


def qualify(application: Application, *, scores: dict[str, tuple[int | None, str | None]], granted_scopes: list[str],
            rate_tier: str | None, max_keys: int | None, summary: str | None, user: User) -> QualificationReview:
    """Score the criteria and propose the access to grant; the grant itself is made at approval."""
    require_assignee(application, user)
    if application.state != QUALIFICATION_REVIEW:
        raise ReviewRefused("Qualification is scored during qualification review.")
    recorded = {}
    for criterion in CRITERIA:
        score, note = scores.get(criterion.code, (None, None))
        if score is None or not 0 <= score <= MAX_SCORE:
            raise ReviewRefused(f"Score “{criterion.label}” from 0 to {MAX_SCORE}.", field=f"{criterion.code}_score")
        note = required_text(note, f"a note on “{criterion.label}”", field=f"{criterion.code}_note", max_length=2000)
        recorded[criterion.code] = {"score": score, "note": note}
    scopes = ordered_scopes(granted_scopes)
    if not scopes or len(scopes) != len(set(granted_scopes)):
        raise ReviewRefused("Grant at least one scope from the list.", field="granted_scopes")
    if set(scopes) & set(TRADE_SCOPES) and not application.ip_allowlist:
        raise ReviewRefused("Trading scopes need the applicant's IP allow-list, and this application has none.",
                            field="granted_scopes")
    if rate_tier not in RATE_TIERS:
        raise ReviewRefused("Choose a rate tier.", field="rate_tier")
    if max_keys is None or not 1 <= max_keys <= MAX_KEYS_LIMIT:
        raise ReviewRefused(f"The maximum number of keys must be between 1 and {MAX_KEYS_LIMIT}.", field="max_keys")
    review = QualificationReview(
        application_id=application.id, round=application.check_round, reviewer_id=user.id, scores=recorded,
        total_score=sum(v["score"] for v in recorded.values()), granted_scopes=scopes, rate_tier=rate_tier,
        max_keys=max_keys, summary=(summary or "").strip() or None)
    db.session.add(review)
    db.session.flush()
    transition(application, "qualify", Actor(user), details={
        "total_score": review.total_score, "granted_scopes": scopes, "rate_tier": rate_tier, "max_keys": max_keys})
    return review


def approve(application: Application, user: User) -> None:
    qualification = current_qualification(application)
    transition(application, "approve", Actor(user), details={
        "granted_scopes": qualification.granted_scopes if qualification else [],
        "rate_tier": qualification.rate_tier if qualification else None})


def grant_access_on_approval(application: Application, action: str, actor: Actor) -> None:
    """After approval: the institution is granted what qualification proposed, becomes active, and its
    approval letter is rendered (and e-mailed) by a job."""
    qualification = current_qualification(application)
    institution = db.session.get(Institution, application.institution_id)
    grant_access(institution, scopes=qualification.granted_scopes, rate_tier=qualification.rate_tier,
                 max_keys=qualification.max_keys, ip_allowlist=application.ip_allowlist,
                 granted_by_id=actor.user.id, application_id=application.id,
                 reason=f"Application {application.reference} approved")
    if institution.status == PROSPECT:
        change_status(institution, ACTIVE, reason=f"Application {application.reference} approved",
                      details={"application": application.reference, "granted_scopes": qualification.granted_scopes})
    request_job("letters.issue", application_id=application.id, approved_by_id=actor.user.id)


def send_back(application: Application, reason: str | None, user: User) -> None:
    reason = required_text(reason, "what the qualification reviewer should look at again", field="reason")
    transition(application, "send_back", Actor(user), details={"reason": reason})


def reject(application: Application, category: str | None, note: str | None, user: User) -> None:
    if application.state in CLOSED_STATES:
        raise ReviewRefused(f"This application is already {application.state_label.lower()}.")
    if category not in REJECTION_CATEGORIES:
        raise ReviewRefused("Choose the reason the applicant will see.", field="category")
    note = required_text(note, "internal notes on the rejection", field="note")
    # Set before the transition so the rejection e-mail and audit event carry them.
    application.decision_category, application.decision_note = category, note
    transition(application, "reject", Actor(user), details={"category": category})
