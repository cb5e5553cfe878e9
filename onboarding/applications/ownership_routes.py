"""Step 2 of the application: shareholders through chains of companies, the people (owners, directors,
signatories, a senior managing official), and what the ownership adds up to."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..db import db
from ..forms import ConfirmForm
from ..security import applicant_required
from . import operations as ops
from .completeness import find_problems
from .forms import CompanyPartyForm, HoldingForm, PersonForm, choices
from .models import COMPANY, PERSON, Application
from .pages import attempt, bp, commit_or_explain, current_application, show_refusal, step_context
from .queries import beneficial_owner_threshold, ownership_summary


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
        summary=summary, threshold=beneficial_owner_threshold(), names={p.id: p.name for p in application.parties},
        problems=[p for p in find_problems(application) if p.step == "ownership"],
        **step_context(application, "ownership"),
    ), status_code


@bp.route("/ownership", methods=["GET", "POST"])
@applicant_required
def ownership():
    application = current_application()
    if request.method == "POST":
        form = ConfirmForm()
        if form.validate_on_submit():
            complete = "save" in request.form
            saved = attempt(lambda: ops.mark_ownership_saved(application, complete))
            if not saved:
                return redirect(url_for("applications.ownership"))
            problems = [p for p in find_problems(application) if p.step == "ownership"]
            if complete and problems:
                db.session.rollback()
                flash("This step is not complete yet: see the items listed at the top.", "error")
                return redirect(url_for("applications.ownership"))
            if commit_or_explain():
                return redirect(url_for("applications.profile" if complete else "applications.ownership"))
    return _ownership_page(application)


@bp.route("/ownership/holdings", methods=["POST"])
@applicant_required
def add_holding():
    application = current_application()
    form = _holding_form(application)
    if not form.validate_on_submit():
        return _ownership_page(application, holding_form=form, status_code=422)
    owned = application.party(int(form.owned.data)) if form.owned.data else None

    def add_holding():
        if form.owner.data:
            owner = application.party(int(form.owner.data))
        elif form.new_kind.data == COMPANY:
            owner = ops.add_party(application, COMPANY, {
                "name": form.name.data.strip(), "jurisdiction": form.jurisdiction.data or None,
                "registration_number": form.registration_number.data or None})
        else:
            owner = ops.add_party(application, PERSON, {
                "name": form.name.data.strip(), "date_of_birth": form.date_of_birth.data,
                "nationality": form.nationality.data or None, "residence": form.residence.data or None})
        ops.add_holding(application, owner, owned, form.percentage.data)
        return owner

    added = attempt(add_holding, show=False)
    if not added:
        # The new shareholder is not kept either (nothing half-saved): the form is rebuilt on the
        # application as it is now, with what was typed and the reason.
        application = current_application()
        form = _holding_form(application)
        form.process(request.form)
        show_refusal(added.refusal, form)
        return _ownership_page(application, holding_form=form, status_code=422)
    owner = added.value
    if commit_or_explain():
        flash(f"{owner.name} added as a shareholder.", "success")
    return redirect(url_for("applications.ownership") + "#owners")


@bp.route("/ownership/holdings/<int(max=2147483647):link_id>/remove", methods=["POST"])
@applicant_required
def remove_holding(link_id: int):
    application = current_application()
    link = next((lnk for lnk in application.ownership_links if lnk.id == link_id), None)
    if link is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        removed = attempt(lambda: ops.remove_holding(application, link))
        if removed and commit_or_explain():
            flash("Holding removed.", "success")
    return redirect(url_for("applications.ownership") + "#owners")


@bp.route("/ownership/people", methods=["POST"])
@applicant_required
def add_person():
    application = current_application()
    form = PersonForm(prefix="person")
    if not form.validate_on_submit():
        return _ownership_page(application, person_form=form, status_code=422)
    added = attempt(lambda: ops.add_party(application, PERSON, form.values()), form=form)
    if not added:
        return _ownership_page(current_application(), person_form=form, status_code=422)
    party = added.value
    if commit_or_explain():
        flash(f"{party.name} added.", "success")
    return redirect(url_for("applications.ownership") + "#people")


@bp.route("/ownership/parties/<int(max=2147483647):party_id>", methods=["GET", "POST"])
@applicant_required
def edit_party(party_id: int):
    application = current_application()
    party = application.party(party_id)
    if party is None:
        abort(404)
    form_class = PersonForm if party.is_person else CompanyPartyForm
    form = form_class(obj=None if request.method == "POST" else party)
    if form.validate_on_submit():
        saved = attempt(lambda: ops.update_party(application, party, form.values()), form=form)
        if saved and commit_or_explain():
            flash(f"{party.name} saved.", "success")
            return redirect(url_for("applications.ownership") + f"#party-{party.id}")
    return render_template("applications/party.html", form=form, party=party,
                           **step_context(application, "ownership"))


@bp.route("/ownership/parties/<int(max=2147483647):party_id>/remove", methods=["POST"])
@applicant_required
def remove_party(party_id: int):
    application = current_application()
    party = application.party(party_id)
    if party is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        removed = attempt(lambda: ops.remove_party(application, party))
        if removed and commit_or_explain():
            flash(f"{party.name} removed, with their holdings.", "success")
    return redirect(url_for("applications.ownership"))
