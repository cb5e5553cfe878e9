"""Letter pages: the public verification page (no sign-in: whoever holds a letter can check it)
and the PDF downloads for the institution's users and for staff."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_login import current_user

from ..applications.models import APPROVED, Application
from ..db import db
from ..security import applicant_required, roles_required
from .forms import VerifyForm
from .models import ApprovalLetter, Notice
from .notices import notice_filename, record_notice_download, verified_notice_pdf
from .operations import (
    LetterTampered,
    letter_filename,
    normalise_code,
    record_download,
    record_integrity_failure,
    verified_pdf,
)
from .queries import access_status, latest_approved_application, letter_by_code, letter_for

bp = Blueprint("letters", __name__)

PREPARING = "Your approval letter is being prepared. It is usually ready within a minute; please try again shortly."


@bp.route("/letters/verify")
def verify_form():
    form = VerifyForm(formdata=request.args if "code" in request.args else None)
    if "code" not in request.args:
        return render_template("letters/verify.html", form=form, letter=None, searched=False)
    if form.validate():
        return redirect(url_for(".verify", code=normalise_code(form.code.data)))
    return render_template("letters/verify.html", form=form, letter=None, searched=False), 422


@bp.route("/letters/verify/<code>")
def verify(code: str):
    canonical = normalise_code(code)
    if canonical is not None and canonical != code:
        return redirect(url_for(".verify", code=canonical))
    letter = letter_by_code(canonical) if canonical else None
    if letter is None or letter.rendered_at is None:
        form = VerifyForm(formdata=None, data={"code": code})
        return render_template("letters/verify.html", form=form, letter=None, searched=True), 404
    status_label, status_style = access_status(letter.institution_id)
    return render_template("letters/verify.html", form=VerifyForm(formdata=None), letter=letter, facts=letter.facts,
                           status_label=status_label, status_style=status_style)


@bp.route("/application/letter")
@applicant_required
def applicant_download():
    application = latest_approved_application(current_user.institution_id)
    if application is None:
        return unavailable("There is no approval letter yet: your institution has no approved application.", 404)
    return download(application, letter_for(application.id))


@bp.route("/staff/applications/<int(max=2147483647):application_id>/letter")
@roles_required()
def staff_download(application_id: int):
    application = db.session.get(Application, application_id)
    if application is None:
        abort(404)
    letter = letter_for(application.id)
    if letter is None and application.state != APPROVED:
        return unavailable(f"Application {application.reference} is not approved, so it has no approval letter.",
                           404, application)
    return download(application, letter)


def download(application: Application, letter: ApprovalLetter | None):
    if letter is None or letter.rendered_at is None:
        return unavailable(PREPARING, 404, application)
    try:
        pdf = verified_pdf(letter)
    except LetterTampered as error:
        record_integrity_failure(letter)
        db.session.commit()
        # Not a crash: the system worked and refused a file it cannot vouch for.
        return unavailable(error.message, 409, application)
    record_download(letter)
    db.session.commit()
    response = Response(pdf, mimetype="application/pdf")
    # A fixed name built from the reference: no applicant-typed text reaches the header.
    response.headers["Content-Disposition"] = f'attachment; filename="{letter_filename(letter)}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def unavailable(message: str, status: int, application: Application | None = None):
    return render_template("letters/unavailable.html", message=message, application=application), status


# --- notices about an institution's access (freeze, reinstatement, restriction) ------------------------

NOTICE_PREPARING = "This notice is being prepared. It is usually ready within a minute; please try again shortly."
NOTICE_TAMPERED = ("The stored notice failed its integrity check, so it is not served. The problem has been logged "
                   "for our team; please contact us.")


@bp.route("/institution/notices/<int(max=2147483647):notice_id>")
@applicant_required
def applicant_notice(notice_id: int):
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.institution_id != current_user.institution_id:
        abort(404)  # another institution's notice does not exist, as far as this user knows
    return notice_download(notice)


@bp.route("/staff/notices/<int(max=2147483647):notice_id>")
@roles_required()
def staff_notice(notice_id: int):
    return notice_download(db.session.get(Notice, notice_id) or abort(404))


def notice_download(notice: Notice):
    if notice.rendered_at is None:
        return render_template("letters/notice_unavailable.html", message=NOTICE_PREPARING), 404
    try:
        pdf = verified_notice_pdf(notice)
    except LetterTampered:
        return render_template("letters/notice_unavailable.html", message=NOTICE_TAMPERED), 409
    record_notice_download(notice)
    db.session.commit()
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{notice_filename(notice)}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
