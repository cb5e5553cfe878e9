"""End-to-end in headless Chromium: three different staff members take one case from the document
review queue through qualification to approval, each in their own browser session, and the
applicant then downloads the approval letter and checks it on the public verification page.
Every page is saved as a full-page screenshot under artifacts/e2e/review-<nn>-<name>.png. And each staff
role's navigation, page by page (artifacts/e2e/staff-pages-<role>-<nn>-<name>.png), through the
accessibility check."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from onboarding.accounts.operations import find_user_by_email, set_totp_secret
from onboarding.applications.models import Application
from onboarding.db import db, utcnow

from .browser import check_accessibility
from .conftest import ARTIFACTS
from .factories import PASSWORD, complete_application, make_applicant, review_team, submit

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "e2e"
PREFIX = "review"
expect.set_options(timeout=15_000)


class Journey:
    """Browser sessions for several people, with one numbered series of screenshots. Every shot
    checks that no request failed and no script error happened in any session so far, and runs the
    accessibility check (axe-core, tests/browser.py) on the page."""

    def __init__(self, browser, base_url: str, prefix: str = PREFIX, folder: Path = SHOTS):
        # An empty prefix names the shots <nn>-<name>.png (a journey with a folder of its own).
        self.browser, self.base_url, self.prefix, self.folder = browser, base_url, prefix, folder
        self.count = 0
        self.problems: list[str] = []
        self.contexts = []
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob(f"{prefix}-[0-9]*.png" if prefix else "[0-9]*.png"):
            old.unlink()

    def session(self):
        context = self.browser.new_context(base_url=self.base_url, viewport={"width": 1280, "height": 860},
                                           accept_downloads=True)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
                and self.problems.append(f"HTTP {r.status} for {r.request.method} {r.url}"))
        return page

    def shot(self, page, name: str) -> None:
        page.wait_for_load_state("load")
        # Walk down the page so lazily loaded document previews are in the picture, then back up.
        page.evaluate("""async () => { for (let y = 0; y < document.body.scrollHeight; y += 600) {
            window.scrollTo(0, y); await new Promise(r => setTimeout(r, 30)); } window.scrollTo(0, 0); }""")
        page.wait_for_load_state("networkidle")
        self.count += 1
        stem = f"{self.prefix}-{self.count:02d}" if self.prefix else f"{self.count:02d}"
        page.screenshot(path=self.folder / f"{stem}-{name}.png", full_page=True)
        unlabelled = page.evaluate(
            """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
                .filter(el => el.getClientRects().length > 0 && (!el.labels || el.labels.length === 0))
                .map(el => el.name || el.id)""")
        assert unlabelled == [], f"inputs without a label on {page.url}: {unlabelled}"
        check_accessibility(page)
        assert self.problems == [], f"problems up to {name}: {self.problems}"

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def journey(browser, live_app):
    journey = Journey(browser, live_app.config["BASE_URL"])
    yield journey
    journey.close()


def staff_sign_in(page, email: str, secret: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name=re.compile("Continue|Verify|Sign in")).click()
    expect(page).to_have_url(re.compile(r"/staff$"))


def open_case(page, queue_label: str, reference: str) -> None:
    page.get_by_role("navigation", name="Review queues").get_by_role("link", name=re.compile(queue_label)).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(queue_label)
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_three_staff_take_a_case_to_approval_and_the_applicant_gets_the_letter(live_app, journey):
    secrets = {}
    with live_app.app_context():
        team = review_team()
        for key in ("documents", "qualification", "approver"):
            user = find_user_by_email(team[key].email)
            secrets[key] = pyotp.random_base32()
            set_totp_secret(user, secrets[key])
            user.totp_enrolled_at = utcnow()
        db.session.commit()
        applicant = make_applicant()
        application = complete_application(applicant)
        submit(application, applicant)
        application = db.session.get(Application, application.id)
        reference, application_id = application.reference, application.id
        assert application.state == "document_review"

    # --- Dana, document reviewer -------------------------------------------------------------
    dana = journey.session()
    staff_sign_in(dana, "dana@exchange.example", secrets["documents"])
    journey.shot(dana, "dashboard")
    open_case(dana, "Document review", reference)
    journey.shot(dana, "document-queue-case")
    dana.get_by_role("button", name="Claim this case").click()
    expect(dana.locator(".flash-success")).to_contain_text("assigned to you")
    journey.shot(dana, "claimed")
    while dana.locator("article.doc-review-pending").count():
        dana.locator("article.doc-review-pending").first.get_by_role("button", name=re.compile(r"^Accept ")).click()
        expect(dana.locator(".flash-success")).to_contain_text("accept recorded")
    journey.shot(dana, "documents-accepted")
    dana.get_by_role("button", name=re.compile("Accept documents")).click()
    expect(dana.locator(".flash-success")).to_contain_text("moves to qualification review")
    expect(dana.locator(".case-facts")).to_contain_text("Qualification review")
    journey.shot(dana, "moved-to-qualification")

    # --- Quinn, qualification reviewer ---------------------------------------------------------
    quinn = journey.session()
    staff_sign_in(quinn, "quinn@exchange.example", secrets["qualification"])
    open_case(quinn, "Qualification review", reference)
    quinn.get_by_role("button", name="Claim this case").click()
    form = quinn.locator("#form-qualify")
    for criterion in ("experience", "volume", "capital", "obligations", "order_rate", "regulatory"):
        form.locator(f"#{criterion}_score").select_option("4")
        form.locator(f"#{criterion}_note").fill(f"Checked {criterion.replace('_', ' ')} against the evidence.")
    form.get_by_label("Rate tier").select_option("professional")
    form.get_by_label("Maximum API keys").fill("10")
    form.get_by_label("Summary for the approver (optional)").fill("Established desk, good references.")
    journey.shot(quinn, "qualification-form")
    form.get_by_role("button", name=re.compile("Record qualification")).click()
    expect(quinn.locator(".flash-success")).to_contain_text("waits for an approver")
    journey.shot(quinn, "qualified")

    # --- Avery, approver (never the qualifier) -------------------------------------------------
    avery = journey.session()
    staff_sign_in(avery, "avery@exchange.example", secrets["approver"])
    open_case(avery, "Pending approval", reference)
    expect(avery.locator("#qualification-record")).to_contain_text("Quinn Qualify")
    avery.get_by_role("button", name="Claim this case").click()
    journey.shot(avery, "pending-approval")
    avery.get_by_role("button", name="Approve", exact=True).click()
    expect(avery.locator(".flash-success")).to_contain_text("Approved")
    expect(avery.locator(".case-facts")).to_contain_text("Approved")
    journey.shot(avery, "approved")

    # --- the applicant --------------------------------------------------------------------------
    applicant_page = journey.session()
    applicant_page.goto("/login")
    applicant_page.get_by_label("E-mail address").fill("mm@northwind.example")
    applicant_page.get_by_label("Password").fill(PASSWORD)
    applicant_page.get_by_role("button", name="Sign in").click()
    applicant_page.goto("/application/status")
    expect(applicant_page.locator("main")).to_contain_text("Approved")
    journey.shot(applicant_page, "applicant-status-approved")
    with applicant_page.expect_download() as download_info:
        applicant_page.get_by_role("link", name=re.compile("Download", re.I)).first.click()
    pdf = download_info.value.path().read_bytes()
    assert pdf.startswith(b"%PDF")
    with live_app.app_context():
        from onboarding.letters.queries import letter_for

        letter = letter_for(application_id)
        assert letter.sha256 == hashlib.sha256(pdf).hexdigest()
        code = letter.verification_code
    applicant_page.goto(f"/letters/verify/{code}")
    expect(applicant_page.locator("main")).to_contain_text("Northwind Liquidity Ltd")
    expect(applicant_page.locator("main")).to_contain_text(reference)
    journey.shot(applicant_page, "letter-verified")


@pytest.mark.parametrize("role", ["documents", "qualification", "approver", "compliance", "admin"])
def test_every_page_in_a_staff_members_navigation_passes_the_accessibility_check(live_app, browser, role):
    """Each role's header links and review queues, with a case waiting (so tables and counts are drawn):
    a page added to the navigation is checked without changing this test."""
    with live_app.app_context():
        member = review_team()[role]
        secret = pyotp.random_base32()
        set_totp_secret(member, secret)
        member.totp_enrolled_at = utcnow()
        db.session.commit()
        email = member.email
        applicant = make_applicant()
        submit(complete_application(applicant), applicant)

    journey = Journey(browser, live_app.config["BASE_URL"], prefix=f"staff-pages-{role}")
    try:
        page = journey.session()
        staff_sign_in(page, email, secret)
        journey.shot(page, "dashboard")
        links = page.locator("header nav a").evaluate_all("links => links.map(a => [a.textContent.trim(), a.href])")
        for name, href in links:
            page.goto(href)
            journey.shot(page, re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))
    finally:
        journey.close()
