"""The documents step of the application (step 4), uploading and removing its files, and downloading
them. Downloads go through this authorised route only."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
)
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from ..applications.models import Application
from ..applications.operations import application_for, mark_documents_saved, percent
from ..applications.pages import attempt, commit_or_explain, current_application, step_context, step_url
from ..applications.queries import ownership_summary
from ..db import db
from ..errors import OperationRefused, error_page
from ..forms import ConfirmForm
from ..security import applicant_required, require_institution_access
from ..storage import TamperedDocument, document_store, safe_display_name
from .completeness import document_problems
from .forms import DocumentUploadForm
from .models import UNUSABLE, WARNING, Document
from .operations import DocumentRefused, associated_data, record_download, remove_document, upload_document
from .requirements import max_file_bytes, required_documents

bp = Blueprint("documents", __name__)

EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def documents_page(application: Application, upload_form=None, failed_key: str | None = None,
                   status_code: int = 200):
    uploaded = {d.requirement_key: d for d in db.session.scalars(
        select(Document).where(Document.application_id == application.id))}
    summary = ownership_summary(application)
    context = step_context(application, "documents")
    requirements = required_documents(application)
    asks = change_asks(context["change_requests"], uploaded, {r.key: slot_label(r) for r in requirements})

    def roles_of(party) -> str:
        """Why this person must provide documents."""
        roles = []
        if party.id in summary.beneficial_owners:
            roles.append(f"Beneficial owner, {percent(summary.effective[party.id])}%")
        roles += [label for flag, label in ((party.is_director, "Director"), (party.is_signatory, "Signatory"),
                                            (party.is_controller, "Senior managing official")) if flag]
        return " · ".join(roles)

    return render_template(
        "applications/documents.html", requirements=requirements, uploaded=uploaded,
        roles_of=roles_of, asks=asks, to_replace=sum(1 for a in asks.values() if a["open"]),
        upload_form=upload_form, failed_key=failed_key, blank_form=DocumentUploadForm(formdata=None),
        problems=document_problems(application), max_file_bytes=max_file_bytes(),
        **context,
    ), status_code


def slot_label(requirement) -> str:
    return requirement.kind.label + ("" if requirement.party is None else f" for {requirement.party.name}")


def change_asks(change_requests, uploaded: dict[str, Document], slots: dict[str, str]) -> dict[str, dict]:
    """For each document slot a reviewer asked to replace: their words, and whether it is still open
    (the file they turned down is still there, or nothing is) or answered by a new upload. `slots`
    maps each slot to its label; inside the slot the label the request starts with is not repeated."""
    asks: dict[str, dict] = {}
    for change in change_requests:
        if change.step != "documents" or change.document_slot not in slots:
            continue
        ask = asks.setdefault(change.document_slot, {"messages": [], "open": True})
        ask["messages"].append(change.message.removeprefix(slots[change.document_slot] + ": "))
        document = uploaded.get(change.document_slot)
        ask["open"] = document is None or document.review_status in ("reupload", "rejected")
    return asks


@bp.route("/application/documents", methods=["GET", "POST"])
@applicant_required
def step():
    """Step 4 of the application: every required document, slot by slot."""
    application = current_application()
    if request.method == "POST" and ConfirmForm().validate_on_submit():
        complete = "save" in request.form
        saved = attempt(lambda: mark_documents_saved(application, complete))
        if not saved:
            return redirect(step_url("documents"))
        if complete and document_problems(application):
            db.session.rollback()
            flash("Some documents are still missing: see the list below.", "error")
            return redirect(step_url("documents"))
        if commit_or_explain():
            return redirect(step_url("review" if complete else "documents"))
    return documents_page(application)


@bp.route("/application/documents/upload", methods=["POST"])
@applicant_required
def upload():
    application = application_for(current_user)
    if application is None:
        abort(404)
    form = DocumentUploadForm()
    key = form.requirement.data or request.args.get("slot", "")
    if not form.validate_on_submit():
        return documents_page(application, upload_form=form, failed_key=key, status_code=422)
    file = request.files.get("file")
    if file is None or not file.filename:
        form.file.errors = ["Choose a file to upload."]
        return documents_page(application, upload_form=form, failed_key=key, status_code=422)
    try:
        document = upload_document(
            application, key, stream=file.stream, filename=file.filename, issue_date=form.issue_date.data,
            expiry_date=form.expiry_date.data, user_id=current_user.id,
        )
    except DocumentRefused as error:
        db.session.rollback()
        form[error.field].errors = [*form[error.field].errors, error.message]
        return documents_page(application, upload_form=form, failed_key=key, status_code=422)
    except OperationRefused as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(step_url("documents"))
    db.session.commit()
    renamed = safe_display_name(file.filename, document.content_type).changes
    if renamed:
        flash(f"We saved your file as “{document.filename}”: we {'; '.join(renamed)}. The file itself is "
              "unchanged.", "warning")
    flash(*upload_message(document))
    return redirect(step_url("documents") + f"#slot-{key.replace(':', '-')}")


def upload_message(document: Document) -> tuple[str, str]:
    """The flash after an upload: the verdict of the quick checks, in the applicant's words."""
    check = document.upload_check or {}
    findings = check.get("findings", [])
    if check.get("verdict") == UNUSABLE:
        failed = next(f for f in findings if f["outcome"] == "fail")
        return (f"{document.filename} cannot be used: {failed['detail']} {failed.get('advice') or ''}".strip(),
                "error")
    if check.get("verdict") == WARNING:
        warnings = " ".join(f["detail"] for f in findings)
        return (f"{document.filename} uploaded and can be used, with "
                f"{'a warning' if len(findings) == 1 else f'{len(findings)} warnings'} our reviewers will see: "
                f"{warnings}", "warning")
    return f"{document.filename} uploaded.", "success"


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error):
    """A file over the request limit is refused before the form is read: answer at the file field of the
    slot (named in the form's URL) instead of a bare error page."""
    applicant = current_user.is_authenticated and current_user.is_applicant
    application = application_for(current_user) if applicant else None
    if request.endpoint != "documents.upload" or application is None:
        return error_page(413)
    # The body was refused unread: record it as empty the way werkzeug caches a parsed body, so the
    # page's forms do not try to read it again (and raise the 413 a second time).
    request.__dict__.update(form=ImmutableMultiDict(), files=ImmutableMultiDict())
    key = request.args.get("slot", "")
    message = (f"The file is larger than {max_file_bytes() // (1024 * 1024)} MB. Upload a smaller file "
               "(for example a compressed PDF or a scan at a lower resolution).")
    form = DocumentUploadForm(formdata=None)
    form.file.errors = [message]
    if key not in {r.key for r in required_documents(application)}:
        flash(message, "error")  # no slot to show it at (an old form without the slot in its address)
    return documents_page(application, upload_form=form, failed_key=key, status_code=413)


@bp.route("/application/documents/<int(max=2147483647):document_id>/remove", methods=["POST"])
@applicant_required
def remove(document_id: int):
    application = application_for(current_user)
    if application is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            remove_document(application, document_id)
        except OperationRefused as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash("Document removed.", "success")
    return redirect(step_url("documents"))


@bp.route("/documents/<int(max=2147483647):document_id>/download")
@login_required
def download(document_id: int):
    document = db.session.get(Document, document_id)
    if document is None:
        abort(404)
    application = db.session.get(Application, document.application_id)
    require_institution_access(application.institution_id)
    if document.quarantined_at is not None:
        return error_page(403, "This file was quarantined because the malware scan found something in it, so it "
                               "cannot be downloaded.")
    chunks = document_store().open_chunks(document.storage_key, associated_data=associated_data(application.id))
    try:
        first = next(chunks, b"")  # authenticate the start before promising a 200
    except (TamperedDocument, FileNotFoundError) as exc:
        current_app.logger.error("document %s cannot be served: %r", document.id, exc)
        return error_page(500, "This document's stored file failed its integrity check, so it is not shown. "
                               "The problem has been logged for our team.")
    record_download(document)
    db.session.commit()

    def body():
        yield first
        yield from chunks

    response = Response(stream_with_context(body()), mimetype=document.content_type)
    # Fixed name and disposition: the uploaded name never reaches a header.
    response.headers["Content-Disposition"] = (
        f'attachment; filename="document-{document.id}.{EXTENSIONS.get(document.content_type, "bin")}"'
    )
    response.headers["Content-Length"] = str(document.size)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
