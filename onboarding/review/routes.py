"""Staff pages: every application with its state and risk, and a case page with the automated
check results, screening hits, linked-applicant signals and the risk reasons."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from sqlalchemy import func, or_, select

from ..accounts.models import Institution
from ..applications.forms import country_name
from ..applications.models import STATE_LABELS, Application
from ..applications.queries import ownership_summary
from ..audit.models import AuditEvent
from ..checks.queries import progress_of, results_for
from ..db import db
from ..documents.models import Document
from ..documents.requirements import ALL_KINDS
from ..screening.models import LINK_SIGNALS, LinkSignal, ScreeningHit
from ..security import roles_required

bp = Blueprint("review", __name__, url_prefix="/staff/applications")

PAGE_SIZE = 50


@bp.route("")
@roles_required()
def applications():
    state = request.args.get("state", "")
    search = request.args.get("q", "").strip()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = select(Application).where(Application.submitted_at.is_not(None))
    if state in STATE_LABELS:
        query = query.where(Application.state == state)
    if search:
        like = f"%{search}%"
        query = query.where(or_(Application.legal_name.ilike(like), Application.reference.ilike(like),
                                Application.registration_number.ilike(like)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Application.submitted_at.desc())
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    counts = dict(db.session.execute(select(Application.state, func.count()).where(
        Application.submitted_at.is_not(None)).group_by(Application.state)).all())
    return render_template("review/applications.html", applications=rows, total=total, page=page,
                           pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), state=state, search=search,
                           counts=counts, state_labels=STATE_LABELS)


@bp.route("/screening-hits")
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


@bp.route("/<int:application_id>")
@roles_required()
def case(application_id: int):
    application = db.session.get(Application, application_id)
    if application is None or application.submitted_at is None:
        abort(404)
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
                              .order_by(ScreeningHit.score.desc())).all()
    signals = db.session.scalars(select(LinkSignal).where(LinkSignal.application_id == application.id)
                                 .order_by(LinkSignal.id)).all()
    others = {s.other_institution_id for s in signals}
    institution_names = dict(db.session.execute(
        select(Institution.id, Institution.legal_name).where(Institution.id.in_(others))).all()) if others else {}
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.subject_type == "application", AuditEvent.subject_id == str(application.id))
        .order_by(AuditEvent.id.desc()).limit(100)).all()
    return render_template(
        "review/case.html", application=application, documents=documents, by_document=by_document,
        application_results=application_results, hits=hits, signals=signals, events=events,
        summary=ownership_summary(application), names={p.id: p.name for p in application.parties},
        kinds=ALL_KINDS, link_labels=LINK_SIGNALS, institution_names=institution_names,
        progress=progress_of(application), country_name=country_name,
    )
