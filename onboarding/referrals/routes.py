"""Referral pages: compliance's list of referrals by status with the decision on held ones; the
institution's referral code on its portal page, and the counts on the staff dashboard (both through a
context processor, as callables, so pages that do not show them run no query)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..accounts.models import User
from ..db import db
from ..errors import OperationRefused, error_page
from ..institutions.models import ACTIVE, Institution
from ..institutions.referral_codes import referral_code
from ..security import roles_required
from .forms import ReferralDecisionForm
from .models import HELD, STATUS_LABELS, Referral
from .operations import COMPLIANCE, decide_referral
from .queries import counts_by_status, credited_count, referrals

bp = Blueprint("referrals", __name__)


@bp.app_context_processor
def referral_context():
    def my_referral():
        """(code, credited referrals) for the signed-in applicant's active institution, else None."""
        if not (current_user and current_user.is_authenticated and current_user.is_applicant):
            return None
        try:
            institution = db.session.get(Institution, current_user.institution_id)
        except SQLAlchemyError:
            return None
        if institution is None or institution.status != ACTIVE:
            return None
        return referral_code(institution.id), credited_count(institution.id)
    return {"my_referral": my_referral, "referral_counts": counts_by_status, "referral_labels": STATUS_LABELS}


def render_list(status_filter: str, *, form: ReferralDecisionForm | None = None, failed_id: int | None = None,
                error: OperationRefused | None = None, status: int = 200):
    rows = referrals(status_filter or None)
    names = {i.id: i.legal_name for i in db.session.scalars(select(Institution).where(Institution.id.in_(
        {r.referrer_institution_id for r in rows} | {r.referred_institution_id for r in rows})))} if rows else {}
    people = dict(db.session.execute(select(User.id, User.full_name).where(User.id.in_(
        {r.decided_by_id for r in rows if r.decided_by_id}))).all()) if rows else {}
    return render_template("referrals/list.html", rows=rows, names=names, people=people, counts=counts_by_status(),
                           labels=STATUS_LABELS, status_filter=status_filter, form=form or ReferralDecisionForm(),
                           failed_id=failed_id, error=error, officer=current_user.has_role(COMPLIANCE)), status


@bp.route("/staff/referrals")
@roles_required()
def index():
    status_filter = request.args.get("status", "")
    return render_list(status_filter if status_filter in STATUS_LABELS else "")


@bp.post("/staff/referrals/<int(max=2147483647):referral_id>/decide")
@roles_required(COMPLIANCE)
def decide(referral_id: int):
    form = ReferralDecisionForm()
    if not form.validate_on_submit():
        return error_page(400, "The form expired or was not sent from this site. Reload the page and try again.")
    referral = db.session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update()) or abort(404)
    try:
        decide_referral(referral, request.form.get("verdict"), request.form.get("reason"),
                        current_user._get_current_object())
    except OperationRefused as refusal:
        db.session.rollback()
        return render_list(HELD, form=form, failed_id=referral_id, error=refusal, status=refusal.http_status)
    db.session.commit()
    flash("Referral voided: no credit, and both institutions are told by e-mail." if referral.status == "voided"
          else "Referral credited to the referrer.", "success")
    return redirect(url_for("referrals.index"), code=303)
