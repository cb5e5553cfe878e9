"""Jobs about stored documents."""

from __future__ import annotations

from sqlalchemy import select

from ..db import db
from ..jobs import job_handler
from ..storage import document_store
from .models import Document


@job_handler("documents.delete_blob")
def delete_blob(storage_key: str) -> None:
    """Remove an encrypted file whose record was deleted (replace or remove). Idempotent; a key that
    is in use again (it never is: keys are random) is left alone."""
    if db.session.scalar(select(Document.id).where(Document.storage_key == storage_key)) is None:
        document_store().delete(storage_key)
