"""Uploading, replacing, removing and downloading application documents."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import IO, Any

from sqlalchemy import func, select

from ..applications.models import Application, Party
from ..audit.operations import record
from ..db import db
from ..errors import OperationRefused
from ..jobs import request_job
from ..storage import UploadRefused, document_store, safe_display_name
from .models import Document
from .requirements import ALL_KINDS, Requirement, date_problems, max_file_bytes, max_files, required_documents


def associated_data(application_id: int) -> bytes:
    # Binds each stored file to its application: a file moved to another record will not open.
    return f"application:{application_id}".encode()


class DocumentRefused(OperationRefused):
    """A refusal that belongs to one field of the upload form."""


# The quick checks run on each upload. They belong to `checks`, a part above this one, which registers
# them when the app is built (`register_upload_inspection`); without a registration the upload is stored
# unchecked and the full run at submission still checks it.
UploadInspection = Callable[[Document, Application], dict[str, Any]]
_upload_inspection: list[UploadInspection] = []


def register_upload_inspection(inspect: UploadInspection) -> None:
    _upload_inspection[:] = [inspect]


def find_requirement(application: Application, key: str) -> Requirement:
    for requirement in required_documents(application):
        if requirement.key == key:
            return requirement
    raise OperationRefused("This document is no longer required for your application.")


def upload_document(
    application: Application, requirement_key: str, *, stream: IO[bytes], filename: str,
    issue_date: date | None, expiry_date: date | None, user_id: int,
) -> Document:
    """Store a document for one slot, replacing what was there. Everything is checked before the
    file is written; if anything fails, nothing is stored and nothing changes."""
    if not application.is_editable:
        raise OperationRefused(f"This application can no longer be edited: its status is “{application.state_label}”. "
                               "Documents can be changed while it is a draft or changes were requested.")
    requirement = find_requirement(application, requirement_key)
    problems = date_problems(requirement.kind, issue_date, expiry_date)
    if problems:
        field, message = next(iter(problems.items()))
        raise DocumentRefused(message, field=field)
    previous = _document_in_slot(application.id, requirement)
    count = db.session.scalar(select(func.count()).select_from(Document)
                              .where(Document.application_id == application.id))
    if previous is None and count >= max_files():
        raise DocumentRefused(f"An application can hold at most {max_files()} files. Remove one first.",
                              field="file")
    try:
        blob = document_store().save(stream, max_bytes=max_file_bytes(),
                                     associated_data=associated_data(application.id))
    except UploadRefused as refusal:
        raise DocumentRefused(refusal.message, field="file") from refusal
    display_name = safe_display_name(filename, blob.content_type).name
    try:
        if previous is not None:
            _discard(previous)
        document = _record_upload(application, requirement, blob, display_name, issue_date, expiry_date, user_id,
                                  previous)
        for inspect in _upload_inspection:
            document.upload_check = inspect(document, application)
    except Exception:
        document_store().delete(blob.storage_key)  # no record will point at it: do not keep the file
        raise
    return document


def _record_upload(application, requirement, blob, display_name, issue_date, expiry_date, user_id,
                   previous) -> Document:
    document = Document(
        application_id=application.id, party_id=requirement.party.id if requirement.party else None,
        kind=requirement.kind.kind, filename=display_name, content_type=blob.content_type, size=blob.size,
        sha256=blob.sha256, storage_key=blob.storage_key, key_id=blob.key_id, issue_date=issue_date,
        expiry_date=expiry_date, uploaded_by_id=user_id,
    )
    db.session.add(document)
    db.session.flush()
    record("document.uploaded", "application", application.id, {
        "document_id": document.id, "kind": document.kind, "party_id": document.party_id,
        "filename": display_name, "size": blob.size, "sha256": blob.sha256, "content_type": blob.content_type,
        "replaced_document_id": previous.id if previous else None,
    })
    # (If the caller's commit then fails, the file stays without a record: it can only be read with
    # its record, so it is inert; an operator can remove files whose storage key has no record.)
    return document


def _document_in_slot(application_id: int, requirement: Requirement) -> Document | None:
    party_id = requirement.party.id if requirement.party else None
    return db.session.scalar(select(Document).where(
        Document.application_id == application_id, Document.kind == requirement.kind.kind,
        Document.party_id.is_(None) if party_id is None else Document.party_id == party_id,
    ))


def _discard(document: Document) -> None:
    """Delete the record now and the encrypted file after commit (never before it)."""
    request_job("documents.delete_blob", storage_key=document.storage_key)
    db.session.delete(document)
    db.session.flush()


def discard_party_documents(application: Application, party) -> None:
    """A person or company taken out of the application takes their documents with them."""
    for document in db.session.scalars(select(Document).where(Document.application_id == application.id,
                                                              Document.party_id == party.id)).all():
        record("document.removed", "application", application.id,
               {"document_id": document.id, "kind": document.kind, "filename": document.filename,
                "reason": "party removed"})
        _discard(document)


def remove_document(application: Application, document_id: int) -> None:
    if not application.is_editable:
        raise OperationRefused(f"This application can no longer be edited: its status is “{application.state_label}”. "
                               "Documents can be changed while it is a draft or changes were requested.")
    document = db.session.get(Document, document_id)
    if document is None or document.application_id != application.id:
        raise OperationRefused("That document is not part of this application.")
    record("document.removed", "application", application.id,
           {"document_id": document.id, "kind": document.kind, "filename": document.filename})
    _discard(document)


def record_download(document: Document) -> None:
    record("document.downloaded", "application", document.application_id,
           {"document_id": document.id, "kind": document.kind, "sha256": document.sha256})


def document_label(document: Document) -> str:
    """Which document this is, in the applicant's terms: its type, and the person it is for."""
    kind = ALL_KINDS.get(document.kind)
    label = kind.label if kind else document.kind
    party = db.session.get(Party, document.party_id) if document.party_id else None
    return f"{label} for {party.name}" if party else label
