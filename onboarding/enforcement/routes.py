"""Enforcement pages. Staff: compliance's queue, the case page with its decisions (one POST route each,
every one locking the investigation and checking the version of the page the officer saw) and the form
to report a violation by hand. The institution: a banner on every page while its access is frozen or
restricted, and the reinstatement page where it agrees to the risk-control rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, flash, has_request_context, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..accounts.models import User
from ..agreements.models import RISK_CONTROL
from ..agreements.operations import current_rules
from ..audit.models import AuditEvent
from ..db import db, utcnow
from ..errors import OperationRefused, error_page
from ..forms import choices
from ..institutions.models import FROZEN, Institution
from ..institutions.models import RESTRICTED as INSTITUTION_RESTRICTED
from ..institutions.status import HOLDS_ACCESS
from ..institutions.status import STATUS_LABELS as INSTITUTION_STATUS_LABELS
from ..keys.models import STATUS_LABELS as KEY_STATUS_LABELS
from ..keys.queries import keys_of, last_ips, recent_decisions
from ..letters.models import NOTICE_KINDS
from ..letters.notices import notices_of
from ..security import applicant_required, client_ip, roles_required
from ..templating import plural
from . import decisions
from .decisions import (
    COMPLIANCE,
    PROPOSED,
    default_outcome,
    lock_investigation,
    reinstatement_refusal,
    restrictable_linked,
)
from .forms import CaseForm, ReinstatementForm, ViolationForm
from .intake import Report, report_violation
from .models import (
    AWAITING_AGREEMENT,
    CATEGORIES,
    IMPACTS,
    OPEN,
    OUTCOMES,
    STATUS_LABELS,
    Investigation,
    Violation,
)
from .notices import report_summary
from .queries import (
    awaiting_confirmation,
    compliance_queue,
    earlier_confirmed_violations,
    history_of,
    linked_institution_ids,
    pending_proposal,
    proposals_of,
    unresolved_investigation,
    violations_of,
)

bp = Blueprint("enforcement", __name__)

# The statuses as a badge shows them: short enough to stay on one line in a table cell.
SHORT_LABELS = {**STATUS_LABELS, AWAITING_AGREEMENT: "Waiting for agreement"}

SEARCH_LIMIT = 100  # characters of an institution name searched for
TIMELINE_LIMIT = 100  # audit events shown on a case page, newest first
# Ids are bounded so an absurd number is a 404, not an integer overflow in the database driver.
CASE = "/staff/investigations/<int(max=2147483647):investigation_id>"


# --- the institution's banner ----------------------------------------------------------------------


@dataclass(frozen=True)
class Banner:
    """What a frozen or restricted institution is told on every page: the category and time of each
    report (never notes, evidence or the officer's reason) and what happens next."""

    status: str  # the institution's status: frozen or restricted
    institution_name: str
    reports: list[str]
    awaiting_agreement: bool


def banner_for(institution_id: int | None) -> Banner | None:
    institution = db.session.get(Institution, institution_id) if institution_id else None
    if institution is None or institution.status not in (FROZEN, INSTITUTION_RESTRICTED):
        return None
    if institution.status == INSTITUTION_RESTRICTED:
        return Banner(institution.status, institution.legal_name, [], False)
    investigation = unresolved_investigation(institution.id)
    reports = [report_summary(v) for v in violations_of(investigation)] if investigation else []
    return Banner(institution.status, institution.legal_name, reports,
                  investigation is not None and investigation.status == AWAITING_AGREEMENT)


@bp.app_context_processor
def enforcement_banner():
    if not (has_request_context() and current_user and current_user.is_authenticated
            and current_user.is_applicant):
        return {}
    try:
        banner = banner_for(current_user.institution_id)
    except SQLAlchemyError:
        # An error page shown after a failed statement must still render; it goes without the banner.
        return {}
    context = {"enforcement_notices": lambda: notices_of(current_user.institution_id),
               "notice_kinds": NOTICE_KINDS}
    return {**context, "enforcement_banner": banner} if banner else context


# --- staff: the compliance queue -------------------------------------------------------------------


def is_overdue(investigation: Investigation, now: datetime) -> bool:
    """Overdue is compliance's lateness: once an outcome is offered, the wait is the institution's."""
    return investigation.status == OPEN and investigation.due_at is not None and investigation.due_at < now


def first_reports(investigation_ids: list[int]) -> tuple[dict[int, Violation], dict[int, int]]:
    """The first report of each investigation, and how many reports each has (two statements)."""
    if not investigation_ids:
        return {}, {}
    rows = db.session.execute(select(Violation.investigation_id, func.min(Violation.id), func.count())
                              .where(Violation.investigation_id.in_(investigation_ids))
                              .group_by(Violation.investigation_id)).all()
    firsts = {v.id: v for v in db.session.scalars(select(Violation).where(Violation.id.in_([r[1] for r in rows])))}
    return {r[0]: firsts[r[1]] for r in rows}, {r[0]: r[2] for r in rows}


def names_of(user_ids) -> dict[int, str]:
    user_ids = {i for i in user_ids if i is not None}
    if not user_ids:
        return {}
    return dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids))).all())


@bp.route("/staff/investigations")
@roles_required()
def queue():
    show = "mine" if request.args.get("show") == "mine" else "all"
    search = (request.args.get("q") or "").strip()[:SEARCH_LIMIT]
    rows = compliance_queue(mine=current_user.id if show == "mine" else None, search=search or None)
    # The counts are of the whole queue, whatever the filter shows.
    everything = rows if show == "all" and not search else compliance_queue()
    now = utcnow()
    counts = {"open": sum(inv.status == OPEN for inv, _ in everything),
              "awaiting": sum(inv.status == AWAITING_AGREEMENT for inv, _ in everything),
              "overdue": sum(is_overdue(inv, now) for inv, _ in everything),
              "confirmation": len(awaiting_confirmation([inv.id for inv, _ in everything]))}
    firsts, report_counts = first_reports([inv.id for inv, _ in rows])
    return render_template(
        "enforcement/queue.html", rows=rows, counts=counts, firsts=firsts, report_counts=report_counts,
        people=names_of(inv.assignee_id for inv, _ in rows),
        overdue={inv.id for inv, _ in rows if is_overdue(inv, now)}, show=show,
        to_confirm=awaiting_confirmation([inv.id for inv, _ in rows]), search=search, now=now,
        short_labels=SHORT_LABELS, categories=CATEGORIES, impacts=IMPACTS, officer=current_user.has_role(COMPLIANCE))


# --- staff: the case page and its decisions --------------------------------------------------------


def reporter_label(reporter: str, people: dict[int, str]) -> str:
    kind, _, ident = reporter.partition(":")
    if kind == "staff" and ident.isdigit():
        return f"{people.get(int(ident), 'A staff member')} (compliance, by hand)"
    if kind == "token":
        return f"Market surveillance (service token {ident})"
    return reporter


def render_case(investigation: Investigation, *, status: int = 200, posted: dict | None = None,
                posted_form: str = "", error: OperationRefused | None = None):
    """The case page. After a refused decision it is shown again with the reason the officer typed
    (`posted`) in the form they used (`posted_form`), so nothing typed is lost."""
    institution = db.session.get(Institution, investigation.institution_id)
    reports = violations_of(investigation)
    earlier = earlier_confirmed_violations(investigation)
    history = [i for i in history_of(institution.id) if i.id != investigation.id]
    earlier_cases = {i.id: i for i in db.session.scalars(select(Investigation).where(
        Investigation.id.in_({v.investigation_id for v in earlier})))} if earlier else {}
    linked_ids = linked_institution_ids(institution.id)
    named = linked_ids | {v.institution_id for v in earlier}
    institutions = {i.id: i for i in db.session.scalars(select(Institution).where(Institution.id.in_(named)))} \
        if named else {}
    linked = sorted((institutions[i] for i in linked_ids), key=lambda i: i.legal_name.lower())
    keys = keys_of(institution.id)
    key_ids = [k.id for k in keys]
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.subject_type == "institution", AuditEvent.subject_id == str(institution.id))
        .order_by(AuditEvent.id.desc()).limit(TIMELINE_LIMIT)).all()
    staff_reporters = {int(ident) for kind, _, ident in (v.reporter.partition(":") for v in reports)
                       if kind == "staff" and ident.isdigit()}
    proposals = proposals_of(investigation.id)
    people = names_of({investigation.assignee_id, investigation.decided_by_id, *staff_reporters,
                       *(i.decided_by_id for i in history), *(p.proposed_by_id for p in proposals),
                       *(p.answered_by_id for p in proposals)})
    unresolved = investigation.status in (OPEN, AWAITING_AGREEMENT)
    me = current_user._get_current_object()
    return render_template(
        "enforcement/case.html", investigation=investigation, institution=institution, reports=reports,
        reporters={v.id: reporter_label(v.reporter, people) for v in reports},
        evidence={v.id: json.dumps(v.evidence, indent=2, sort_keys=True, ensure_ascii=False)
                  for v in reports if v.evidence},
        keys_by_id={k.id: k for k in keys}, earlier=earlier, earlier_cases=earlier_cases, history=history,
        institutions=institutions, linked=linked, keys=keys, decisions=recent_decisions(key_ids),
        ips=last_ips(key_ids), events=events, people=people, now=utcnow(), overdue=is_overdue(investigation, utcnow()),
        refusal=reinstatement_refusal(investigation) if investigation.status == OPEN else None,
        officer=me.has_role(COMPLIANCE), is_assignee=investigation.assignee_id == me.id,
        posted=posted or {}, posted_form=posted_form, error=error, status_labels=STATUS_LABELS,
        short_labels=SHORT_LABELS, categories=CATEGORIES, impacts=IMPACTS, key_status_labels=KEY_STATUS_LABELS,
        institution_status_labels=INSTITUTION_STATUS_LABELS, proposals=proposals,
        notices=notices_of(institution.id), notice_kinds=NOTICE_KINDS,
        proposal=pending_proposal(investigation.id) if unresolved else None, outcomes=OUTCOMES,
        default=default_outcome(investigation) if unresolved else None,
        restrictable=restrictable_linked(investigation) if unresolved else [],
        posted_extend_to=set(request.form.getlist("extend_to")) if posted else set(),
    ), status


@bp.route(CASE)
@roles_required()
def case(investigation_id: int):
    investigation = db.session.get(Investigation, investigation_id) or abort(404)
    return render_case(investigation)


def whole_number(value: str | None) -> int | None:
    """A non-negative whole number from a form, or None (never an exception: '²' is a digit to str.isdigit
    but not to int())."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


def _act(investigation_id: int, form_name: str, operation: Callable[[Investigation], str], *,
         check_version: bool = True):
    """Run `operation` on the locked investigation; it returns the success message. On refusal nothing
    is saved and the case page is shown again with the officer's input and the reason."""
    if not CaseForm().validate_on_submit():
        return error_page(400, "The form expired or was not sent from this site. Reload the case and try again.")
    seen = whole_number(request.form.get("version"))
    if check_version and seen is None:
        return error_page(400, "The form did not say which version of the case it was made from. Reload the case "
                               "and try again.")
    try:
        investigation = lock_investigation(investigation_id, seen if check_version else None) or abort(404)
        message = operation(investigation)
        db.session.commit()
    except OperationRefused as refusal:
        db.session.rollback()
        investigation = db.session.get(Investigation, investigation_id) or abort(404)
        return render_case(investigation, status=refusal.http_status, posted=request.form.to_dict(),
                           posted_form=form_name, error=refusal)
    flash(message, "success")
    return redirect(url_for("enforcement.case", investigation_id=investigation_id), code=303)


@bp.post(f"{CASE}/claim")
@roles_required(COMPLIANCE)
def claim(investigation_id: int):
    def run(investigation):
        decisions.claim_investigation(investigation, current_user._get_current_object())
        return "The investigation is assigned to you."
    # No version check: the claim checks the locked row's assignee itself, so the loser of a race is
    # told who won rather than that "the case changed".
    return _act(investigation_id, "claim", run, check_version=False)


PROPOSED_MESSAGE = ("Recorded as proposed: {why}, so a second compliance officer must confirm it before it "
                    "takes effect. Nothing has changed for the institution yet.")
DONE_MESSAGES = {
    "dismiss": "Investigation dismissed: the institution's access and keys are restored, and it is told.",
    "reinstatable": ("Reinstatement offered: the institution regains access as soon as it agrees to the "
                     "risk-control rules. It is told by e-mail."),
    "restrict": "The institution is permanently restricted: every key is revoked, and it is told.",
}


def settled_message(investigation: Investigation, outcome: str) -> str:
    if outcome == PROPOSED:
        return PROPOSED_MESSAGE.format(why=pending_proposal(investigation.id).why_four_eyes.capitalize())
    return DONE_MESSAGES[outcome]


def linked_choices(values: list[str]) -> list[int]:
    """The linked institutions ticked on the restriction form; anything that is not an id is refused."""
    chosen = [whole_number(v) for v in values]
    if any(c is None for c in chosen):
        raise decisions.DecisionRefused("Choose linked institutions from the list.", field="extend_to")
    return chosen


@bp.post(f"{CASE}/dismiss")
@roles_required(COMPLIANCE)
def dismiss(investigation_id: int):
    def run(investigation):
        outcome = decisions.dismiss(investigation, request.form.get("reason"), current_user._get_current_object())
        return settled_message(investigation, outcome)
    return _act(investigation_id, "dismiss", run)


@bp.post(f"{CASE}/reinstatable")
@roles_required(COMPLIANCE)
def reinstatable(investigation_id: int):
    def run(investigation):
        outcome = decisions.offer_reinstatement(investigation, request.form.get("reason"),
                                                current_user._get_current_object())
        return settled_message(investigation, outcome)
    return _act(investigation_id, "reinstatable", run)


@bp.post(f"{CASE}/restrict")
@roles_required(COMPLIANCE)
def restrict(investigation_id: int):
    def run(investigation):
        outcome = decisions.restrict(investigation, request.form.get("reason"), current_user._get_current_object(),
                                     extend_to=linked_choices(request.form.getlist("extend_to")))
        message = settled_message(investigation, outcome)
        extended = request.form.getlist("extend_to")
        if outcome != PROPOSED and extended:
            message += f" The restriction extends to {plural(len(extended), 'linked institution')}."
        return message
    return _act(investigation_id, "restrict", run)


@bp.post(f"{CASE}/confirm")
@roles_required(COMPLIANCE)
def confirm(investigation_id: int):
    def run(investigation):
        outcome = decisions.confirm_proposal(investigation, current_user._get_current_object())
        return "Confirmed. " + DONE_MESSAGES[outcome]
    return _act(investigation_id, "confirm", run)


@bp.post(f"{CASE}/send-back")
@roles_required(COMPLIANCE)
def send_back(investigation_id: int):
    def run(investigation):
        decisions.send_back(investigation, request.form.get("reason"), current_user._get_current_object())
        return "The proposal is sent back: the case is open for a new decision, and the reason is on it."
    return _act(investigation_id, "send_back", run)


# --- staff: a report by hand -----------------------------------------------------------------------


def institution_choices():
    """Institutions that hold access (a restricted one cannot be reported again, a prospect has no keys)."""
    found = db.session.scalars(select(Institution).where(Institution.status.in_(HOLDS_ACCESS))
                               .order_by(func.lower(Institution.legal_name), Institution.id))
    return choices([("", "Choose…"), *((str(i.id), i.legal_name if i.status != FROZEN else
                                        f"{i.legal_name} (already frozen)") for i in found)])


def refusal_on(form, refusal: OperationRefused) -> None:
    if refusal.field and hasattr(form, refusal.field):
        form[refusal.field].errors = [*form[refusal.field].errors, refusal.message]
    else:
        form.form_errors.append(refusal.message)


@bp.route("/staff/violations/new", methods=["GET", "POST"])
@roles_required(COMPLIANCE)
def new_violation():
    form = ViolationForm()
    form.institution_id.choices = institution_choices()
    if not form.is_submitted():
        # Linked from elsewhere (e.g. a held referral): the institution and category chosen already.
        form.institution_id.data = request.args.get("institution_id", "")[:12]
        form.category.data = request.args.get("category", "") if request.args.get("category") in CATEGORIES else ""
    if not form.validate_on_submit():
        return render_template("enforcement/new_violation.html", form=form), 422 if form.is_submitted() else 200
    report = Report(institution_id=int(form.institution_id.data), key_public_id=(form.key_id.data or "").strip()
                    or None, category=form.category.data, observed_at=form.observed_at.data,
                    market_impact=form.market_impact.data, malicious=form.malicious.data,
                    evidence_text=form.evidence_text.data, evidence={}, reference=form.reference.data)
    try:
        recorded = report_violation(report, reporter=f"staff:{current_user.id}")
    except OperationRefused as refusal:
        db.session.rollback()
        refusal_on(form, refusal)
        # An unknown key typed into the form is bad input (422), not a missing page as on the API (404).
        status = 422 if refusal.http_status == 404 else refusal.http_status
        return render_template("enforcement/new_violation.html", form=form), status
    db.session.commit()
    if recorded.duplicate:
        flash(f"You already recorded a report with the reference {recorded.violation.reference}: this is its "
              "investigation. Nothing new was recorded.", "info")
    else:
        name = db.session.get(Institution, recorded.violation.institution_id).legal_name
        keys = f"{recorded.frozen_keys} key{'' if recorded.frozen_keys == 1 else 's'}"
        flash(f"Report recorded: {name} is frozen ({keys} suspended) and told by e-mail.", "success")
    return redirect(url_for("enforcement.case", investigation_id=recorded.investigation.id), code=303)


# --- the institution: reinstatement ----------------------------------------------------------------


@bp.route("/institution/reinstatement", methods=["GET", "POST"])
@applicant_required
def reinstatement():
    institution = db.session.get(Institution, current_user.institution_id) or abort(404)
    form = ReinstatementForm()
    investigation = unresolved_investigation(institution.id)
    status = 200
    if form.is_submitted():
        status = 422
        if investigation is None:
            form.form_errors.append("Nothing is waiting for your agreement.")
            status = 409
        elif form.validate_on_submit():
            try:
                # Locked, so a compliance decision made at the same moment waits for this one (or wins).
                locked = lock_investigation(investigation.id, None)
                decisions.reinstate(
                    locked, user=current_user._get_current_object(),
                    rules_version_id=whole_number(form.rules_version_id.data) or 0,
                    shown_sha256=form.rules_sha256.data or "", signer_name=form.signer_name.data.strip(),
                    signer_title=form.signer_title.data.strip(), ip=client_ip(),
                    user_agent=request.user_agent.string[:500])
            except OperationRefused as refusal:
                db.session.rollback()
                refusal_on(form, refusal)
                status = refusal.http_status
                investigation = unresolved_investigation(institution.id)
            else:
                db.session.commit()
                flash("Access restored: your institution is active again, and its keys work again.", "success")
                return redirect(url_for("keys.index"), code=303)
    rules = current_rules(RISK_CONTROL)
    if rules is not None:
        # Always the version shown now: after "the rules changed" the person agrees to the new text.
        form.rules_version_id.data, form.rules_sha256.data = str(rules.id), rules.sha256
    return render_template(
        "enforcement/reinstatement.html", form=form, institution=institution, investigation=investigation,
        rules=rules, reports=[report_summary(v) for v in violations_of(investigation)] if investigation else [],
        awaiting=investigation is not None and investigation.status == AWAITING_AGREEMENT,
    ), status
