"""Notices about an institution's access: freeze, reinstatement and permanent restriction, issued as
PDF letters with the approval letter's machinery (render from frozen facts, store encrypted, serve only
if the SHA-256 still matches).

The caller (enforcement, which sits above this part) gathers what the notice says and calls
`request_notice` in its own transaction; the PDF is rendered by a job after that transaction commits, so
a slow or failing render never holds up or undoes the decision."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
from datetime import datetime
from typing import Any

from flask import current_app, render_template
from sqlalchemy import select
from weasyprint import HTML

from ..audit.operations import record
from ..db import db, utcnow
from ..institutions.models import Institution
from ..jobs import request_job
from ..storage import TamperedDocument, document_store
from .facts import exchange_name, long_date
from .models import NOTICE_KINDS, Notice
from .operations import MAX_LETTER_BYTES, LetterTampered
from .render import ASSETS_DIR, BundledAssetFetcher

log = logging.getLogger(__name__)


def request_notice(institution_id: int, kind: str, *, reference: str, details: dict[str, Any]) -> Notice:
    """Record the notice now (its facts frozen) and ask for its PDF once the caller's transaction commits.
    `details` is what only the caller knows (the reports, the date, the agreement...); never internal
    notes or evidence: the institution reads the notice."""
    if kind not in NOTICE_KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    institution = db.session.get(Institution, institution_id)
    issued_at = utcnow()
    notice = Notice(institution_id=institution_id, kind=kind, reference=reference, issued_at=issued_at,
                    facts=notice_facts(institution, kind, reference, issued_at, details))
    db.session.add(notice)
    db.session.flush()
    request_job("letters.notice", notice_id=notice.id)
    return notice


def notice_facts(institution: Institution, kind: str, reference: str, issued_at: datetime,
                 details: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "title": NOTICE_KINDS[kind],
        "exchange": {"name": exchange_name(), "portal": current_app.config["BASE_URL"].rstrip("/")},
        "institution": {"legal_name": institution.legal_name},
        "reference": reference,
        "issued_at": issued_at.isoformat(),
        "issued_on": long_date(issued_at),
        **details,
    }


def associated_data(notice: Notice) -> bytes:
    # Binds the stored PDF to its notice: a file moved under another notice will not open.
    return b"notice:%d" % notice.id


def notice_filename(notice: Notice) -> str:
    return f"{notice.kind}-notice-{notice.reference}-{notice.id}.pdf".replace(" ", "")


def render_notice_pdf(facts: dict[str, Any]) -> bytes:
    html = render_template("letters/notice.html", facts=facts)
    return HTML(string=html, base_url=ASSETS_DIR.as_uri() + "/", url_fetcher=BundledAssetFetcher()).write_pdf()


def issue_notice(notice: Notice) -> Notice:
    """Render and store the notice's PDF (once: a second call leaves it alone)."""
    if notice.rendered_at is not None:
        return notice
    blob = document_store().save(io.BytesIO(render_notice_pdf(notice.facts)), max_bytes=MAX_LETTER_BYTES,
                                 associated_data=associated_data(notice))
    try:
        notice.sha256, notice.size = blob.sha256, blob.size
        notice.storage_key, notice.key_id = blob.storage_key, blob.key_id
        notice.rendered_at = utcnow()
        record("notice.issued", "institution", notice.institution_id,
               {"notice_id": notice.id, "kind": notice.kind, "reference": notice.reference, "sha256": blob.sha256})
        db.session.flush()
    except BaseException:
        document_store().delete(blob.storage_key)  # no committed row will point at it
        raise
    return notice


def notices_of(institution_id: int) -> list[Notice]:
    return list(db.session.scalars(select(Notice).where(Notice.institution_id == institution_id)
                                   .order_by(Notice.id.desc())))


def verified_notice_pdf(notice: Notice) -> bytes:
    try:
        pdf = document_store().read_all(notice.storage_key or "", associated_data=associated_data(notice))
    except (TamperedDocument, FileNotFoundError, ValueError) as exc:
        log.error("notice %s cannot be opened: %r", notice.id, exc)
        raise LetterTampered(repr(exc)) from None
    if not hmac.compare_digest(hashlib.sha256(pdf).hexdigest(), notice.sha256 or ""):
        log.error("notice %s does not match its recorded SHA-256", notice.id)
        raise LetterTampered("SHA-256 mismatch")
    return pdf


def record_notice_download(notice: Notice) -> None:
    record("notice.downloaded", "institution", notice.institution_id, {"notice_id": notice.id, "kind": notice.kind})
