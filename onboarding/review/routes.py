"""Staff pages: the review queues, the list of every application, the screening-hit tasks and the case
page (built by case_page.py). The decisions themselves are in decision_routes.py."""

from __future__ import annotations

from flask import Blueprint, abort, has_request_context, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..accounts.models import User
from ..applications.models import STATE_LABELS, Application
from ..countries import country_name
from ..db import db, utcnow
from ..institutions.models import Institution
from ..screening.models import PENDING, ScreeningHit
from ..security import roles_required
from .case_page import render_case
from .queues import QUEUES, SORTS, Filters, queue_counts, queue_page

bp = Blueprint("review", __name__, url_prefix="/staff")


@bp.app_context_processor
def queue_navigation():
    """Queue counts for the staff navigation, on every staff page (one statement)."""
    if has_request_context() and current_user and current_user.is_authenticated and current_user.is_staff:
        return {"queue_counts": queue_counts(), "queues": QUEUES}
    return {}


def _list_page(queue_code: str | None):
    queue = QUEUES.get(queue_code) if queue_code else None
    if queue_code and queue is None:
        abort(404)
    filters = Filters.from_args(request.args, default_sort="due" if queue else "newest")
    page = queue_page(queue, filters, current_user.id)
    staff = db.session.execute(select(User.id, User.full_name).where(User.kind == "staff")
                               .order_by(User.full_name)).all()
    endpoint, endpoint_args = ("review.queue", {"code": queue.code}) if queue else ("review.applications", {})

    def list_url(**changes) -> str:
        return url_for(endpoint, **endpoint_args, **filters.args(**changes))

    return render_template("review/queue.html", queue=queue, filters=filters, result=page, now=utcnow(),
                           list_url=list_url, clear_url=url_for(endpoint, **endpoint_args),
                           sorts=SORTS, state_labels=STATE_LABELS, staff=staff, country_name=country_name)


@bp.route("/queues/<code>")
@roles_required()
def queue(code: str):
    return _list_page(code)


@bp.route("/applications")
@roles_required()
def applications():
    return _list_page(None)


@bp.route("/applications/screening-hits")
@roles_required()
def screening_hits():
    """Review tasks: every possible sanctions match still waiting for a reviewer's decision, including
    those found by ongoing monitoring after a list update."""
    rows = db.session.execute(
        select(ScreeningHit, Institution.legal_name)
        .join(Institution, Institution.id == ScreeningHit.institution_id)
        .where(ScreeningHit.disposition == PENDING)
        .order_by(ScreeningHit.found_at.desc(), ScreeningHit.score.desc()).limit(500)
    ).all()
    return render_template("review/screening_hits.html", rows=rows)


@bp.route("/applications/<int(max=2147483647):application_id>")
@roles_required()
def case(application_id: int):
    application = db.session.get(Application, application_id)
    if application is None or application.submitted_at is None:
        abort(404)
    return render_case(application)
