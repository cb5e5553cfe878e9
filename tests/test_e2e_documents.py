"""The documents step in headless Chromium: a fresh upload answered with a warning, an unusable file
answered with what to do, the browser's size check before a 25 MB upload, and the slots a reviewer
asked to replace. Screenshots go to artifacts/e2e/documents-<nn>-<name>.png."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from onboarding.applications import operations as ops
from onboarding.applications.models import Application
from onboarding.db import db
from onboarding.documents.models import Document
from onboarding.review import operations as review

from . import factories
from .conftest import ARTIFACTS
from .fixtures import damaged_pdfs

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "e2e"
EMAIL = "mm@northwind.example"
CERTIFICATE = "company:certificate_of_incorporation"
expect.set_options(timeout=10_000)


@pytest.fixture
def page(browser, live_app):
    context = browser.new_context(base_url=live_app.config["BASE_URL"], viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 500 else None)
    page.errors = errors
    yield page
    context.close()
    assert errors == []


def shot(page, number: int, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"documents-{number:02d}-{name}.png", full_page=True)


def sign_in(page) -> None:
    page.goto("/login")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/portal.*"))


def slot(page, key: str):
    return page.locator("#slot-" + key.replace(":", "-"))


def upload(page, key: str, name: str, data: bytes, mime: str = "application/pdf") -> None:
    form = slot(page, key).locator("form.upload-form")
    form.locator('input[type="file"]').set_input_files(files=[{"name": name, "mimeType": mime, "buffer": data}])
    form.locator('input[name="issue_date"]').fill((date.today() - timedelta(days=20)).isoformat())
    form.get_by_role("button", name="Upload").click()


def test_upload_feedback_in_the_browser(page, live_app):
    with live_app.app_context():
        user = factories.make_applicant(EMAIL)
        application = ops.start_application(user)
        factories.fill_company(application)
        factories.fill_ownership(application)
        db.session.commit()
    sign_in(page)
    page.goto("/application/documents")

    upload(page, CERTIFICATE, "certificate.pdf", damaged_pdfs.garbage_flate_contents())
    certificate = slot(page, CERTIFICATE)
    expect(certificate.locator(".badge-warn")).to_have_text("Usable, with a warning")
    expect(certificate).to_contain_text("shows up blank")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, 1, "warning")

    articles = "company:articles_of_association"
    data = damaged_pdfs.good_pdf()
    upload(page, articles, "articles-truncated.pdf", data[: len(data) // 3])
    expect(slot(page, articles).locator(".badge-bad")).to_have_text("Cannot be used")
    expect(page.locator(".flash-error")).to_contain_text("articles-truncated.pdf cannot be used")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, 2, "unusable")

    # 25 MB: refused in the browser at the field, before anything is sent.
    register = "company:register_of_directors"
    form = slot(page, register).locator("form.upload-form")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)
    form.locator('input[type="file"]').set_input_files(
        files=[{"name": "huge.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + bytes(25 * 1024 * 1024)}])
    expect(slot(page, register).locator(".field-error")).to_contain_text("The file is larger than 20 MB")
    form.get_by_role("button", name="Upload").click()
    expect(slot(page, register).locator(".field-error")).to_contain_text("25.0 MB")
    assert requests == [], "the browser did not send the over-large file"
    slot(page, register).scroll_into_view_if_needed()
    shot(page, 3, "too-large")


def test_a_change_request_in_the_browser(page, live_app):
    with live_app.app_context():
        team = factories.review_team()
        user = factories.make_applicant(EMAIL)
        application = factories.complete_application(user)
        factories.submit(application, user)
        application = db.session.get(Application, application.id)
        review.claim(application, team["documents"])
        documents = db.session.scalars(select(Document).where(Document.application_id == application.id)).all()
        identity = next(d for d in documents if d.kind == "identity_document")
        review.decide_document(application, identity, "reupload", "illegible", "The photo is blurred.",
                               team["documents"])
        review.request_changes(application, [], team["documents"])
        db.session.commit()
        key = identity.requirement_key
    sign_in(page)
    page.goto("/application/documents")
    expect(page.get_by_role("status").filter(has_text="1 document to replace")).to_be_visible()
    marked = slot(page, key)
    expect(marked.locator(".badge-bad")).to_have_text("To replace")
    expect(marked).to_contain_text("The document is not legible. The photo is blurred.")
    expect(marked.locator(".badge-ok")).to_have_count(0)
    shot(page, 4, "change-request")
