"""Reviewers' decisions on a case. Each function checks who may do it, changes the case and records
an audit event in the caller's transaction; state changes go through `applications.states.transition`.

Concurrency: the routes load the case with `lock_case()` (a row lock on PostgreSQL) and pass the
version of the form the reviewer saw; a decision made on a stale page is refused, never applied twice."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from ..accounts.models import Institution, User
from ..applications.models import CLOSED_STATES, DOCUMENT_REVIEW, PENDING_APPROVAL, Application
from ..applications.states import REVIEW_QUEUE_ROLES, Actor, four_eyes, transition
from ..audit.operations import record
from ..db import db, utcnow
from ..documents.models import Document
from ..errors import OperationRefused
from ..screening.models import CONFIRMED, DISMISSED, OPEN, LinkSignal, ScreeningHit
from .models import CaseNote, ChangeRequest, QualificationReview
from .qualification import CRITERIA, MAX_KEYS_LIMIT, MAX_SCORE, RATE_TIERS, SCOPES, TRADE_SCOPES
from .queries import linked_to_restricted

STALE = ("This case changed after you opened it (another reviewer acted on it, or you did in another tab). "
         "Nothing was changed: look at the current case and decide again.")

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
# Shown to the applicant on rejection. Deliberately general: never reveals screening results.
REJECTION_CATEGORIES = {
    "kyb_unverified": "We could not verify the company, its owners or its documents.",
    "qualification": "The market-making profile does not meet the requirements of the programme.",
    "linked_accounts": "The institution is linked to another account in a way our rules do not allow.",
    "jurisdiction": "We cannot offer API access to institutions in this jurisdiction.",
    "compliance": "The application does not meet our compliance requirements.",
}
HIT_DISPOSITIONS = {"true_match": "True match", "false_positive": "False positive"}
SIGNAL_DECISIONS = {CONFIRMED: "Confirm the link", DISMISSED: "Dismiss"}
CHANGE_STEPS = {"company": "Company", "ownership": "Ownership and control", "profile": "Market-making profile",
                "documents": "Documents"}
REVIEW_STATES = tuple(REVIEW_QUEUE_ROLES)


class ReviewRefused(OperationRefused):
    pass


def lock_case(application_id: int, seen_version: int | None = None) -> Application | None:
    """The case, locked for this transaction (PostgreSQL: SELECT ... FOR UPDATE, so a second reviewer
    waits for the first and then sees their decision). Refused when the form was for an older version."""
    application = db.session.scalar(
        select(Application).where(Application.id == application_id).with_for_update()
        .execution_options(populate_existing=True))
    if application is None or application.submitted_at is None:
        return None
    if seen_version is not None and application.lock_version != seen_version:
        raise ReviewRefused(STALE)
    return application


def touch(application: Application) -> None:
    """Bump the case's version so forms opened before this change are refused as stale."""
    application.updated_at = utcnow()


def _require_role(user: User, *roles: str) -> None:
    if not user.has_any_role(roles):
        names = " or ".join(r.replace("_", " ") for r in roles)
        raise ReviewRefused(f"You need the {names} role to do this.")


def _require_assignee(application: Application, user: User) -> None:
    from ..applications.states import assigned_to_actor

    reason = assigned_to_actor(application, Actor(user))
    if reason:
        raise ReviewRefused(reason)


def _required_text(value: str | None, what: str, *, field: str, max_length: int = 4000) -> str:
    text = (value or "").strip()
    if not text:
        raise ReviewRefused(f"Give {what}.", field=field)
    if len(text) > max_length:
        raise ReviewRefused(f"Keep {what} under {max_length} characters.", field=field)
    return text


# --- assignment ---------------------------------------------------------------------------------


def _check_can_take(application: Application, user: User) -> None:
    role = REVIEW_QUEUE_ROLES.get(application.state)
    if role is None:
        raise ReviewRefused(f"A case in “{application.state_label}” is not in a review queue.")
    if not user.is_active or not user.has_role(role):
        raise ReviewRefused(f"{user.full_name} does not have the {role.replace('_', ' ')} role that "
                            f"“{application.state_label}” needs.")
    if application.state == PENDING_APPROVAL:  # four eyes: the qualifier never takes the approval
        reason = four_eyes(application, Actor(user))
        if reason:
            raise ReviewRefused(reason)


def claim(application: Application, user: User) -> None:
    if application.assignee_id == user.id:
        raise ReviewRefused("This case is already assigned to you.")
    if application.assignee_id is not None:
        holder = db.session.get(User, application.assignee_id)
        raise ReviewRefused(f"{holder.full_name if holder else 'Another reviewer'} claimed this case first. "
                            "An admin can reassign it.")
    _check_can_take(application, user)
    application.assignee_id, application.assigned_at = user.id, utcnow()
    record("application.claimed", "application", application.id,
           {"reference": application.reference, "state": application.state, "assignee": user.full_name})


def release(application: Application, user: User) -> None:
    if application.assignee_id is None:
        raise ReviewRefused("This case is not assigned to anyone.")
    if application.assignee_id != user.id and not user.has_role("admin"):
        raise ReviewRefused("Only the assignee or an admin can release this case.")
    application.assignee_id = application.assigned_at = None
    record("application.released", "application", application.id, {"reference": application.reference})


def assign(application: Application, assignee: User | None, admin: User) -> None:
    _require_role(admin, "admin")
    if assignee is None or not assignee.is_staff:
        raise ReviewRefused("Choose a staff member to assign the case to.", field="assignee_id")
    if assignee.id == application.assignee_id:
        raise ReviewRefused(f"The case is already assigned to {assignee.full_name}.", field="assignee_id")
    _check_can_take(application, assignee)
    previous = db.session.get(User, application.assignee_id) if application.assignee_id else None
    application.assignee_id, application.assigned_at = assignee.id, utcnow()
    record("application.assigned", "application", application.id, {
        "reference": application.reference, "from": previous.full_name if previous else None,
        "to": assignee.full_name})


def eligible_assignees(application: Application) -> list[User]:
    """Staff who could take the case in its current queue (for the admin's reassign list)."""
    from ..accounts.models import StaffRole

    role = REVIEW_QUEUE_ROLES.get(application.state)
    if role is None:
        return []
    users = db.session.scalars(select(User).join(StaffRole).where(StaffRole.role == role, User.is_active.is_(True))
                               .order_by(User.full_name)).all()
    if application.state != PENDING_APPROVAL:
        return list(users)
    return [u for u in users if four_eyes(application, Actor(u)) is None]


# --- document review ------------------------------------------------------------------------------


def decide_document(application: Application, document: Document, decision: str, reason: str | None,
                    comment: str | None, user: User) -> None:
    if application.state != DOCUMENT_REVIEW:
        raise ReviewRefused("Documents are decided during document review.")
    _require_assignee(application, user)
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


# --- screening hits and link signals ----------------------------------------------------------------


def _require_screening_reviewer(application: Application, user: User) -> None:
    """Compliance officers decide hits and signals at any time (monitoring finds hits on active
    institutions too); a document reviewer only on the case assigned to them."""
    _require_role(user, "document_reviewer", "compliance")
    if not user.has_role("compliance"):
        _require_assignee(application, user)


def dispose_hit(application: Application, hit: ScreeningHit, disposition: str, reason: str | None,
                user: User) -> None:
    _require_screening_reviewer(application, user)
    if hit.institution_id != application.institution_id:
        raise ReviewRefused("That screening hit does not belong to this case.")
    if hit.disposition != "pending":
        who = db.session.get(User, hit.disposed_by_id) if hit.disposed_by_id else None
        raise ReviewRefused(f"This hit was already dispositioned as {HIT_DISPOSITIONS.get(hit.disposition)} "
                            f"by {who.full_name if who else 'another reviewer'}.")
    if disposition not in HIT_DISPOSITIONS:
        raise ReviewRefused("Choose true match or false positive.", field="disposition")
    reason = _required_text(reason, "the reason for this disposition (what you compared)", field="reason")
    hit.disposition, hit.disposition_reason = disposition, reason
    hit.disposed_by_id, hit.disposed_at = user.id, utcnow()
    touch(application)
    record("screening.hit_dispositioned", "application", application.id, {
        "hit_id": hit.id, "subject": hit.subject_name, "entry": f"{hit.source} {hit.external_id}",
        "score": hit.score, "disposition": disposition, "reason": reason})


def review_signal(application: Application, signal: LinkSignal, status: str, note: str | None, user: User) -> None:
    _require_screening_reviewer(application, user)
    if signal.application_id != application.id:
        raise ReviewRefused("That signal does not belong to this case.")
    if signal.status != OPEN:
        raise ReviewRefused(f"This signal was already {signal.status}.")
    if status not in SIGNAL_DECISIONS:
        raise ReviewRefused("Choose confirm or dismiss.", field="status")
    note = _required_text(note, "the reason for your decision", field="note")
    signal.status, signal.review_note = status, note
    signal.reviewed_by_id, signal.reviewed_at = user.id, utcnow()
    refresh_signoff_requirement(application)
    touch(application)
    record("linked.signal_reviewed", "application", application.id, {
        "signal_id": signal.id, "signal": signal.signal, "other_institution_id": signal.other_institution_id,
        "status": status, "note": note})


def refresh_signoff_requirement(application: Application) -> None:
    """High risk, or linked to a restricted institution: a compliance officer signs off (DESIGN 4.6, 4.5)."""
    application.needs_compliance_signoff = application.risk_band == "high" or linked_to_restricted(application)


def compliance_signoff(application: Application, note: str | None, user: User) -> None:
    _require_role(user, "compliance")
    if application.state not in REVIEW_STATES:
        raise ReviewRefused("Sign-off is given while the case is in review.")
    if not application.needs_compliance_signoff:
        raise ReviewRefused("This case does not need a compliance sign-off.")
    if application.compliance_signoff_at is not None:
        raise ReviewRefused("This case is already signed off.")
    note = _required_text(note, "the basis of your sign-off", field="note")
    application.compliance_signoff_by_id, application.compliance_signoff_at = user.id, utcnow()
    application.compliance_signoff_note = note
    record("application.compliance_signoff", "application", application.id,
           {"reference": application.reference, "note": note})


# --- notes and change requests ---------------------------------------------------------------------


def add_note(application: Application, body: str | None, user: User) -> CaseNote:
    body = _required_text(body, "the text of the note", field="body", max_length=5000)
    note = CaseNote(application_id=application.id, author_id=user.id, body=body)
    db.session.add(note)
    db.session.flush()
    record("application.note_added", "application", application.id, {"note_id": note.id})
    return note


def request_changes(application: Application, items: Iterable[tuple[str, str]], user: User) -> list[ChangeRequest]:
    """Ask the applicant to fix the listed items, plus every document not accepted; then send the case
    back to them. `items` are (step, message) pairs."""
    if application.state not in REVIEW_STATES or application.state == "pending_approval":
        raise ReviewRefused(f"Changes cannot be requested while the case is “{application.state_label}”.")
    _require_assignee(application, user)
    created = []
    for step, message in items:
        message = (message or "").strip()
        if not message:
            continue
        if step not in CHANGE_STEPS:
            raise ReviewRefused("Choose which part of the application each item is about.", field="items")
        if len(message) > 2000:
            raise ReviewRefused("Keep each item under 2000 characters.", field="items")
        created.append(ChangeRequest(application_id=application.id, round=application.check_round, step=step,
                                     message=message, created_by_id=user.id))
    for document in db.session.scalars(select(Document).where(
            Document.application_id == application.id, Document.review_status.in_(("reupload", "rejected")))):
        text = DOCUMENT_REASONS[document.review_reason] if document.review_reason else "Upload a new file."
        if document.review_comment:
            text += f" {document.review_comment}"
        created.append(ChangeRequest(application_id=application.id, round=application.check_round, step="documents",
                                     document_slot=document.requirement_key,
                                     message=f"{document.filename}: {text}", created_by_id=user.id))
    db.session.add_all(created)
    db.session.flush()
    transition(application, "request_changes", Actor(user), details={"items": [c.message for c in created]})
    return created


def after_submission(application: Application) -> None:
    """A (re)submission answers the open change requests; an earlier compliance sign-off no longer
    covers what the applicant changed."""
    now = utcnow()
    for change in db.session.scalars(select(ChangeRequest).where(
            ChangeRequest.application_id == application.id, ChangeRequest.resolved_at.is_(None))):
        change.resolved_at = now
    application.compliance_signoff_by_id = application.compliance_signoff_at = None
    application.compliance_signoff_note = None


# --- decisions ----------------------------------------------------------------------------------


def accept_documents(application: Application, user: User) -> None:
    transition(application, "documents_accepted", Actor(user))


def qualify(application: Application, *, scores: dict[str, tuple[int | None, str | None]], granted_scopes: list[str],
            rate_tier: str | None, max_keys: int | None, summary: str | None, user: User) -> QualificationReview:
    _require_assignee(application, user)
    if application.state != "qualification_review":
        raise ReviewRefused("Qualification is scored during qualification review.")
    recorded = {}
    for criterion in CRITERIA:
        score, note = scores.get(criterion.code, (None, None))
        if score is None or not 0 <= score <= MAX_SCORE:
            raise ReviewRefused(f"Score “{criterion.label}” from 0 to {MAX_SCORE}.", field=f"{criterion.code}_score")
        note = _required_text(note, f"a note on “{criterion.label}”", field=f"{criterion.code}_note", max_length=2000)
        recorded[criterion.code] = {"score": score, "note": note}
    scopes = [s for s in SCOPES if s in set(granted_scopes)]
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
    application.granted_scopes, application.rate_tier, application.max_keys = scopes, rate_tier, max_keys
    transition(application, "qualify", Actor(user), details={
        "total_score": review.total_score, "granted_scopes": scopes, "rate_tier": rate_tier, "max_keys": max_keys})
    return review


def approve(application: Application, user: User) -> None:
    transition(application, "approve", Actor(user), details={
        "granted_scopes": application.granted_scopes, "rate_tier": application.rate_tier})


def after_approval(application: Application, actor: Actor) -> None:
    """The institution becomes active and its approval letter is rendered (and e-mailed) by a job."""
    from ..jobs import request_job

    institution = db.session.get(Institution, application.institution_id)
    if institution.status == "prospect":
        institution.status = "active"
        record("institution.activated", "institution", institution.id,
               {"application": application.reference, "granted_scopes": application.granted_scopes})
    request_job("letters.issue", application_id=application.id, approved_by_id=actor.user.id)


def send_back(application: Application, reason: str | None, user: User) -> None:
    reason = _required_text(reason, "what the qualification reviewer should look at again", field="reason")
    transition(application, "send_back", Actor(user), details={"reason": reason})


def reject(application: Application, category: str | None, note: str | None, user: User) -> None:
    if application.state in CLOSED_STATES:
        raise ReviewRefused(f"This application is already {application.state_label.lower()}.")
    if category not in REJECTION_CATEGORIES:
        raise ReviewRefused("Choose the reason the applicant will see.", field="category")
    note = _required_text(note, "internal notes on the rejection", field="note")
    # Set before the transition so the rejection e-mail and audit event carry them.
    application.decision_category, application.decision_note = category, note
    transition(application, "reject", Actor(user), details={"category": category})
