"""The front page and the two home pages: one for applicants, one for staff."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from .accounts.models import STAFF_ROLES
from .applications.queries import latest_application
from .audit.models import AuditEvent
from .dashboard.overview import staff_overview
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
    return render_template("home/applicant.html", institution=institution, history=history,
                           application=latest_application(institution.id))


@bp.route("/staff")
@roles_required()
def staff():
    """The staff dashboard: the queues of the user's roles, then the figures of the whole team."""
    return render_template("home/staff.html", role_labels=STAFF_ROLES, **staff_overview())


@bp.route("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.svg"), code=301)
