"""The audit log as staff read it: newest first, filterable, with the chain's health."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import func, select

from ..db import db
from ..security import roles_required
from ..textsearch import containing
from .models import AuditEvent
from .operations import verify_chain

bp = Blueprint("audit", __name__, url_prefix="/staff/audit")

PAGE_SIZE = 50
SEARCH_LIMIT = 100


@bp.route("")
@roles_required("admin", "compliance")
def log():
    action = request.args.get("action", "").strip()
    subject = request.args.get("subject", "").strip()
    search = request.args.get("q", "").strip()[:SEARCH_LIMIT]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = select(AuditEvent)
    if search:
        # Who did it, what was done, or to what: the text a compliance officer remembers of an event.
        query = query.where(containing(search, AuditEvent.actor_label, AuditEvent.action, AuditEvent.subject_type,
                                       AuditEvent.subject_id))
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if subject:
        subject_type, _, subject_id = subject.partition(":")
        query = query.where(AuditEvent.subject_type == subject_type)
        if subject_id:
            query = query.where(AuditEvent.subject_id == subject_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    events = db.session.scalars(
        query.order_by(AuditEvent.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    chain = verify_chain() if request.args.get("verify") else None
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_template(
        "audit/log.html", events=events, total=total, page=page, pages=pages, action=action, subject=subject,
        search=search, chain=chain,
    )
