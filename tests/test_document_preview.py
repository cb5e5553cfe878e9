"""The staff preview over HTTP, as a reviewer: every file, however damaged or hostile, gives a picture
(its first page, or a plain "no preview" card), never a server error."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from onboarding.db import db
from onboarding.documents.operations import associated_data
from onboarding.storage import document_store

from .factories import review_team
from .fixtures import damaged_pdfs
from .test_review_pages import documents_of, sign_in, submitted


def replace_stored_file(document, data: bytes, content_type: str) -> None:
    """Put other bytes behind a submitted document, as if the applicant had uploaded them."""
    blob = document_store().save(io.BytesIO(data), max_bytes=50 * 1024 * 1024,
                                 associated_data=associated_data(document.application_id))
    document.storage_key, document.sha256, document.size = blob.storage_key, blob.sha256, blob.size
    document.content_type = content_type
    db.session.commit()


def picture(response) -> Image.Image:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "image/png"
    return Image.open(io.BytesIO(response.data))


@pytest.mark.parametrize("make, expect_preview", [
    (damaged_pdfs.good_pdf, True),
    (damaged_pdfs.unloadable_page, False),  # pdfium counts a page it cannot load: was a 500
    (damaged_pdfs.garbage_flate_contents, True),  # draws (blank); the checks flag it, the preview shows it
    (lambda: damaged_pdfs.compression_bomb(300), False),
    (lambda: b"%PDF-1.7\n" + bytes(range(256)) * 40, False),
    (lambda: b"%PDF-", False),
])
def test_every_pdf_gives_a_preview_or_a_no_preview_card(app, client, make, expect_preview):
    review_team()
    application = submitted()
    document = next(d for d in documents_of(application.id) if d.content_type == "application/pdf")
    replace_stored_file(document, make(), "application/pdf")
    sign_in(client, "dana@exchange.example")
    image = picture(client.get(f"/staff/applications/{application.id}/documents/{document.id}/preview.png"))
    is_placeholder = image.size == (360, 508) and image.getpixel((5, 5)) == (244, 245, 247)
    assert is_placeholder != expect_preview


def test_a_broken_image_gives_the_no_preview_card(app, client):
    review_team()
    application = submitted()
    document = next(d for d in documents_of(application.id) if d.content_type == "image/jpeg")
    replace_stored_file(document, b"\xff\xd8\xff" + b"\0" * 500, "image/jpeg")
    sign_in(client, "dana@exchange.example")
    image = picture(client.get(f"/staff/applications/{application.id}/documents/{document.id}/preview.png"))
    assert image.size == (360, 508)
