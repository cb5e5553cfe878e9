"""The applicant's application form: start, the company and profile steps, and withdrawal. Ownership
has its own module; the documents step is the documents part's; review-and-submit and the status page
are the portal's (they draw on every part)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..db import db
from ..forms import ConfirmForm
from ..institutions.access import SCOPES
from ..institutions.models import PROSPECT
from ..institutions.referral_codes import referral_code
from ..security import applicant_required
from . import operations as ops
from .completeness import STEPS, step_status
from .forms import CompanyForm, ProfileForm
from .pages import after_save, attempt, bp, commit_or_explain, current_application, step_context, step_url


@bp.route("")
@applicant_required
def overview():
    application = ops.application_for(current_user)
    if application is None and current_user.institution.status != PROSPECT:
        # An institution with access manages it and does not apply again: the application that granted it
        # (with its letter) is on the status page, the access itself on the keys page.
        granted = ops.institution_applications(current_user)
        return redirect(url_for("portal.status") if granted else url_for("keys.index"))
    if application is None:
        return render_template("applications/start.html", form=ConfirmForm(),
                               applications=ops.institution_applications(current_user))
    if not application.is_editable:
        return redirect(url_for("portal.status"))
    status = step_status(application)
    first_open = next((s for s, _ in STEPS if status.get(s) != "complete"), "review")
    return redirect(step_url(first_open))


@bp.route("/start", methods=["POST"])
@applicant_required
def start():
    if ConfirmForm().validate_on_submit():
        started = attempt(lambda: ops.start_application(current_user))
        if not started:
            return redirect(url_for("applications.overview"))
        db.session.commit()
        flash("Your application is started. Each step is saved as a draft: you can leave and come back.", "success")
    return redirect(url_for("applications.company"))


@bp.route("/company", methods=["GET", "POST"])
@applicant_required
def company():
    application = current_application()
    form = CompanyForm(obj=None if request.method == "POST" else application)
    form.own_institution_id = application.institution_id
    if request.method == "GET":
        form.is_regulated.data = {True: "yes", False: "no"}.get(application.is_regulated)
        form.trading_names.data = application.trading_names
        form.referral_code.data = referral_code(application.referred_by_institution_id) \
            if application.referred_by_institution_id else ""
    if form.validate_on_submit() and (not form.completing or form.check_complete()):
        saved = attempt(lambda: ops.save_company(application, form.values(), complete=form.completing), form=form)
        if saved and commit_or_explain():
            return after_save("company", form)
    return render_template("applications/company.html", form=form, **step_context(application, "company"))


@bp.route("/profile", methods=["GET", "POST"])
@applicant_required
def profile():
    application = current_application()
    form = ProfileForm(obj=None if request.method == "POST" else application)
    if form.validate_on_submit() and (not form.completing or form.check_complete()):
        saved = attempt(lambda: ops.save_profile(application, form.values(), complete=form.completing), form=form)
        if saved and commit_or_explain():
            return after_save("profile", form)
    return render_template("applications/profile.html", form=form, scopes=SCOPES,
                           **step_context(application, "profile"))


@bp.route("/withdraw", methods=["POST"])
@applicant_required
def withdraw():
    application = ops.application_for(current_user)
    if application is None:  # a second click after the first withdrew it
        flash("This application is no longer open.", "info")
        return redirect(url_for("portal.status"))
    if ConfirmForm().validate_on_submit():
        withdrawn = attempt(lambda: ops.withdraw_application(application, current_user))
        if withdrawn and commit_or_explain():
            flash(f"Application {application.reference} withdrawn.", "success")
    return redirect(url_for("portal.status"))
