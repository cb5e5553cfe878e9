"""Per-document checks (DESIGN 4.3). Each check looks at one stored file and returns a finding:
pass, flag (a reviewer should look) or fail (the file cannot be used; the applicant is told why).

The file is decrypted once into a temporary file, so a 20 MB PDF never sits in memory whole."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..applications.models import Application
from ..db import db
from ..documents.models import Document
from ..documents.operations import associated_data
from ..documents.requirements import ALL_KINDS, date_problems
from ..storage import TamperedDocument, document_store, sniff_type
from .malware import ScannerUnavailable, scan_file
from .models import FAIL, FLAG, PASS

VERSION = "1"
# Tokens whose presence in a PDF means it can run code or carry other files (as pdfid reports them).
ACTIVE_PDF_TOKENS = {
    b"/JavaScript": "JavaScript", b"/JS": "JavaScript", b"/Launch": "a launch action",
    b"/EmbeddedFile": "embedded files", b"/OpenAction": "an action that runs on opening", b"/AA": "automatic actions",
    b"/RichMedia": "rich media", b"/XFA": "an XFA form",
}
MAX_IMAGE_PIXELS = 50_000_000  # beyond this an image is a "pixel flood", not a scan
MIN_IMAGE_SIDE = 600  # shorter side in pixels below which text is hard to read


@dataclass
class Finding:
    check_name: str
    outcome: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)
    advice: str | None = None


@contextmanager
def decrypted_copy(document: Document) -> Iterator[Path]:
    """The plaintext in a private temporary file, removed afterwards."""
    handle, name = tempfile.mkstemp(prefix="doccheck-", suffix=".bin")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in document_store().open_chunks(document.storage_key,
                                                      associated_data=associated_data(document.application_id)):
                out.write(chunk)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def check_document(document: Document, application: Application) -> list[Finding]:
    """Run every per-document check. Integrity failure of the stored file is itself a finding."""
    try:
        with decrypted_copy(document) as path:
            findings = [
                check_sha256(document, path),
                check_type(document, path),
                check_size(document, path),
            ]
            if document.content_type == "application/pdf":
                findings += [check_pdf_readable(path), check_pdf_active_content(path)]
            else:
                findings += [check_image_readable(path), _image_active_content_pass()]
            findings.append(check_dates(document))
            findings.append(check_reuse(document, application))
            if scanner_configured():
                findings.append(check_malware(path))
            return findings
    except (TamperedDocument, FileNotFoundError) as exc:
        return [Finding("document.integrity", FAIL, "The stored file is missing or failed its integrity check.",
                        {"error": type(exc).__name__},
                        advice="Upload the document again.")]


def planned_checks_per_document() -> int:
    """How many findings check_document produces for a document (for the progress count)."""
    return 7 + (1 if scanner_configured() else 0)


def check_sha256(document: Document, path: Path) -> Finding:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    actual = digest.hexdigest()
    if actual != document.sha256:
        return Finding("document.sha256", FAIL, "The file's SHA-256 differs from the one recorded at upload.",
                       {"recorded": document.sha256, "actual": actual}, advice="Upload the document again.")
    return Finding("document.sha256", PASS, f"SHA-256 {actual[:16]}… matches the upload.", {"sha256": actual})


def check_type(document: Document, path: Path) -> Finding:
    with path.open("rb") as handle:
        head = handle.read(16)
    sniffed = sniff_type(head)
    kind = ALL_KINDS.get(document.kind)
    label = kind.label if kind else document.kind
    if sniffed is None or sniffed != document.content_type:
        return Finding("document.type", FAIL, f"The content is not the {document.content_type} recorded at upload.",
                       {"recorded": document.content_type, "sniffed": sniffed},
                       advice="Upload the document as a PDF, PNG or JPEG file.")
    return Finding("document.type", PASS, f"{_type_word(sniffed)} file, accepted for “{label}”.",
                   {"content_type": sniffed, "kind": document.kind})


def check_size(document: Document, path: Path) -> Finding:
    size = path.stat().st_size
    limit = current_app.config["MAX_DOCUMENT_BYTES"]
    if size == 0:
        return Finding("document.size", FAIL, "The file is empty.", {"bytes": 0}, advice="Upload the complete file.")
    if size > limit:
        return Finding("document.size", FAIL, f"The file is larger than {limit // (1024 * 1024)} MB.", {"bytes": size},
                       advice="Upload a smaller file, for example a compressed PDF.")
    if size < 2048:
        return Finding("document.size", FLAG, f"The file is very small ({size} bytes) for a scanned document.",
                       {"bytes": size})
    return Finding("document.size", PASS, f"{size / 1024:.0f} KB.", {"bytes": size})


def check_pdf_readable(path: Path) -> Finding:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            return Finding("document.readable", FAIL, "The PDF is password-protected (encrypted).", {"encrypted": True},
                           advice="Upload a copy of the PDF without a password.")
        pages = len(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError, OSError) as exc:
        return Finding("document.readable", FAIL, "The PDF is damaged or incomplete and cannot be read.",
                       {"error": type(exc).__name__},
                       advice="Export or scan the document again and upload the new file.")
    except Exception as exc:  # pypdf raises assorted errors on hostile input; none may stop the checks
        return Finding("document.readable", FAIL, "The PDF cannot be read.", {"error": type(exc).__name__},
                       advice="Export or scan the document again and upload the new file.")
    if pages == 0:
        return Finding("document.readable", FAIL, "The PDF has no pages.", {"pages": 0},
                       advice="Upload the complete document.")
    return Finding("document.readable", PASS, f"PDF opens, {pages} page{'s' if pages != 1 else ''}.", {"pages": pages})


def check_pdf_active_content(path: Path) -> Finding:
    """A streaming token scan (like pdfid): finds active content even in damaged files."""
    found: dict[str, int] = {}
    overlap = max(len(t) for t in ACTIVE_PDF_TOKENS)
    tail = b""
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            window = tail + chunk
            for token in ACTIVE_PDF_TOKENS:
                count = _count_token(window, token) - _count_token(tail, token)
                if count:
                    found[token.decode()] = found.get(token.decode(), 0) + count
            tail = window[-overlap:]
    if not found:
        return Finding("document.active_content", PASS, "No JavaScript, launch actions or embedded files.", {})
    kinds = sorted({ACTIVE_PDF_TOKENS[t.encode()] for t in found})
    return Finding("document.active_content", FLAG, "The PDF contains " + ", ".join(kinds) + ".", {"tokens": found},
                   advice="If you can, upload a flattened copy (print to PDF) without active content.")


def _count_token(data: bytes, token: bytes) -> int:
    """Occurrences of a PDF name as a whole name (/JS, not the start of /JSON)."""
    count, start = 0, 0
    while (index := data.find(token, start)) != -1:
        after = data[index + len(token): index + len(token) + 1]
        if not after or not (after.isalnum()):
            count += 1
        start = index + 1
    return count


def check_image_readable(path: Path) -> Finding:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                return Finding("document.readable", FAIL,
                               f"The image claims {width}×{height} pixels, far more than a scan has (a pixel flood).",
                               {"width": width, "height": height},
                               advice="Upload a normal scan or photo of the document.")
            image.load()  # decodes the pixels: truncated or corrupt data fails here
    except Image.DecompressionBombError as exc:  # Pillow's own guard, from the header alone
        return Finding("document.readable", FAIL,
                       "The image claims far more pixels than a scan has (a pixel flood).", {"error": str(exc)[:200]},
                       advice="Upload a normal scan or photo of the document.")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        return Finding("document.readable", FAIL, "The image is damaged and cannot be decoded.",
                       {"error": type(exc).__name__}, advice="Take the photo or scan again and upload the new file.")
    if min(width, height) < MIN_IMAGE_SIDE:
        return Finding("document.readable", FLAG,
                       f"The image is only {width}×{height} pixels; text may be too small to read.",
                       {"width": width, "height": height},
                       advice=f"Upload a sharper image, at least {MIN_IMAGE_SIDE} pixels on its shorter side.")
    return Finding("document.readable", PASS, f"Image decodes, {width}×{height} pixels.",
                   {"width": width, "height": height})


def _image_active_content_pass() -> Finding:
    return Finding("document.active_content", PASS, "Images carry no active content.", {})


def check_dates(document: Document) -> Finding:
    kind = ALL_KINDS.get(document.kind)
    if kind is None:
        return Finding("document.dates", FLAG, "Unknown document kind; dates not checked.", {"kind": document.kind})
    problems = date_problems(kind, document.issue_date, document.expiry_date)
    evidence = {"issue_date": str(document.issue_date), "expiry_date": str(document.expiry_date),
                "max_age_days": kind.max_age_days, "needs_expiry": kind.needs_expiry}
    if problems:
        return Finding("document.dates", FAIL, " ".join(problems.values()), evidence,
                       advice="Upload a current version of this document.")
    return Finding("document.dates", PASS, "Issue and expiry dates meet the policy.", evidence)


def check_reuse(document: Document, application: Application) -> Finding:
    """The same file uploaded by another institution is a linked-applicant signal."""
    others = db.session.execute(
        select(Application.institution_id, Application.reference, Document.id)
        .join(Document, Document.application_id == Application.id)
        .where(Document.sha256 == document.sha256, Application.institution_id != application.institution_id)
    ).all()
    if not others:
        return Finding("document.reuse", PASS, "No other institution uploaded this file.", {})
    references = sorted({row.reference for row in others if row.reference})
    return Finding("document.reuse", FLAG,
                   f"The same file was uploaded by {len({r.institution_id for r in others})} other institution(s).",
                   {"sha256": document.sha256, "applications": references,
                    "institution_ids": sorted({r.institution_id for r in others})})


def scanner_configured() -> bool:
    config = current_app.config
    return bool(config.get("CLAMD_SOCKET") or config.get("CLAMD_HOST"))


def check_malware(path: Path) -> Finding:
    try:
        verdict = scan_file(path)
    except ScannerUnavailable:
        raise  # transient: the job is retried with backoff
    if verdict.infected:
        return Finding("document.malware", FAIL, f"Malware found: {verdict.signature}. The file is quarantined.",
                       {"signature": verdict.signature, "scanner": "clamd"},
                       advice="Scan your computer, then upload a clean copy of the document.")
    return Finding("document.malware", PASS, "No malware found (clamd).", {"scanner": "clamd"})


def _type_word(content_type: str) -> str:
    return {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}.get(content_type, content_type)
