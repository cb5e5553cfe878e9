"""Per-document checks (DESIGN 4.3). Each check looks at one stored file and returns a finding:
pass, flag (a reviewer should look) or fail (the file cannot be used; the applicant is told why).

The file is decrypted once into a temporary file, so a 20 MB PDF never sits in memory whole."""

from __future__ import annotations

import hashlib
import mmap
import os
import tempfile
import zlib
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
from ..templating import plural
from .malware import ScannerUnavailable, scan_file
from .models import FAIL, FLAG, PASS

VERSION = "1"
# Tokens whose presence in a PDF means it can run code or carry other files (as pdfid reports them).
ACTIVE_PDF_TOKENS = {
    b"/JavaScript": "JavaScript", b"/JS": "JavaScript", b"/Launch": "a launch action",
    b"/EmbeddedFile": "embedded files", b"/OpenAction": "an action that runs on opening", b"/AA": "automatic actions",
    b"/RichMedia": "rich media", b"/XFA": "an XFA form",
}
MAX_IMAGE_PIXELS = 50_000_000  # beyond this an image is a "pixel flood" (a decompression bomb), not a scan
MIN_IMAGE_SIDE = 600  # shorter side in pixels below which text is hard to read

# Compression bombs: a small PDF whose streams inflate to hundreds of MB. Measuring never inflates more
# than INFLATE_LIMIT in total (output is counted and thrown away, 1 MB at a time); a stream that grows
# more than MAX_INFLATION_RATIO-fold once past INFLATION_RATIO_FLOOR is flagged, and such a file is not
# handed to the renderer (pdfium would inflate the whole stream in memory). Ordinary PDFs inflate 2-20
# fold; a lossless scan of a mostly white page can reach ~100, hence a flag for a reviewer, not a failure.
INFLATE_LIMIT = 64 * 1024 * 1024
MAX_INFLATION_RATIO = 100
INFLATION_RATIO_FLOOR = 1024 * 1024
# The first page is rendered this wide to see that it draws at all: small, so it is quick.
RENDER_CHECK_WIDTH = 200


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
            findings += _content_checks(document, path)
            findings.append(check_dates(document))
            findings.append(check_reuse(document, application))
            if scanner_configured():
                findings.append(check_malware(path))
            return findings
    except (TamperedDocument, FileNotFoundError) as exc:
        return [_integrity_failure(exc)]


def check_upload(document: Document, application: Application) -> list[Finding]:
    """The quick checks run when the file is uploaded, so the applicant learns at once whether it can be
    used: the same functions as the full run, without the malware scan (that stays on the worker)."""
    try:
        with decrypted_copy(document) as path:
            return [check_type(document, path), check_size(document, path), *_content_checks(document, path),
                    check_dates(document), check_reuse(document, application)]
    except (TamperedDocument, FileNotFoundError) as exc:
        return [_integrity_failure(exc)]


def _content_checks(document: Document, path: Path) -> list[Finding]:
    if document.content_type == "application/pdf":
        compression = check_pdf_compression(path)
        return [compression, check_pdf_readable(path, render=compression.outcome == PASS),
                check_pdf_active_content(path)]
    return [_image_compression_pass(), check_image_readable(path), _image_active_content_pass()]


def _integrity_failure(exc: Exception) -> Finding:
    return Finding("document.integrity", FAIL, "The stored file is missing or failed its integrity check.",
                   {"error": type(exc).__name__}, advice="Upload the document again.")


def planned_checks_per_document() -> int:
    """How many findings check_document produces for a document (for the progress count)."""
    return 8 + (1 if scanner_configured() else 0)


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


def check_pdf_readable(path: Path, *, render: bool = True) -> Finding:
    """Opens with pypdf (encryption, page count), then draws the first page with pdfium: a page that
    cannot be drawn, or draws blank although it holds text, drawings or images, is not readable as sent.
    `render=False` skips the drawing (a file flagged as a compression bomb)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            return Finding("document.readable", FAIL, "The PDF is password-protected (encrypted).", {"encrypted": True},
                           advice="Upload a copy of the PDF without a password.")
        pages = len(reader.pages)
        claimed = pages > 0 and _contents_claimed(reader.pages[0])
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
    pages_text = plural(pages, "page")
    if not render:
        return Finding("document.readable", FLAG, f"PDF opens, {pages_text}; the first page was not drawn because "
                       "the file expands too much when opened.", {"pages": pages, "rendered": False})
    drawn = first_page_drawing(path, claimed_by_file=claimed)
    evidence = {"pages": pages, **drawn}
    if drawn["error"]:
        return Finding("document.readable", FAIL, f"The PDF has {pages_text}, but its first page cannot be shown.",
                       evidence, advice="Export or scan the document again and upload the new file.")
    if drawn["blank"] and drawn["claims_content"]:
        return Finding("document.readable", FLAG, "The first page shows up blank although the file says it holds "
                       "text, drawings or images: it may be damaged.", evidence,
                       advice="Open the file yourself; if the first page is empty, export or scan it again.")
    return Finding("document.readable", PASS, f"PDF opens, {pages_text}; the first page draws.", evidence)


def first_page_drawing(path: Path, *, claimed_by_file: bool = False) -> dict[str, Any]:
    """Draw the first page small with pdfium. `error` names why it could not be drawn (or is None);
    `blank` says nothing but white came out; `claims_content` says the page has objects pdfium parsed,
    or (`claimed_by_file`) a content stream in the file that pdfium made nothing of."""
    import pypdfium2

    result: dict[str, Any] = {"error": None, "blank": False, "claims_content": False}
    try:
        pdf = pypdfium2.PdfDocument(str(path))
    except (pypdfium2.PdfiumError, OSError, ValueError) as exc:
        return {**result, "error": f"open: {exc}"[:200]}
    try:
        try:
            page = pdf[0]
            width, height = page.get_size()
            objects = sum(1 for _ in page.get_objects(max_depth=1))
            result["claims_content"] = objects > 0 or claimed_by_file
            if width <= 0 or height <= 0:
                return {**result, "error": "the page has no size"}
            scale = min(RENDER_CHECK_WIDTH / width, RENDER_CHECK_WIDTH * 2 / height)
            image = page.render(scale=scale, may_draw_forms=False).to_pil().convert("L")
        except (pypdfium2.PdfiumError, MemoryError, ValueError, OSError) as exc:
            return {**result, "error": f"render: {exc}"[:200]}
        low, _high = image.getextrema()
        result["blank"] = low >= 250  # nothing darker than paper-white anywhere
        return result
    finally:
        pdf.close()


def _contents_claimed(page) -> bool:
    """The page's /Contents as written in the file (pypdf page): a non-empty stream, or a reference to
    one that is missing or damaged, says the page has something to show."""
    from pypdf.generic import ArrayObject, NullObject, StreamObject

    if "/Contents" not in page:
        return False
    try:
        contents = page["/Contents"]
        contents = contents.get_object() if contents is not None else None
    except Exception:  # a broken reference: the file meant to have content here
        return True
    if contents is None or isinstance(contents, NullObject):
        return True
    if isinstance(contents, ArrayObject):
        return len(contents) > 0
    if isinstance(contents, StreamObject):
        return len(contents._data or b"") > 0
    return True


def check_pdf_compression(path: Path) -> Finding:
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return Finding("document.compression", PASS, "Empty file.", {})
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            measured = measure_inflation(data)
    if measured.bomb:
        return Finding("document.compression", FLAG,
                       f"A part of the PDF expands more than {MAX_INFLATION_RATIO}-fold when opened (about "
                       f"{measured.worst_ratio:.0f} times): it looks built to exhaust the reviewer's computer "
                       "(a compression bomb).", measured.evidence(),
                       advice="Upload the document as an ordinary export or scan.")
    if measured.limit_reached:
        return Finding("document.compression", PASS, f"Expands normally (measured over the first "
                       f"{INFLATE_LIMIT // (1024 * 1024)} MB).", measured.evidence())
    return Finding("document.compression", PASS, "Expands normally when opened.", measured.evidence())


@dataclass
class Inflation:
    streams: int = 0
    inflated: int = 0
    worst_ratio: float = 0.0
    bomb: bool = False
    limit_reached: bool = False

    def evidence(self) -> dict[str, Any]:
        return {"streams": self.streams, "inflated_bytes": self.inflated, "worst_ratio": round(self.worst_ratio, 1),
                "limit_bytes": INFLATE_LIMIT, "max_ratio": MAX_INFLATION_RATIO}


def measure_inflation(data) -> Inflation:
    """Inflate every Flate stream of a PDF (bytes or mmap) to count its output, within INFLATE_LIMIT.
    Streams are found by their `stream` keyword rather than through the PDF's own structure, so a
    damaged cross-reference table hides nothing; what does not inflate (images, other filters) is skipped."""
    found = Inflation()
    position = 0
    while not found.bomb and not found.limit_reached:
        keyword = data.find(b"stream", position)
        if keyword == -1:
            break
        position = keyword + 6
        if data[keyword - 3:keyword] == b"end":
            continue
        if data[position:position + 2] == b"\r\n":
            position += 2
        elif data[position:position + 1] in (b"\n", b"\r"):
            position += 1
        else:
            continue
        position = _inflate_stream(data, position, found)
    return found


def _inflate_stream(data, start: int, found: Inflation) -> int:
    """Inflate one stream from `start`, counting into `found`; returns where scanning goes on."""
    inflater = zlib.decompressobj()
    fed = start
    output = 0
    try:
        while not inflater.eof:
            chunk = data[fed:fed + (1 << 16)]
            if not chunk:
                break
            fed += len(chunk)
            pending = chunk
            while pending:
                room = INFLATE_LIMIT - found.inflated - output
                if room <= 0:
                    found.limit_reached = True
                    break
                output += len(inflater.decompress(pending, min(room, 1 << 20)))
                pending = inflater.unconsumed_tail
                consumed = fed - start - len(pending)
                ratio = output / max(consumed, 1)
                if output >= INFLATION_RATIO_FLOOR:
                    found.worst_ratio = max(found.worst_ratio, ratio)
                    if ratio > MAX_INFLATION_RATIO:
                        found.bomb = True
                if found.bomb or inflater.eof:
                    break
            if found.bomb or found.limit_reached:
                break
    except zlib.error:
        pass  # not Flate data, or damaged: nothing more to count here
    if output:
        found.streams += 1
        found.inflated += output
        return fed - len(inflater.unused_data)
    return start


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
                               f"The image says it is {width}×{height} pixels, far more than any scan or photo, "
                               "so it is not opened.",
                               {"width": width, "height": height},
                               advice="Upload a normal scan or photo of the document.")
            image.load()  # decodes the pixels: truncated or corrupt data fails here
    except Image.DecompressionBombError as exc:  # Pillow's own guard, from the header alone
        return Finding("document.readable", FAIL,
                       "The image says it has far more pixels than any scan or photo, so it is not opened.",
                       {"error": str(exc)[:200]},
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


def _image_compression_pass() -> Finding:
    return Finding("document.compression", PASS, "Images are decoded within a pixel limit.", {})


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
    """The same file used for another document of this application (one file cannot be both the
    certificate and the articles), or uploaded by another institution (a linked-applicant signal)."""
    same_application = db.session.execute(
        select(Document.id, Document.kind).where(
            Document.application_id == document.application_id, Document.sha256 == document.sha256,
            Document.id != document.id).order_by(Document.id)
    ).all()
    others = db.session.execute(
        select(Application.institution_id, Application.reference, Document.id)
        .join(Document, Document.application_id == Application.id)
        .where(Document.sha256 == document.sha256, Application.institution_id != application.institution_id)
    ).all()
    if not others and not same_application:
        return Finding("document.reuse", PASS, "No other document or institution uses this file.", {})
    sentences = []
    if same_application:
        labels = sorted({_kind_label(row.kind) for row in same_application})
        sentences.append("The same file is also uploaded in this application as " + _and_list(labels) + ".")
    if others:
        sentences.append(f"The same file was uploaded by "
                         f"{plural(len({r.institution_id for r in others}), 'other institution')}.")
    references = sorted({row.reference for row in others if row.reference})
    return Finding("document.reuse", FLAG, " ".join(sentences),
                   {"sha256": document.sha256, "applications": references,
                    "institution_ids": sorted({r.institution_id for r in others}),
                    "same_application_documents": [row.id for row in same_application]},
                   advice="Upload the right document for each item." if same_application else None)


def _kind_label(kind: str) -> str:
    found = ALL_KINDS.get(kind)
    return f"“{found.label}”" if found else kind


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


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
