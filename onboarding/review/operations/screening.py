"""Decisions on what screening found: sanctions hits (true match / false positive), linked-applicant
signals (confirm / dismiss) and the compliance sign-off that high-risk and linked cases need."""

from __future__ import annotations

from sqlalchemy import select

from ...accounts.models import User
from ...applications.models import DOCUMENT_REVIEW, Application
from ...audit.operations import record
from ...db import db, utcnow
from ...screening.models import CONFIRMED, DISMISSED, OPEN, PENDING, LinkSignal, ScreeningHit
from ...screening.queries import true_match_count
from ..permissions import COMPLIANCE, REVIEW_STATES, SCREENING_ROLES, can_decide_screening, can_sign_off
from ..signoff import refresh_signoff_requirement
from .common import ReviewRefused, require, require_assignee, required_text, touch

HIT_DISPOSITIONS = {"true_match": "True match", "false_positive": "False positive"}
SIGNAL_DECISIONS = {CONFIRMED: "Confirm the link", DISMISSED: "Dismiss"}


def _require_screening_reviewer(application: Application, user: User) -> None:
    if can_decide_screening(application, user):
        return
    require(user.has_any_role(SCREENING_ROLES), *SCREENING_ROLES)
    if application.state == DOCUMENT_REVIEW and application.assignee_id is None:
        raise ReviewRefused("Claim this case before deciding on its screening results: during document review "
                            "only the assigned document reviewer decides them.")
    require_assignee(application, user)  # assigned to someone else: say whose it is


def disposition_hit(application: Application, hit: ScreeningHit, disposition: str, reason: str | None,
                    user: User) -> None:
    _require_screening_reviewer(application, user)
    if hit.institution_id != application.institution_id:
        raise ReviewRefused("That screening hit does not belong to this case.")
    if hit.disposition != PENDING:
        who = db.session.get(User, hit.disposed_by_id) if hit.disposed_by_id else None
        raise ReviewRefused(f"This hit was already dispositioned as {HIT_DISPOSITIONS.get(hit.disposition)} "
                            f"by {who.full_name if who else 'another reviewer'}.")
    if disposition not in HIT_DISPOSITIONS:
        raise ReviewRefused("Choose true match or false positive.", field="disposition")
    reason = required_text(reason, "the reason for this disposition (what you compared)", field="reason")
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
    note = required_text(note, "the reason for your decision", field="note")
    signal.status, signal.review_note = status, note
    signal.reviewed_by_id, signal.reviewed_at = user.id, utcnow()
    refresh_signoff_requirement(application)
    touch(application)
    record("linked.signal_reviewed", "application", application.id, {
        "signal_id": signal.id, "signal": signal.signal, "other_institution_id": signal.other_institution_id,
        "status": status, "note": note})


def review_signals_with(application: Application, other_institution_id: int, status: str, note: str | None,
                        user: User) -> list[LinkSignal]:
    """One decision, with one reason, on every open signal linking the case to one other institution:
    the signals are evidence of a single question (is this the same firm?), so they are answered together."""
    _require_screening_reviewer(application, user)
    if status not in SIGNAL_DECISIONS:
        raise ReviewRefused("Choose confirm or dismiss.", field="status")
    note = required_text(note, "the reason for your decision", field="note")
    signals = db.session.scalars(select(LinkSignal).where(
        LinkSignal.application_id == application.id, LinkSignal.other_institution_id == other_institution_id,
        LinkSignal.status == OPEN).order_by(LinkSignal.id)).all()
    if not signals:
        raise ReviewRefused("The signals for this institution were already decided (or it has none on this case).")
    now = utcnow()
    for signal in signals:
        signal.status, signal.review_note = status, note
        signal.reviewed_by_id, signal.reviewed_at = user.id, now
    refresh_signoff_requirement(application)
    touch(application)
    record("linked.signals_reviewed", "application", application.id, {
        "signal_ids": [s.id for s in signals], "signals": sorted({s.signal for s in signals}),
        "other_institution_id": other_institution_id, "status": status, "note": note})
    return signals


def compliance_signoff(application: Application, note: str | None, user: User) -> None:
    require(can_sign_off(user), COMPLIANCE)
    if application.state not in REVIEW_STATES:
        raise ReviewRefused("Sign-off is given while the case is in review.")
    if not application.needs_compliance_signoff:
        raise ReviewRefused("This case does not need a compliance sign-off.")
    if application.compliance_signoff_at is not None:
        raise ReviewRefused("This case is already signed off.")
    if true_match_count(application):
        raise ReviewRefused("A sanctions match on this case is confirmed as a true match: it can only be rejected, "
                            "not signed off.")
    note = required_text(note, "the basis of your sign-off", field="note")
    application.compliance_signoff_by_id, application.compliance_signoff_at = user.id, utcnow()
    application.compliance_signoff_note = note
    record("application.compliance_signoff", "application", application.id,
           {"reference": application.reference, "note": note})


def clear_signoff_on_resubmission(application: Application, action: str, actor) -> None:
    """After a (re)submission: an earlier compliance sign-off no longer covers what the applicant changed."""
    application.compliance_signoff_by_id = application.compliance_signoff_at = None
    application.compliance_signoff_note = None


def refresh_signoff_after_checks(application: Application, action: str, actor) -> None:
    """After the checks: the risk band they set (and any link found) decides whether sign-off is needed."""
    refresh_signoff_requirement(application)
