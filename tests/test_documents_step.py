# ruff: noqa: F811  (the routes tests' fixtures are imported and then named as parameters)
"""The documents step as an applicant uses it over HTTP: the quick checks answer at upload (usable,
usable with a warning, unusable with what to do), file names are kept safe and the change is said,
an over-large file gets a message at the field, and a change request marks the exact slot to replace."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from sqlalchemy import select

from onboarding.applications.completeness import find_problems
from onboarding.applications.models import Application, ChangeRequest, Party
from onboarding.db import db
from onboarding.documents.models import Document
from onboarding.documents.operations import upload_document
from onboarding.review import operations as review

from . import factories
from .fixtures import damaged_pdfs
from .test_application_routes import (  # noqa: F401 (fixtures)
    CERTIFICATE,
    applicant,
    client,
    field_error,
    identity_key,
    page,
    slot,
    upload,
    visible,
    with_parties,
)

MIB = 1024 * 1024


def slot_html(response, key: str) -> str:
    body = page(response)
    return body.split(f'id="slot-{slot(key)}"')[1].split('class="doc-slot')[0]


def only_document() -> Document:
    return db.session.scalars(select(Document)).one()


def flashes(response) -> str:
    return " ".join(re.findall(r'<p class="flash[^"]*">(.*?)</p>', page(response), re.S))


def test_a_clean_pdf_is_usable_at_once(client, with_parties):
    upload(client, CERTIFICATE, factories.pdf_bytes("Certificate of incorporation"), "certificate.pdf")
    shown = client.get("/application/documents")
    assert "certificate.pdf uploaded." in flashes(shown)
    assert '<span class="badge badge-ok">Usable</span>' in slot_html(shown, CERTIFICATE)
    assert only_document().upload_check["verdict"] == "usable"


def test_a_truncated_pdf_is_unusable_at_upload_with_what_to_do(client, with_parties):
    data = damaged_pdfs.good_pdf()
    response = upload(client, CERTIFICATE, data[: len(data) // 3], "truncated.pdf")
    assert response.status_code == 302
    shown = client.get("/application/documents")
    message = flashes(shown)
    assert "truncated.pdf cannot be used" in message and "uploaded." not in message
    assert "Export or scan the document again" in message
    section = slot_html(shown, CERTIFICATE)
    assert "Cannot be used" in section and "badge-ok" not in section
    assert "cannot be submitted until it is replaced" in section
    application = db.session.scalars(select(Application)).one()
    assert any("this file cannot be used" in p.message for p in find_problems(application))


def test_a_pdf_that_draws_blank_is_usable_with_a_warning(client, with_parties):
    upload(client, CERTIFICATE, damaged_pdfs.garbage_flate_contents(), "blank.pdf")
    shown = client.get("/application/documents")
    message = flashes(shown)
    assert "uploaded and can be used, with 2 warnings our reviewers will see" in message
    assert "shows up blank" in message and "very small" in message
    section = slot_html(shown, CERTIFICATE)
    assert "Usable, with a warning" in section and "shows up blank" in section
    assert "our reviewers will see the warning" in section


def test_a_compression_bomb_is_flagged_at_upload(client, with_parties):
    upload(client, CERTIFICATE, damaged_pdfs.compression_bomb(300), "small.pdf")
    section = slot_html(client.get("/application/documents"), CERTIFICATE)
    assert "Usable, with a warning" in section and "compression bomb" in section


def test_the_same_file_for_two_documents_is_flagged_at_upload(client, with_parties):
    data = factories.pdf_bytes("One file for everything")
    upload(client, CERTIFICATE, data, "certificate.pdf")
    upload(client, "company:articles_of_association", data, "articles.pdf")
    section = slot_html(client.get("/application/documents"), "company:articles_of_association")
    assert "also uploaded in this application as “Certificate of incorporation”" in section


def test_an_svg_is_called_an_svg_and_a_pdf_with_a_comment_first_is_explained(client, with_parties):
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>Passport</text></svg>'
    response = upload(client, CERTIFICATE, svg, "passport.svg")
    error = field_error(response, f"file-{slot(CERTIFICATE)}")
    assert "an SVG drawing" in error and "text file" not in error
    commented = b"% printed by OfficeJet\n" + factories.pdf_bytes()
    error = field_error(upload(client, CERTIFICATE, commented, "scan.pdf"), f"file-{slot(CERTIFICATE)}")
    assert "not a valid PDF file" in error and "text file" not in error


def test_a_file_name_with_hidden_characters_is_kept_under_a_safe_name(client, with_parties):
    response = upload(client, CERTIFICATE, factories.pdf_bytes(), "../../invoice\u202efdp.exe")
    assert response.status_code == 302
    document = only_document()
    assert document.filename == "invoicefdp.exe.pdf"
    shown = client.get("/application/documents")
    message = flashes(shown)
    assert "saved your file as “invoicefdp.exe.pdf”" in message
    assert "characters you cannot see" in message and "folder part" in message
    assert "invoicefdp.exe.pdf" in slot_html(shown, CERTIFICATE)


def test_a_25_mb_file_gets_a_message_at_the_field(client, with_parties):
    from .test_application_routes import token

    data = {"csrf_token": token(client, "/application/documents"), "requirement": CERTIFICATE,
            "issue_date": (date.today() - timedelta(days=3)).isoformat(),
            "file": (io.BytesIO(b"%PDF-1.4\n" + bytes(25 * MIB)), "enormous.pdf")}
    # The page's form names its slot in the address, because the body is refused before it is read.
    response = client.post(f"/application/documents/upload?slot={CERTIFICATE}", data=data,
                           content_type="multipart/form-data")
    assert response.status_code == 413
    assert "The file is larger than 20 MB" in field_error(response, f"file-{slot(CERTIFICATE)}")
    assert "Documents" in visible(response) and db.session.scalars(select(Document)).first() is None


def test_the_form_carries_the_size_limit_for_the_browser_check(client, with_parties):
    body = page(client.get("/application/documents"))
    assert f'data-max-bytes="{20 * MIB}"' in body
    assert "js/upload-size.js" in body
    assert f'action="/application/documents/upload?slot={CERTIFICATE}"' in body


def test_a_change_request_marks_the_slot_with_the_reason_and_counts_what_is_left(client, applicant):
    team = factories.review_team()
    application = factories.complete_application(applicant)
    factories.submit(application, applicant)
    application = db.session.get(Application, application.id)
    reviewer = team["documents"]
    review.claim(application, reviewer)
    documents = db.session.scalars(select(Document).where(Document.application_id == application.id)).all()
    identity = next(d for d in documents if d.kind == "identity_document")
    certificate = next(d for d in documents if d.kind == "certificate_of_incorporation")
    review.decide_document(application, identity, "reupload", "illegible", "The photo is blurred.", reviewer)
    review.decide_document(application, certificate, "reupload", "expired", None, reviewer)
    review.request_changes(application, [], reviewer)
    db.session.commit()

    shown = client.get("/application/documents")
    body = visible(shown)
    assert "2 documents to replace" in body
    person = identity.requirement_key
    section = slot_html(shown, person)
    assert "Replace this file." in section and "The document is not legible. The photo is blurred." in section
    assert "To replace" in section and "badge-ok" not in section and "Uploaded" not in section
    # The request names the document type and the person (the slot already says which, so not repeated there).
    request = db.session.scalars(select(ChangeRequest).where(ChangeRequest.document_slot == person)).one()
    party = db.session.get(Party, identity.party_id)
    assert request.message.startswith(f"Identity document for {party.name}: ")
    assert identity.filename not in request.message
    assert "<li>The document is not legible. The photo is blurred.</li>" in section
    assert "The document has expired." in slot_html(shown, CERTIFICATE)

    user = applicant
    upload_document(db.session.get(Application, application.id), person,
                    stream=io.BytesIO(factories.jpeg_bytes((1200, 800))), filename="passport.jpg",
                    issue_date=date.today() - timedelta(days=30), expiry_date=date.today() + timedelta(days=3650),
                    user_id=user.id)
    db.session.commit()
    shown = client.get("/application/documents")
    assert "1 document to replace" in visible(shown)
    section = slot_html(shown, person)
    assert "Replaced." in section and "To replace" not in section


def test_the_sample_application_uses_a_different_file_for_each_slot(app, applicant):
    """Demo and test data: no document is flagged as reusing another slot's file."""
    application = factories.complete_application(applicant)
    documents = db.session.scalars(select(Document).where(Document.application_id == application.id)).all()
    reused = [d.requirement_key for d in documents
              if any(f["check"] == "document.reuse" for f in (d.upload_check or {}).get("findings", []))]
    assert documents and reused == []
