"""The reviewer's actions on a case page, one POST route each. Every route locks the case, checks the
version of the page the reviewer saw, lets the operation decide, and commits or refuses as a whole."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import Blueprint, Response, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from ..accounts.models import User
from ..applications.models import Application
from ..db import db
from ..documents.models import Document
from ..documents.operations import associated_data
from ..errors import OperationRefused, error_page
from ..forms import FlaskForm
from ..screening.models import LinkSignal, ScreeningHit
from ..security import roles_required
from ..storage import TamperedDocument, document_store
from ..templating import plural
from . import operations as ops
from . import permissions
from .case_page import render_case
from .preview import preview_or_placeholder
from .preview_cache import cached_preview, keep_preview
from .qualification import CRITERIA

# Ids are bounded so an absurd number is a 404, not an integer overflow in the database driver.
bp = Blueprint("decisions", __name__, url_prefix="/staff/applications/<int(max=2147483647):application_id>")


class CaseForm(FlaskForm):
    """CSRF protection for every case form; the fields are read and checked by the operations."""


def form_int(value: str | None) -> int | None:
    """A non-negative whole number typed in a form, or None (never an exception: '²' is a digit to
    str.isdigit but not to int())."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


def _seen_version() -> int | None:
    return form_int(request.form.get("version"))


def _act(application_id: int, form_name: str, operation: Callable[[Application], str], *,
         anchor: str = "", check_version: bool = True):
    """Run `operation` on the locked case; it returns the success message. On refusal nothing is saved
    and the case page is shown again with the reviewer's input and the reason."""
    form = CaseForm()
    if not form.validate_on_submit():
        return error_page(400, "The form expired or was not sent from this site. Reload the case and try again.")
    seen = _seen_version()
    if check_version and seen is None:
        return error_page(400, "The form did not say which version of the case it was made from. Reload the case "
                               "and try again.")
    try:
        application = ops.lock_case(application_id, seen if check_version else None)
        if application is None:
            abort(404)
        message = operation(application)
        db.session.commit()
    except OperationRefused as refusal:
        db.session.rollback()
        application = db.session.get(Application, application_id)
        if application is None:
            abort(404)
        return render_case(application, status=refusal.http_status, posted=request.form.to_dict(flat=False),
                           posted_form=form_name, error=refusal)
    except StaleDataError:
        # SQLite has no row lock: the version counter catches the second writer at flush instead.
        db.session.rollback()
        application = db.session.get(Application, application_id)
        if application is None:
            abort(404)
        message = ops.STALE
        if form_name == "claim" and application.assignee_id not in (None, current_user.id):
            holder = db.session.get(User, application.assignee_id)
            message = f"{holder.full_name} claimed this case first. An admin can reassign it."
        return render_case(application, status=409, posted=request.form.to_dict(flat=False), posted_form=form_name,
                           error=OperationRefused(message))
    flash(message, "success")
    return redirect(url_for("review.case", application_id=application_id) + (f"#{anchor}" if anchor else ""),
                    code=303)


def staff_allowed(predicate: Callable[[User], bool]):
    """Staff for whom `predicate` (one of review.permissions) holds; others get 403. The operation
    checks the same predicate again, with the case, inside the transaction."""

    def decorator(view):
        @roles_required()
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not predicate(current_user):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _get(model, object_id: int):
    item = db.session.get(model, object_id)
    if item is None:
        abort(404)
    return item


@bp.post("/claim")
@roles_required()
def claim(application_id: int):
    def run(application):
        ops.claim(application, current_user)
        return "The case is assigned to you."
    # No version check: the claim itself checks the locked row's assignee, so the loser of a race is
    # told who won rather than that "the case changed".
    return _act(application_id, "claim", run, check_version=False)


@bp.post("/release")
@roles_required()
def release(application_id: int):
    def run(application):
        ops.release(application, current_user)
        return "The case is back in its queue, unassigned."
    return _act(application_id, "assign", run)


@bp.post("/assign")
@staff_allowed(permissions.can_assign)
def assign(application_id: int):
    def run(application):
        value = form_int(request.form.get("assignee_id"))
        assignee = db.session.get(User, value) if value is not None else None
        ops.assign(application, assignee, current_user)
        return f"The case is assigned to {assignee.full_name}."
    return _act(application_id, "assign", run)


@bp.post("/documents/<int(max=2147483647):document_id>/decision")
@roles_required()
def document_decision(application_id: int, document_id: int):
    def run(application):
        document = _get(Document, document_id)
        decision = request.form.get("decision", "")
        ops.decide_document(application, document, decision, request.form.get("reason") or None,
                            request.form.get("comment"), current_user)
        return f"{document.filename}: {ops.DOCUMENT_DECISIONS[decision].lower()} recorded."
    return _act(application_id, f"document-{document_id}", run, anchor=f"document-{document_id}")


@bp.post("/hits/<int(max=2147483647):hit_id>/disposition")
@roles_required()
def hit_disposition(application_id: int, hit_id: int):
    def run(application):
        hit = _get(ScreeningHit, hit_id)
        disposition = request.form.get("disposition", "")
        ops.disposition_hit(application, hit, disposition, request.form.get("reason"), current_user)
        return f"{hit.subject_name}: recorded as {ops.HIT_DISPOSITIONS[disposition].lower()}."
    return _act(application_id, f"hit-{hit_id}", run, anchor="hits")


@bp.post("/signals/<int(max=2147483647):signal_id>/review")
@roles_required()
def signal_review(application_id: int, signal_id: int):
    def run(application):
        signal = _get(LinkSignal, signal_id)
        status = request.form.get("status", "")
        ops.review_signal(application, signal, status, request.form.get("note"), current_user)
        return f"Signal {status}."
    return _act(application_id, f"signal-{signal_id}", run, anchor="links")


@bp.post("/linked/<int(max=2147483647):institution_id>/review")
@roles_required()
def signals_review(application_id: int, institution_id: int):
    def run(application):
        signals = ops.review_signals_with(application, institution_id, request.form.get("status", ""),
                                          request.form.get("note"), current_user)
        decided = "confirmed" if signals[0].status == "confirmed" else "dismissed"
        return f"{plural(len(signals), 'signal')} {decided}."
    # Back to the group just decided, not to the top of a long page.
    return _act(application_id, f"linked-{institution_id}", run, anchor=f"linked-{institution_id}")


@bp.post("/notes")
@roles_required()
def add_note(application_id: int):
    def run(application):
        ops.add_note(application, request.form.get("body"), current_user)
        return "Note added."
    return _act(application_id, "note", run, anchor="notes", check_version=False)


@bp.post("/signoff")
@staff_allowed(permissions.can_sign_off)
def signoff(application_id: int):
    def run(application):
        ops.compliance_signoff(application, request.form.get("note"), current_user)
        return "Compliance sign-off recorded."
    return _act(application_id, "signoff", run)


@bp.post("/accept-documents")
@roles_required()
def accept_documents(application_id: int):
    def run(application):
        ops.accept_documents(application, current_user)
        return "Documents accepted: the case moves to qualification review."
    return _act(application_id, "decision", run)


@bp.post("/request-changes")
@roles_required()
def request_changes(application_id: int):
    def run(application):
        steps = request.form.getlist("item_step")
        messages = request.form.getlist("item_message")
        created = ops.request_changes(application, list(zip(steps, messages, strict=False)), current_user)
        return f"Changes requested ({plural(len(created), 'item')}). The applicant is told."
    return _act(application_id, "request_changes", run)


@bp.post("/qualify")
@roles_required()
def qualify(application_id: int):
    def run(application):
        scores = {}
        for criterion in CRITERIA:
            scores[criterion.code] = (form_int(request.form.get(f"{criterion.code}_score")),
                                      request.form.get(f"{criterion.code}_note"))
        ops.qualify(application, scores=scores, granted_scopes=request.form.getlist("granted_scopes"),
                    rate_tier=request.form.get("rate_tier"), max_keys=form_int(request.form.get("max_keys")),
                    summary=request.form.get("summary"), user=current_user)
        return "Qualification recorded: the case waits for an approver."
    return _act(application_id, "qualify", run)


@bp.post("/approve")
@roles_required()
def approve(application_id: int):
    def run(application):
        ops.approve(application, current_user)
        return "Approved. The institution is active; its approval letter is being prepared and e-mailed."
    return _act(application_id, "decision", run)


@bp.post("/send-back")
@roles_required()
def send_back(application_id: int):
    def run(application):
        ops.send_back(application, request.form.get("reason"), current_user)
        return "Sent back to qualification review."
    return _act(application_id, "send_back", run)


@bp.post("/reject")
@roles_required()
def reject(application_id: int):
    def run(application):
        ops.reject(application, request.form.get("category"), request.form.get("note"), current_user)
        return "Application rejected. The applicant is told the reason category, never the internal notes."
    return _act(application_id, "reject", run)


@bp.get("/documents/<int(max=2147483647):document_id>/preview.png")
@roles_required()
def document_preview(application_id: int, document_id: int):
    document = db.session.get(Document, document_id)
    if document is None or document.application_id != application_id:
        abort(404)
    if document.quarantined_at is not None:
        return error_page(403, "This file was quarantined by the malware scan and is not rendered.")
    png = cached_preview(document.id, document.sha256)
    try:
        if png is None:
            data = document_store().read_all(document.storage_key, associated_data=associated_data(application_id))
            # A file that cannot be drawn gets a plain "no preview" card, so the case page never shows a
            # broken image or a server error for a hostile file. Either is kept: the file never changes.
            png, _reason = preview_or_placeholder(data, document.content_type)
            keep_preview(document.id, document.sha256, png)
    except (TamperedDocument, FileNotFoundError) as exc:
        current_app.logger.error("document %s cannot be previewed: %r", document.id, exc)
        return error_page(500, "This document's stored file failed its integrity check, so it is not shown.")
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, no-store"
    return response
