"""Review and submit, the status page and its live progress."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..agreements.models import API_USAGE
from ..agreements.operations import current_rules
from ..applications import operations as ops
from ..applications.changes import open_change_requests
from ..applications.completeness import find_problems, step_status
from ..applications.models import CHANGE_STEPS, REJECTION_CATEGORIES
from ..applications.pages import attempt, commit_or_explain, current_application, step_context, step_url
from ..applications.queries import ownership_summary
from ..applications.states import allowed_actions
from ..audit.models import AuditEvent
from ..checks.queries import applicant_check_view, progress_of
from ..db import db
from ..documents.models import Document
from ..documents.requirements import required_documents
from ..forms import ConfirmForm
from ..institutions.access import SCOPES
from ..letters.queries import letter_for
from ..security import applicant_required, client_ip
from .forms import SubmitApplicationForm
from .timeline import build_timeline, who_did

bp = Blueprint("portal", __name__, url_prefix="/application")


@bp.route("/review", methods=["GET", "POST"])
@applicant_required
def review():
    application = current_application()
    rules = current_rules(API_USAGE)
    form = SubmitApplicationForm()
    signatories = [p for p in application.parties if p.is_signatory]
    if request.method == "GET":
        # Prefill the signer: the user when they are a declared signatory, else the first one.
        signer = ops.declared_signatory(application, current_user.full_name) or next(iter(signatories), None)
        if signer is not None:
            form.signer_name.data, form.signer_title.data = signer.name, signer.title
    problems = find_problems(application)
    if request.method == "POST" and form.validate_on_submit():
        submitted = attempt(lambda: ops.submit_application(
            application, current_user, signer_name=form.signer_name.data, signer_title=form.signer_title.data,
            rules_version_id=int(v) if (v := form.rules_version_id.data or "").isdigit() else 0,
            shown_sha256=form.rules_sha256.data or "", ip=client_ip(), user_agent=request.user_agent.string,
        ), form=form)
        if not submitted and not application.is_editable:
            flash("This application has already been submitted.", "info")
            return redirect(url_for("portal.status"))
        if submitted:
            if commit_or_explain():
                flash(f"Application {application.reference} submitted. Automated checks start now.", "success")
            return redirect(url_for("portal.status"))
    if rules is not None:
        form.rules_version_id.data = str(rules.id)
        form.rules_sha256.data = rules.sha256
    summary = ownership_summary(application)
    uploaded = list(db.session.scalars(select(Document).where(Document.application_id == application.id)))
    return render_template(
        "portal/review.html", form=form, rules=rules, problems=problems, summary=summary, scopes=SCOPES,
        signatories=signatories, requirements=required_documents(application),
        documents=uploaded, names={p.id: p.name for p in application.parties},
        **step_context(application, "review"),
    )


@bp.route("/status")
@applicant_required
def status():
    application = ops.application_for(current_user)
    if application is None:
        applications = ops.institution_applications(current_user)
        if not applications:
            return redirect(url_for("applications.overview"))
        application = applications[0]
    # Only what the applicant may see: never screening results (no tipping-off), never staff names.
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.subject_type == "application",
                                 AuditEvent.subject_id == str(application.id),
                                 AuditEvent.action.in_(APPLICANT_VISIBLE_ACTIONS))
        .order_by(AuditEvent.id.desc()).limit(200)
    ).all()
    colleagues = {u.id: u.email for u in current_user.institution.users}
    timeline = build_timeline(events, lambda event: who_did(event, current_user.id, colleagues))
    return render_template(
        "portal/status.html", application=application, timeline=timeline,
        checks=applicant_check_view(application), change_requests=open_change_requests(application),
        rejection_reason=REJECTION_CATEGORIES.get(application.decision_category or ""),
        letter=letter_for(application.id) if application.state == "approved" else None,
        can_withdraw="withdraw" in allowed_actions(application), confirm_form=ConfirmForm(),
        status=step_status(application), step_url=step_url, change_steps=CHANGE_STEPS,
    )


@bp.route("/status/progress")
@applicant_required
def progress():
    """Polled by the status page while checks run, so progress shows without reloading by hand."""
    application = ops.application_for(current_user) or next(iter(ops.institution_applications(current_user)), None)
    if application is None:
        abort(404)
    return progress_of(application)


APPLICANT_VISIBLE_ACTIONS = (
    "application.started", "application.company_saved", "application.profile_saved", "application.party_added",
    "application.party_updated", "application.party_removed", "application.holding_added",
    "application.holding_removed", "application.submit", "application.withdraw", "application.checks_done",
    "application.request_changes", "application.approve", "application.reject", "document.uploaded",
    "document.removed", "application.documents_accepted", "application.qualify", "letter.issued",
)
