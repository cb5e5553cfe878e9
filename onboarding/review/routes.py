"""Staff pages: the review queues, the list of every application, the screening-hit tasks and the case
page with everything a reviewer needs to decide. The decisions themselves are in decisions.py."""

from __future__ import annotations

from flask import Blueprint, abort, has_request_context, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..accounts.models import Institution, User
from ..agreements.models import Agreement
from ..applications.forms import country_name
from ..applications.models import STATE_LABELS, Application
from ..applications.queries import ownership_summary
from ..applications.states import allowed_actions
from ..audit.models import AuditEvent
from ..checks.queries import progress_of, results_for
from ..db import db, utcnow
from ..documents.models import Document
from ..documents.requirements import ALL_KINDS
from ..screening.models import LINK_SIGNALS, LinkSignal, ScreeningHit
from ..security import roles_required
from . import operations as ops
from .models import CaseNote
from .ownership_chart import ownership_tree
from .qualification import CRITERIA, DEFAULT_MAX_KEYS, MAX_KEYS_LIMIT, MAX_SCORE, RATE_TIERS, SCOPES, TRADE_SCOPES
from .queries import all_change_requests, latest_qualification
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
        .where(ScreeningHit.disposition == "pending")
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


def render_case(application: Application, *, status: int = 200, posted: dict | None = None,
                posted_form: str = "", error=None):
    """The case page. After a refused decision it is shown again with what the reviewer typed
    (`posted`) in the form they used (`posted_form`), so nothing typed is lost."""
    results = results_for(application)
    documents = db.session.scalars(select(Document).where(Document.application_id == application.id)
                                   .order_by(Document.id)).all()
    by_document: dict[str, list] = {}
    application_results = []
    for result in results:
        if result.subject_type == "document":
            by_document.setdefault(result.subject_id, []).append(result)
        else:
            application_results.append(result)
    hits = db.session.scalars(select(ScreeningHit).where(ScreeningHit.institution_id == application.institution_id)
                              .order_by(ScreeningHit.disposition != "pending", ScreeningHit.score.desc())).all()
    signals = db.session.scalars(select(LinkSignal).where(LinkSignal.application_id == application.id)
                                 .order_by(LinkSignal.status != "open", LinkSignal.id)).all()
    others = {s.other_institution_id for s in signals}
    institutions = {i.id: i for i in db.session.scalars(select(Institution).where(Institution.id.in_(others)))} \
        if others else {}
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.subject_type == "application", AuditEvent.subject_id == str(application.id))
        .order_by(AuditEvent.id.desc()).limit(200)).all()
    notes = db.session.scalars(select(CaseNote).where(CaseNote.application_id == application.id)
                               .order_by(CaseNote.id.desc())).all()
    agreements = db.session.scalars(select(Agreement).where(Agreement.institution_id == application.institution_id)
                                    .order_by(Agreement.id.desc())).all()
    user_ids = {application.assignee_id, application.qualified_by_id, application.compliance_signoff_by_id,
                *(h.disposed_by_id for h in hits), *(s.reviewed_by_id for s in signals),
                *(d.reviewed_by_id for d in documents)} - {None}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    summary = ownership_summary(application)
    from ..letters.queries import letter_for

    return render_template(
        "review/case.html", application=application, documents=documents, by_document=by_document,
        application_results=application_results, hits=hits, signals=signals, events=events, notes=notes,
        agreements=agreements, people=people, summary=summary, tree=ownership_tree(application, summary),
        names={p.id: p.name for p in application.parties}, kinds=ALL_KINDS, link_labels=LINK_SIGNALS,
        institutions=institutions, progress=progress_of(application), country_name=country_name,
        actions=allowed_actions(application), change_requests=all_change_requests(application),
        qualification=latest_qualification(application), assignees=ops.eligible_assignees(application),
        letter=letter_for(application.id), now=utcnow(), posted=posted or {}, posted_form=posted_form,
        error=error, ops=ops, criteria=CRITERIA, max_score=MAX_SCORE, scopes=SCOPES, trade_scopes=TRADE_SCOPES,
        rate_tiers=RATE_TIERS, default_max_keys=DEFAULT_MAX_KEYS, max_keys_limit=MAX_KEYS_LIMIT,
        state_labels=STATE_LABELS, blockers=blockers(application),
    ), status


# The action that moves a case forward from each review state, for the "before you can ..." list.
FORWARD = {"document_review": "documents_accepted", "qualification_review": "qualify", "pending_approval": "approve"}


def blockers(application: Application) -> list[str]:
    """What still stands between the case and its next step, as the transition guards word it.
    (Assignment and the qualification form are shown by the page itself.)"""
    from ..applications.states import TRANSITIONS, Actor, assigned_to_actor, qualification_scored

    action = FORWARD.get(application.state)
    if action is None:
        return []
    rule = TRANSITIONS[(application.state, action)]
    actor = Actor(current_user._get_current_object())
    return [reason for guard in rule.guards if guard not in (assigned_to_actor, qualification_scored)
            and (reason := guard(application, actor))]
