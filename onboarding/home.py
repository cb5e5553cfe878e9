"""The front page and the two home pages: one for applicants, one for staff."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from .accounts.models import STAFF_ROLES
from .audit.models import AuditEvent
from .db import db
from .security import applicant_required, roles_required

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return render_template("home/landing.html")
    if current_user.is_staff:
        return redirect(url_for("home.staff"))
    return redirect(url_for("home.applicant"))


@bp.route("/portal")
@applicant_required
def applicant():
    institution = current_user.institution
    history = db.session.scalars(
        select(AuditEvent)
        .where(
            ((AuditEvent.subject_type == "institution") & (AuditEvent.subject_id == str(institution.id)))
            | ((AuditEvent.subject_type == "user") & (AuditEvent.subject_id == str(current_user.id)))
        )
        .where(AuditEvent.action.notin_(["user.login_failed", "user.mfa_failed"]))
        .order_by(AuditEvent.id.desc())
        .limit(10)
    ).all()
    from .applications.queries import latest_application

    return render_template("home/applicant.html", institution=institution, history=history,
                           application=latest_application(institution.id))


@bp.route("/staff")
@roles_required()
def staff():
    from sqlalchemy import func

    from .applications.models import Application
    from .screening.models import LinkSignal, ScreeningHit

    counts = dict(db.session.execute(
        select(Application.state, func.count()).where(Application.submitted_at.is_not(None))
        .group_by(Application.state)).all())
    pending_hits = db.session.scalar(select(func.count()).select_from(ScreeningHit)
                                     .where(ScreeningHit.disposition == "pending"))
    open_signals = db.session.scalar(select(func.count()).select_from(LinkSignal).where(LinkSignal.status == "open"))
    return render_template("home/staff.html", role_labels=STAFF_ROLES, counts=counts, pending_hits=pending_hits,
                           open_signals=open_signals)


@bp.route("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), code=301)
