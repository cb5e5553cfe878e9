"""The applicant's application: five steps, each saved as a draft, then review, submit, status."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..agreements.models import API_USAGE
from ..agreements.operations import current_rules
from ..audit.models import AuditEvent
from ..db import db
from ..documents.models import Document
from ..documents.requirements import required_documents
from ..errors import OperationRefused
from ..security import applicant_required, client_ip
from . import operations as ops
from .completeness import STEPS, find_problems, step_status
from .forms import (
    SCOPES,
    CompanyForm,
    CompanyPartyForm,
    ConfirmForm,
    DocumentUploadForm,
    HoldingForm,
    PersonForm,
    ProfileForm,
    SubmitApplicationForm,
    choices,
    country_name,
)
from .models import COMPANY, PERSON, Application
from .queries import ownership_summary
from .states import allowed_actions

bp = Blueprint("applications", __name__, url_prefix="/application")

NEXT_STEP = {"company": "ownership", "ownership": "profile", "profile": "documents", "documents": "review"}


def _current_application() -> Application:
    application = ops.application_for(current_user)
    if application is None:
        abort(404)
    return application


def _refused(error: OperationRefused, form=None) -> None:
    if form is not None and error.field and hasattr(form, error.field):
        form[error.field].errors = [*form[error.field].errors, error.message]
    elif form is not None:
        form.form_errors.append(error.message)
    else:
        flash(error.message, "error")


def _commit_or_explain() -> bool:
    """Commit; if someone else changed the application meanwhile, say so instead of failing."""
    try:
        db.session.commit()
        return True
    except StaleDataError:
        db.session.rollback()
        flash("The application was changed in another window or by a colleague while you were editing. "
              "Your last change was not saved: please check the page and try again.", "error")
        return False


def _step_context(application: Application, step: str) -> dict:
    from ..review.queries import open_change_requests

    return {
        "application": application, "step": step, "steps": STEPS, "status": step_status(application),
        "readonly": not application.is_editable, "confirm_form": ConfirmForm(), "country_name": country_name,
        "change_requests": open_change_requests(application) if application.state == "changes_requested" else [],
    }


def _after_save(application: Application, step: str, form) -> object:
    if form.completing:
        flash("Saved.", "success")
        return redirect(url_for(f"applications.{NEXT_STEP[step]}"))
    flash("Draft saved. You can come back to it at any time.", "success")
    return redirect(url_for(f"applications.{step}"))


@bp.route("")
@applicant_required
def overview():
    application = ops.application_for(current_user)
    if application is None:
        return render_template("applications/start.html", form=ConfirmForm(),
                               applications=ops.institution_applications(current_user))
    if not application.is_editable:
        return redirect(url_for("applications.status"))
    status = step_status(application)
    first_open = next((s for s, _ in STEPS if status.get(s) != "complete"), "review")
    return redirect(url_for(f"applications.{first_open}"))


@bp.route("/start", methods=["POST"])
@applicant_required
def start():
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            ops.start_application(current_user)
        except OperationRefused as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("applications.overview"))
        db.session.commit()
        flash("Your application is started. Each step is saved as a draft: you can leave and come back.", "success")
    return redirect(url_for("applications.company"))


# --- step 1 ---------------------------------------------------------------------------------------


@bp.route("/company", methods=["GET", "POST"])
@applicant_required
def company():
    application = _current_application()
    form = CompanyForm(obj=None if request.method == "POST" else application)
    if request.method == "GET":
        form.is_regulated.data = {True: "yes", False: "no"}.get(application.is_regulated)
        form.trading_names.data = application.trading_names
    if form.validate_on_submit():
        if not form.completing or form.check_complete():
            try:
                ops.save_company(application, form.values(), complete=form.completing)
            except OperationRefused as error:
                db.session.rollback()
                _refused(error, form)
            else:
                if _commit_or_explain():
                    return _after_save(application, "company", form)
    return render_template("applications/company.html", form=form, **_step_context(application, "company"))


# --- step 2 ---------------------------------------------------------------------------------------


def _holding_form(application: Application) -> HoldingForm:
    form = HoldingForm(prefix="holding")
    companies = [p for p in application.parties if p.is_company]
    form.owned.choices = choices([("", application.legal_name or "The applicant company")] + [
        (str(p.id), p.name) for p in companies
    ])
    form.owner.choices = choices([("", "Someone new (enter below)")] + [
        (str(p.id), f"{p.name} ({'person' if p.is_person else 'company'})") for p in application.parties
    ])
    return form


def _ownership_page(application: Application, *, holding_form=None, person_form=None, company_form=None,
                    status_code: int = 200):
    summary = ownership_summary(application)
    return render_template(
        "applications/ownership.html",
        holding_form=holding_form or _holding_form(application),
        person_form=person_form or PersonForm(prefix="person"),
        summary=summary, threshold=_threshold(), names={p.id: p.name for p in application.parties},
        problems=[p for p in find_problems(application) if p.step == "ownership"],
        **_step_context(application, "ownership"),
    ), status_code


def _threshold():
    from .queries import beneficial_owner_threshold

    return beneficial_owner_threshold()


@bp.route("/ownership", methods=["GET", "POST"])
@applicant_required
def ownership():
    application = _current_application()
    if request.method == "POST":
        form = ConfirmForm()
        if form.validate_on_submit():
            complete = "save" in request.form
            try:
                ops.mark_ownership_saved(application, complete)
            except OperationRefused as error:
                db.session.rollback()
                flash(error.message, "error")
                return redirect(url_for("applications.ownership"))
            problems = [p for p in find_problems(application) if p.step == "ownership"]
            if complete and problems:
                db.session.rollback()
                flash("This step is not complete yet: see the items listed at the top.", "error")
                return redirect(url_for("applications.ownership"))
            if _commit_or_explain():
                return redirect(url_for("applications.profile" if complete else "applications.ownership"))
    return _ownership_page(application)


@bp.route("/ownership/holdings", methods=["POST"])
@applicant_required
def add_holding():
    application = _current_application()
    form = _holding_form(application)
    if not form.validate_on_submit():
        return _ownership_page(application, holding_form=form, status_code=422)
    owned = application.party(int(form.owned.data)) if form.owned.data else None
    try:
        if form.owner.data:
            owner = application.party(int(form.owner.data))
        else:
            if form.new_kind.data == COMPANY:
                owner = ops.add_party(application, COMPANY, {
                    "name": form.name.data.strip(), "jurisdiction": form.jurisdiction.data or None,
                    "registration_number": form.registration_number.data or None})
            else:
                owner = ops.add_party(application, PERSON, {
                    "name": form.name.data.strip(), "date_of_birth": form.date_of_birth.data,
                    "nationality": form.nationality.data or None, "residence": form.residence.data or None})
        ops.add_holding(application, owner, owned, form.percentage.data)
    except OperationRefused as error:
        db.session.rollback()  # the new shareholder is not kept either: nothing half-saved
        application = _current_application()
        form = _holding_form(application)
        form.process(request.form)
        _refused(error, form)
        return _ownership_page(application, holding_form=form, status_code=422)
    if _commit_or_explain():
        flash(f"{owner.name} added as a shareholder.", "success")
    return redirect(url_for("applications.ownership") + "#owners")


@bp.route("/ownership/holdings/<int:link_id>/remove", methods=["POST"])
@applicant_required
def remove_holding(link_id: int):
    application = _current_application()
    link = next((lnk for lnk in application.ownership_links if lnk.id == link_id), None)
    if link is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            ops.remove_holding(application, link)
        except OperationRefused as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            if _commit_or_explain():
                flash("Holding removed.", "success")
    return redirect(url_for("applications.ownership") + "#owners")


@bp.route("/ownership/people", methods=["POST"])
@applicant_required
def add_person():
    application = _current_application()
    form = PersonForm(prefix="person")
    if not form.validate_on_submit():
        return _ownership_page(application, person_form=form, status_code=422)
    try:
        party = ops.add_party(application, PERSON, form.values())
    except OperationRefused as error:
        db.session.rollback()
        _refused(error, form)
        return _ownership_page(_current_application(), person_form=form, status_code=422)
    if _commit_or_explain():
        flash(f"{party.name} added.", "success")
    return redirect(url_for("applications.ownership") + "#people")


@bp.route("/ownership/parties/<int:party_id>", methods=["GET", "POST"])
@applicant_required
def edit_party(party_id: int):
    application = _current_application()
    party = application.party(party_id)
    if party is None:
        abort(404)
    form_class = PersonForm if party.is_person else CompanyPartyForm
    form = form_class(obj=None if request.method == "POST" else party)
    if form.validate_on_submit():
        try:
            ops.update_party(application, party, form.values())
        except OperationRefused as error:
            db.session.rollback()
            _refused(error, form)
        else:
            if _commit_or_explain():
                flash(f"{party.name} saved.", "success")
                return redirect(url_for("applications.ownership") + f"#party-{party.id}")
    return render_template("applications/party.html", form=form, party=party,
                           **_step_context(application, "ownership"))


@bp.route("/ownership/parties/<int:party_id>/remove", methods=["POST"])
@applicant_required
def remove_party(party_id: int):
    application = _current_application()
    party = application.party(party_id)
    if party is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            ops.remove_party(application, party)
        except OperationRefused as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            if _commit_or_explain():
                flash(f"{party.name} removed, with their holdings.", "success")
    return redirect(url_for("applications.ownership"))


# --- step 3 ---------------------------------------------------------------------------------------


@bp.route("/profile", methods=["GET", "POST"])
@applicant_required
def profile():
    application = _current_application()
    form = ProfileForm(obj=None if request.method == "POST" else application)
    if form.validate_on_submit():
        if not form.completing or form.check_complete():
            try:
                ops.save_profile(application, form.values(), complete=form.completing)
            except OperationRefused as error:
                db.session.rollback()
                _refused(error, form)
            else:
                if _commit_or_explain():
                    return _after_save(application, "profile", form)
    return render_template("applications/profile.html", form=form, scopes=SCOPES,
                           **_step_context(application, "profile"))


# --- step 4 ---------------------------------------------------------------------------------------


def documents_page(application: Application, upload_form=None, failed_key: str | None = None,
                   status_code: int = 200):
    uploaded = {d.requirement_key: d for d in db.session.scalars(
        select(Document).where(Document.application_id == application.id))}
    summary = ownership_summary(application)

    def roles_of(party) -> str:
        """Why this person must provide documents."""
        roles = []
        if party.id in summary.beneficial_owners:
            roles.append(f"Beneficial owner, {ops.percent(summary.effective[party.id])}%")
        roles += [label for flag, label in ((party.is_director, "Director"), (party.is_signatory, "Signatory"),
                                            (party.is_controller, "Senior managing official")) if flag]
        return " · ".join(roles)

    return render_template(
        "applications/documents.html", requirements=required_documents(application), uploaded=uploaded,
        roles_of=roles_of,
        upload_form=upload_form, failed_key=failed_key, blank_form=DocumentUploadForm(formdata=None),
        problems=[p for p in find_problems(application) if p.step == "documents"],
        **_step_context(application, "documents"),
    ), status_code


@bp.route("/documents", methods=["GET", "POST"])
@applicant_required
def documents():
    application = _current_application()
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        complete = "save" in request.form
        try:
            ops.mark_documents_saved(application, complete)
        except OperationRefused as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("applications.documents"))
        if complete and any(p.step == "documents" for p in find_problems(application)):
            db.session.rollback()
            flash("Some documents are still missing: see the list below.", "error")
            return redirect(url_for("applications.documents"))
        if _commit_or_explain():
            return redirect(url_for("applications.review" if complete else "applications.documents"))
    return documents_page(application)


# --- step 5 ---------------------------------------------------------------------------------------


@bp.route("/review", methods=["GET", "POST"])
@applicant_required
def review():
    application = _current_application()
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
        try:
            ops.submit_application(
                application, current_user, signer_name=form.signer_name.data, signer_title=form.signer_title.data,
                rules_version_id=int(v) if (v := form.rules_version_id.data or "").isdigit() else 0,
                shown_sha256=form.rules_sha256.data or "",
                ip=client_ip(), user_agent=request.user_agent.string,
            )
        except OperationRefused as error:
            db.session.rollback()
            if not application.is_editable:
                flash("This application has already been submitted.", "info")
                return redirect(url_for("applications.status"))
            _refused(error, form)
        else:
            if _commit_or_explain():
                flash(f"Application {application.reference} submitted. Automated checks start now.", "success")
                return redirect(url_for("applications.status"))
            return redirect(url_for("applications.status"))
    if rules is not None:
        form.rules_version_id.data = str(rules.id)
        form.rules_sha256.data = rules.sha256
    summary = ownership_summary(application)
    uploaded = list(db.session.scalars(select(Document).where(Document.application_id == application.id)))
    return render_template(
        "applications/review.html", form=form, rules=rules, problems=problems, summary=summary, scopes=SCOPES,
        signatories=signatories, requirements=required_documents(application),
        documents=uploaded, names={p.id: p.name for p in application.parties},
        **_step_context(application, "review"),
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
    from ..checks.queries import applicant_check_view
    from ..letters.queries import letter_for
    from ..review.operations import REJECTION_CATEGORIES
    from ..review.queries import open_change_requests

    return render_template(
        "applications/status.html", application=application, events=_grouped(events),
        checks=applicant_check_view(application), change_requests=open_change_requests(application),
        rejection_reason=REJECTION_CATEGORIES.get(application.decision_category or ""),
        letter=letter_for(application.id) if application.state == "approved" else None,
        who=lambda event: "you" if event.actor_id == current_user.id else colleagues.get(
            event.actor_id, "automated checks" if event.actor_label == "system" else "our review team"),
        can_withdraw="withdraw" in allowed_actions(application), confirm_form=ConfirmForm(),
        status=step_status(application),
    )


@bp.route("/status/progress")
@applicant_required
def progress():
    """Polled by the status page while checks run, so progress shows without reloading by hand."""
    from ..checks.queries import progress_of

    application = ops.application_for(current_user) or next(iter(ops.institution_applications(current_user)), None)
    if application is None:
        abort(404)
    return progress_of(application)


def _grouped(events: list[AuditEvent]) -> list[tuple[AuditEvent, int]]:
    """Runs of the same action (thirteen uploads in a row) shown as one line with a count."""
    grouped: list[tuple[AuditEvent, int]] = []
    for event in events:
        if grouped and grouped[-1][0].action == event.action and event.action not in _MILESTONES:
            grouped[-1] = (grouped[-1][0], grouped[-1][1] + 1)
        else:
            grouped.append((event, 1))
    return grouped


APPLICANT_VISIBLE_ACTIONS = (
    "application.started", "application.company_saved", "application.profile_saved", "application.party_added",
    "application.party_updated", "application.party_removed", "application.holding_added",
    "application.holding_removed", "application.submit", "application.withdraw", "application.checks_done",
    "application.request_changes", "application.approve", "application.reject", "document.uploaded",
    "document.removed", "application.documents_accepted", "application.qualify", "letter.issued",
)

_MILESTONES = {"application.submit", "application.withdraw", "application.started", "application.request_changes"}


@bp.route("/withdraw", methods=["POST"])
@applicant_required
def withdraw():
    application = ops.application_for(current_user)
    if application is None:  # a second click after the first withdrew it
        flash("This application is no longer open.", "info")
        return redirect(url_for("applications.status"))
    if ConfirmForm().validate_on_submit():
        try:
            ops.withdraw_application(application, current_user)
        except OperationRefused as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            if _commit_or_explain():
                flash(f"Application {application.reference} withdrawn.", "success")
    return redirect(url_for("applications.status"))
