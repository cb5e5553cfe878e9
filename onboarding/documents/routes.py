"""Uploading, removing and downloading documents. Downloads go through this authorised route only."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, request, stream_with_context, url_for
from flask_login import current_user, login_required

from ..applications.forms import ConfirmForm, DocumentUploadForm
from ..applications.models import Application
from ..applications.operations import application_for
from ..applications.routes import documents_page
from ..db import db
from ..errors import OperationRefused, error_page
from ..security import applicant_required, require_institution_access
from .models import Document
from .operations import DocumentRefused, associated_data, record_download, remove_document, upload_document
from .storage import TamperedDocument, document_store

bp = Blueprint("documents", __name__)

EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


@bp.route("/application/documents/upload", methods=["POST"])
@applicant_required
def upload():
    application = application_for(current_user)
    if application is None:
        abort(404)
    form = DocumentUploadForm()
    key = form.requirement.data or ""
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
        return redirect(url_for("applications.documents"))
    db.session.commit()
    flash(f"{document.filename} uploaded.", "success")
    return redirect(url_for("applications.documents") + f"#slot-{key.replace(':', '-')}")


@bp.route("/application/documents/<int:document_id>/remove", methods=["POST"])
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
    return redirect(url_for("applications.documents"))


@bp.route("/documents/<int:document_id>/download")
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
