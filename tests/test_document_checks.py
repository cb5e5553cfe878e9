"""Per-document checks on real, crafted files: corrupt, truncated, encrypted and scripted PDFs,
pixel floods, tiny and broken images, reuse across institutions, dates, and malware via clamd."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import date, timedelta

import pytest
from pypdf import PdfWriter

from onboarding.applications import operations as ops
from onboarding.checks.documents import check_document
from onboarding.db import db
from onboarding.documents.models import Document
from onboarding.documents.operations import upload_document

from .factories import jpeg_bytes, make_applicant, pdf_bytes
from .fixtures import damaged_pdfs
from .services import EICAR


def outcomes(findings) -> dict[str, str]:
    return {f.check_name: f.outcome for f in findings}


def finding(findings, name):
    return next(f for f in findings if f.check_name == name)


@pytest.fixture
def draft(app):
    user = make_applicant()
    application = ops.start_application(user)
    ops.save_company(application, {"legal_name": "Northwind Liquidity Ltd", "is_regulated": False}, complete=False)
    db.session.commit()
    return user, application


def store(application, user, data: bytes, *, kind="company:certificate_of_incorporation", name="file.pdf",
          issue_date=None, expiry_date=None) -> Document:
    document = upload_document(application, kind, stream=io.BytesIO(data), filename=name,
                               issue_date=issue_date or date.today() - timedelta(days=10), expiry_date=expiry_date,
                               user_id=user.id)
    db.session.commit()
    return document


def pdf_with(**kwargs) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    if kwargs.get("javascript"):
        from pypdf.actions import JavaScript

        writer.add_open_action(JavaScript("app.alert('hello');"))
    if kwargs.get("attachment"):
        writer.add_attachment("payload.exe", b"MZ" + b"\0" * 64)
    if kwargs.get("password"):
        writer.encrypt(kwargs["password"])
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims the given size, with almost no pixel data (a pixel flood)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_a_clean_pdf_passes_every_check(draft):
    user, application = draft
    document = store(application, user, pdf_bytes("Certificate of incorporation"))
    findings = check_document(document, application)
    assert outcomes(findings) == {
        "document.sha256": "pass", "document.type": "pass", "document.size": "pass", "document.readable": "pass",
        "document.compression": "pass", "document.active_content": "pass", "document.dates": "pass",
        "document.reuse": "pass",
    }
    assert finding(findings, "document.readable").evidence["pages"] == 1


def test_encrypted_pdf_fails_with_advice(draft):
    user, application = draft
    document = store(application, user, pdf_with(password="secret"))
    result = finding(check_document(document, application), "document.readable")
    assert result.outcome == "fail" and "password-protected" in result.detail
    assert "without a password" in result.advice


@pytest.mark.parametrize("cut", [0.3, 0.6])
def test_truncated_pdf_fails_as_damaged(draft, cut):
    user, application = draft
    data = pdf_with()
    document = store(application, user, data[: int(len(data) * cut)])
    result = finding(check_document(document, application), "document.readable")
    assert result.outcome == "fail"
    assert "damaged" in result.detail or "cannot be read" in result.detail or "no pages" in result.detail


def test_corrupt_pdf_body_fails_without_crashing(draft):
    user, application = draft
    document = store(application, user, b"%PDF-1.7\n" + bytes(range(256)) * 40)
    result = finding(check_document(document, application), "document.readable")
    assert result.outcome == "fail"


def test_pdf_javascript_and_embedded_files_are_flagged(draft):
    user, application = draft
    document = store(application, user, pdf_with(javascript=True, attachment=True))
    result = finding(check_document(document, application), "document.active_content")
    assert result.outcome == "flag"
    assert "JavaScript" in result.detail and "embedded files" in result.detail


def test_pixel_flood_image_fails_before_decoding(draft):
    user, application = draft
    document = store(application, user, png_header_only(60000, 60000), name="scan.png")
    result = finding(check_document(document, application), "document.readable")
    assert result.outcome == "fail" and "than any scan or photo" in result.detail
    assert "flood" not in result.detail  # jargon the applicant cannot act on


def test_small_image_is_flagged_and_broken_image_fails(draft):
    user, application = draft
    small = store(application, user, jpeg_bytes((300, 200)), name="small.jpg")
    assert finding(check_document(small, application), "document.readable").outcome == "flag"
    broken = store(application, user, jpeg_bytes()[:600], kind="company:articles_of_association", name="cut.jpg")
    assert finding(check_document(broken, application), "document.readable").outcome == "fail"


def test_same_file_from_another_institution_is_flagged(draft):
    user, application = draft
    data = pdf_bytes("Shared certificate")
    store(application, user, data)
    other_user = make_applicant("ops@other.example", "Other Markets Ltd")
    other = ops.start_application(other_user)
    db.session.commit()
    document = store(other, other_user, data)
    result = finding(check_document(document, other), "document.reuse")
    assert result.outcome == "flag"
    assert result.evidence["applications"] == [application.reference]


def test_stale_proof_of_address_fails_the_date_check(draft):
    user, application = draft
    document = store(application, user, pdf_bytes(), kind="company:proof_of_business_address")
    document.issue_date = date.today() - timedelta(days=120)  # it went stale after upload
    db.session.commit()
    result = finding(check_document(document, application), "document.dates")
    assert result.outcome == "fail" and "90 days" in result.detail


def test_tampered_stored_file_is_reported_not_crashing(draft, app):
    from onboarding.storage import document_store

    user, application = draft
    document = store(application, user, pdf_bytes())
    path = document_store().path_for(document.storage_key)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    findings = check_document(document, application)
    assert outcomes(findings) == {"document.integrity": "fail"}


def test_eicar_inside_a_pdf_is_found_by_clamd(make_app, clamd_server):
    app = make_app(CLAMD_SOCKET=str(clamd_server.socket))
    with app.app_context():
        user = make_applicant()
        application = ops.start_application(user)
        db.session.commit()
        infected = pdf_bytes().replace(b"%PDF-1.4", b"%PDF-1.4\n%" + EICAR, 1)
        if EICAR not in infected:  # whatever header version Pillow wrote
            infected = infected[:9] + b"%" + EICAR + b"\n" + infected[9:]
        document = store(application, user, infected)
        result = finding(check_document(document, application), "document.malware")
        assert result.outcome == "fail" and "Eicar-Test-Signature" in result.detail
        clean = store(application, user, pdf_bytes(), kind="company:articles_of_association")
        assert finding(check_document(clean, application), "document.malware").outcome == "pass"


def test_undamaged_hand_built_pdf_draws(draft):
    user, application = draft
    document = store(application, user, damaged_pdfs.good_pdf())
    result = finding(check_document(document, application), "document.readable")
    assert result.outcome == "pass" and result.evidence["claims_content"] and not result.evidence["blank"]


@pytest.mark.parametrize("damaged", [damaged_pdfs.garbage_flate_contents, damaged_pdfs.missing_contents_object,
                                     damaged_pdfs.undecodable_image])
def test_pdf_whose_first_page_draws_blank_although_it_has_content_is_flagged(draft, damaged):
    """pypdf opens these and counts one page; only drawing the page shows nothing comes out."""
    user, application = draft
    document = store(application, user, damaged())
    result = finding(check_document(document, application), "document.readable")
    assert result.outcome == "flag", result.detail
    assert "blank" in result.detail and result.advice


def test_a_genuinely_blank_page_is_not_flagged(draft):
    user, application = draft
    document = store(application, user, pdf_with())  # a page with no content stream at all
    assert finding(check_document(document, application), "document.readable").outcome == "pass"


def test_pdf_whose_first_page_cannot_be_drawn_fails(draft, monkeypatch):
    """pdfium refuses a page pypdf accepts (the first-page draw is the only thing that differs)."""
    from onboarding.checks import documents as checks

    user, application = draft
    document = store(application, user, damaged_pdfs.good_pdf())
    monkeypatch.setattr(checks, "RENDER_CHECK_WIDTH", 10**9)  # a bitmap pdfium cannot allocate
    result = finding(check_document(document, application), "document.readable")
    assert result.outcome == "fail" and "first page cannot be shown" in result.detail


def test_compression_bomb_is_flagged_fast_without_inflating_it(draft):
    import resource
    import time

    user, application = draft
    bomb = damaged_pdfs.compression_bomb(300)
    assert len(bomb) < 1024 * 1024
    document = store(application, user, bomb)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    findings = check_document(document, application)
    elapsed = time.perf_counter() - started
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    compression = finding(findings, "document.compression")
    assert compression.outcome == "flag" and "compression bomb" in compression.detail
    assert compression.evidence["worst_ratio"] > 100
    assert compression.evidence["inflated_bytes"] <= 64 * 1024 * 1024
    # Not handed to pdfium, which would inflate all 300 MB to draw the page.
    assert finding(findings, "document.readable").evidence.get("rendered") is False
    assert elapsed < 3, elapsed
    assert grown_kb < 100 * 1024, f"peak memory grew by {grown_kb} KB"


def test_an_ordinary_pdf_is_not_a_compression_bomb(draft):
    from onboarding.checks.documents import measure_inflation

    user, application = draft
    measured = measure_inflation(pdf_bytes("Certificate of incorporation"))
    assert not measured.bomb and measured.worst_ratio < 100


def test_same_file_for_two_documents_of_one_application_is_flagged(draft):
    user, application = draft
    data = pdf_bytes("One certificate for everything")
    first = store(application, user, data)
    second = store(application, user, data, kind="company:articles_of_association")
    result = finding(check_document(second, application), "document.reuse")
    assert result.outcome == "flag"
    assert "Certificate of incorporation" in result.detail
    assert result.evidence["same_application_documents"] == [first.id]
