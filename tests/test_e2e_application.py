"""End-to-end in headless Chromium against a live server: a signed-up applicant completes the five
application steps (company, ownership and control, market-making profile, documents, review) and
submits. Validation errors met on the way (a bad LEI checksum, a bad IP address, a Windows program
renamed to .pdf) are checked too. Every step and every error state is saved as a full-page
screenshot under artifacts/e2e/application-<nn>-<name>.png for review."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from onboarding.agreements.operations import publish_bundled_rules
from onboarding.db import db

from .browser import check_accessibility
from .conftest import ARTIFACTS
from .factories import PASSWORD, make_applicant

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "e2e"
SHOT_PREFIX = "application"
EMAIL = "mm@northwind.example"
GOOD_LEI = "5493001KJTIIGC8Y1R12"
BAD_LEI = "5493001KJTIIGC8Y1R13"  # one digit off: fails the ISO 17442 checksum

expect.set_options(timeout=10_000)



# ---------------------------------------------------------------------------
# Fixtures: a live server on a free local port, a browser, and a page that records problems.





def _ignored(url: str) -> bool:
    # Chromium asks for /favicon.ico on its own; the site has none.
    return url.split("?")[0].endswith("/favicon.ico")


@pytest.fixture
def page(browser, live_app):
    context = browser.new_context(base_url=live_app.config["BASE_URL"], viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems: list[str] = []

    def on_response(response):
        if _ignored(response.url):
            return
        status = response.status
        if status >= 500:
            problems.append(f"HTTP {status} for {response.request.method} {response.url}")
        # 422 is how a form posted with errors is answered: expected for the error states below.
        # Any other 4xx (400 CSRF failure, 403, 404) means the journey went wrong.
        elif status >= 400 and status != 422:
            problems.append(f"HTTP {status} for {response.request.method} {response.url}")

    def on_console(message):
        if message.type != "error":
            return
        location = (message.location or {}).get("url", "")
        if _ignored(location):
            return
        # A re-rendered form with errors answers 422, which Chromium also logs as a failed load.
        if message.text.startswith("Failed to load resource") and "status of 422" in message.text:
            return
        problems.append(f"console error: {message.text} ({location})")

    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", on_console)
    page.on("response", on_response)
    page.problems = problems
    yield page
    context.close()


class Shots:
    """Numbered full-page screenshots artifacts/e2e/application-<nn>-<name>.png. Each shot also
    checks that every visible form control has a <label>, runs axe-core (tests/browser.py), and checks
    that nothing has failed so far."""

    def __init__(self, page):
        self.page = page
        self.count = 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        for old in SHOTS.glob(f"{SHOT_PREFIX}-*.png"):
            old.unlink()

    def __call__(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        # From the top: after a redirect to an anchor (#owners, #slot-...) the sticky step list
        # would otherwise be drawn halfway down the full-page image.
        self.page.evaluate("window.scrollTo(0, 0)")
        self.count += 1
        self.page.screenshot(path=SHOTS / f"{SHOT_PREFIX}-{self.count:02d}-{name}.png", full_page=True)
        assert_inputs_are_labelled(self.page)
        check_accessibility(self.page)
        assert self.page.problems == [], f"problems seen by the browser up to {name}: {self.page.problems}"


@pytest.fixture
def shot(page):
    return Shots(page)


def assert_inputs_are_labelled(page) -> None:
    """Every visible input (file inputs included), select and textarea has at least one <label>."""
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
            .filter(el => el.getClientRects().length > 0)
            .filter(el => !el.labels || el.labels.length === 0)
            .map(el => el.name || el.id || el.outerHTML)"""
    )
    assert unlabelled == [], f"inputs without a <label> on {page.url}: {unlabelled}"


def path_is(path: str):
    return re.compile(r"^https?://[^/]+" + re.escape(path) + r"(\?.*)?(#.*)?$")


# ---------------------------------------------------------------------------
# Files made for the upload step.


def document_file(folder: Path, key: str, *, photo: bool) -> Path:
    """A file for one slot, different for each (the same file in two slots is flagged as reuse): a scan
    with a line of text (a blank page is flagged), or a photo large enough to read (600 px or more)."""
    place = folder / key.replace(":", "-")
    place.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (1200, 760) if photo else (620, 877), (210, 225, 240) if photo else (255, 255, 255))
    ImageDraw.Draw(image).text((60, 80), f"Document for {key}", fill=(0, 0, 0))
    path = place / ("passport.jpg" if photo else "certificate.pdf")
    image.save(path, "JPEG" if photo else "PDF", quality=85)
    return path


def make_files(folder: Path) -> dict[str, Path]:
    pdf = document_file(folder, "sample", photo=False)
    jpeg = document_file(folder, "sample", photo=True)
    exe = folder / "statement.pdf"  # a Windows program under a PDF name
    exe.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
                    + b"This program cannot be run in DOS mode.\r\r\n$" + b"\x00" * 400)
    return {"pdf": pdf, "jpeg": jpeg, "exe": exe}


# ---------------------------------------------------------------------------
# Steps.


def sign_in(page) -> None:
    page.goto("/login")
    page.get_by_label("E-mail address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(path_is("/portal"))


def fill_company(page, lei: str) -> None:
    page.locator("#legal_name").fill("Northwind Liquidity Ltd")
    page.locator("#trading_names").fill("Northwind MM")
    page.locator("#registration_number").fill("12345678")
    page.locator("#jurisdiction").select_option("GB")
    page.locator("#incorporation_date").fill("2019-03-27")
    page.locator("#lei").fill(lei)
    page.locator("#registered_address").fill("1 King William Street\nLondon EC4N 7AR")
    page.locator("#business_address").fill("1 King William Street\nLondon EC4N 7AR")
    page.locator("#website").fill("https://northwind.example")
    page.locator("#is_regulated").get_by_label("No").check()


def add_shareholder(page, *, name: str, percentage: str, of: str | None = None, company: bool = False,
                    born: str = "", country: str = "", registration: str = "") -> None:
    if of:
        page.locator("#holding-owned").select_option(label=of)
    page.locator("#holding-new_kind").get_by_label("A company" if company else "A natural person").check()
    page.locator("#holding-name").fill(name)
    if company:
        page.locator("#holding-jurisdiction").select_option(country)
        page.locator("#holding-registration_number").fill(registration)
    else:
        page.locator("#holding-date_of_birth").fill(born)
        page.locator("#holding-nationality").select_option(country)
        page.locator("#holding-residence").select_option(country)
    page.locator("#holding-percentage").fill(percentage)
    page.get_by_role("button", name="Add shareholder").click()
    expect(page.get_by_role("status").filter(has_text=f"{name} added as a shareholder.")).to_be_visible()


def shareholder_row(page, name: str):
    return page.locator("#owners tbody tr").filter(has=page.get_by_role("link", name=name, exact=True))


def fill_profile(page, ip_allowlist: str) -> None:
    page.locator("#mm_experience_years").fill("6")
    page.locator("#volume_30d_usd").fill("2500000000")
    page.locator("#capital_usd").fill("50000000")
    page.locator("#mm_venues").fill("Venue A\nVenue B")
    page.locator("#pairs").fill("BTC/USDT\nETH/USDT")
    page.locator("#max_spread_bps").fill("15")
    page.locator("#min_depth_usd").fill("250000")
    page.locator("#uptime_pct").fill("95")
    page.locator("#expected_order_rate").fill("200")
    for scope in ("market:read", "spot:trade"):
        page.locator(f'input[name="requested_scopes"][value="{scope}"]').check()
    page.locator("#ip_allowlist").fill(ip_allowlist)


def upload_form(page, key: str):
    return page.locator("form.upload-form").filter(has=page.locator(f'input[name="requirement"][value="{key}"]'))


def upload(page, key: str, file: Path, issued: date, expires: date | None) -> None:
    form = upload_form(page, key)
    form.locator('input[type="file"]').set_input_files(file)
    form.locator('input[name="issue_date"]').fill(issued.isoformat())
    expiry = form.locator('input[name="expiry_date"]')
    if expires is not None:
        expiry.fill(expires.isoformat())
    form.get_by_role("button", name="Upload").click()


# ---------------------------------------------------------------------------
# The journey.


def test_applicant_completes_and_submits_the_application(live_app, page, shot, tmp_path):
    with live_app.app_context():
        make_applicant(email=EMAIL)
        publish_bundled_rules()
        db.session.commit()
    files = make_files(tmp_path)
    today = date.today()
    issued = today - timedelta(days=30)
    expires = today + timedelta(days=5 * 365)

    sign_in(page)
    page.get_by_role("link", name="Start your application").click()
    expect(page).to_have_url(path_is("/application"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Apply for API access")
    shot("start")
    page.get_by_role("button", name="Start the application").click()

    # --- Step 1: company ---------------------------------------------------------------------
    expect(page).to_have_url(path_is("/application/company"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Company")
    expect(page.get_by_text("Your application is started.")).to_be_visible()
    reference = page.locator(".stepper-ref strong").inner_text().strip()
    assert reference, "the stepper shows no application reference"
    shot("company-empty")

    fill_company(page, BAD_LEI)
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator("#lei-error")).to_have_text("This LEI fails its checksum: check it for typing errors.")
    expect(page.locator("#lei")).to_have_value(BAD_LEI)
    expect(page.locator("#lei")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert")).to_contain_text("LEI (optional): This LEI fails its checksum")
    expect(page.locator("#legal_name")).to_have_value("Northwind Liquidity Ltd")  # the rest is kept too
    expect(page).to_have_url(path_is("/application/company"))
    shot("company-invalid-lei")

    page.locator("#lei").fill(GOOD_LEI)
    shot("company-filled")
    page.get_by_role("button", name="Save and continue").click()

    # --- Step 2: ownership and control -------------------------------------------------------
    expect(page).to_have_url(path_is("/application/ownership"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Ownership and control")
    expect(page.locator(".stepper-item").first.locator(".stepper-state")).to_have_text("Complete")
    shot("ownership-empty")

    add_shareholder(page, name="Alice Founder", percentage="60", born="1980-05-01", country="GB")
    add_shareholder(page, name="Holdco Ltd", percentage="40", company=True, country="CY", registration="HE999")
    add_shareholder(page, name="Bob Investor", percentage="100", of="Holdco Ltd", born="1975-02-02", country="CY")

    bob = shareholder_row(page, "Bob Investor")
    expect(bob).to_contain_text("100% of Holdco Ltd")
    expect(bob.locator("td").nth(3)).to_have_text("40%")
    expect(shareholder_row(page, "Alice Founder").locator("td").nth(3)).to_have_text("60%")
    for name in ("Alice Founder", "Bob Investor"):
        expect(shareholder_row(page, name).locator(".badge-bo")).to_have_text("Beneficial owner")
    expect(shareholder_row(page, "Holdco Ltd").locator(".badge-bo")).to_have_count(0)
    bo_list = page.locator(".summary-box .bo-list li")
    expect(bo_list).to_have_text(["Alice Founder · 60% effective", "Bob Investor · 40% effective"])
    shot("ownership-shareholders")

    page.locator("#person-name").fill("Carol Director")
    page.locator("#person-date_of_birth").fill("1970-01-01")
    page.locator("#person-nationality").select_option("GB")
    page.locator("#person-residence").select_option("GB")
    page.locator("#person-is_director").check()
    page.locator("#person-is_signatory").check()
    page.locator("#person-title").fill("Chief Executive Officer")
    page.get_by_role("button", name="Add person").click()
    expect(page.get_by_role("status").filter(has_text="Carol Director added.")).to_be_visible()
    carol = page.locator("#people tbody tr").filter(has=page.get_by_role("link", name="Carol Director"))
    expect(carol.locator(".badge")).to_have_text(["Director", "Signatory"])
    expect(page.locator(".callout-warn")).to_have_count(0)  # nothing left to do on this step
    shot("ownership-complete")
    page.get_by_role("button", name="Save and continue").click()

    # --- Step 3: market-making profile ------------------------------------------------------
    expect(page).to_have_url(path_is("/application/profile"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Market-making profile and requested access")
    shot("profile-empty")

    fill_profile(page, "203.0.113.10\n300.1.2.3")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.locator("#ip_allowlist-error")).to_have_text(
        "“300.1.2.3” is not an IPv4 or IPv6 address or CIDR range.")
    expect(page.locator("#ip_allowlist")).to_have_value("203.0.113.10\n300.1.2.3")
    expect(page.locator('input[name="requested_scopes"][value="spot:trade"]')).to_be_checked()
    expect(page.locator("#pairs")).to_have_value("BTC/USDT\nETH/USDT")
    expect(page).to_have_url(path_is("/application/profile"))
    shot("profile-invalid-ip")

    page.locator("#ip_allowlist").fill("203.0.113.10\n2001:db8::/48")
    shot("profile-filled")
    page.get_by_role("button", name="Save and continue").click()

    # --- Step 4: documents --------------------------------------------------------------------
    expect(page).to_have_url(path_is("/application/documents"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Documents")
    keys = page.locator('form.upload-form input[name="requirement"]').evaluate_all(
        "inputs => inputs.map(i => i.value)")
    company_keys = [k for k in keys if k.startswith("company:")]
    party_keys = [k for k in keys if k.startswith("party:")]
    assert len(company_keys) == 8, keys  # not regulated: no licence or AML policy
    # Identity document for Alice, Bob and Carol; proof of address for the beneficial owners Alice and Bob.
    assert sorted(k.rsplit(":", 1)[1] for k in party_keys) == ["identity_document"] * 3 + ["proof_of_address"] * 2
    expect(page.get_by_role("status").filter(has_text="13 documents still to upload or fix.")).to_be_visible()
    shot("documents-empty")

    first = company_keys[0]
    first_slot = "#slot-" + first.replace(":", "-")
    upload(page, first, files["exe"], issued, None)
    expect(page.locator(first_slot + " .field-error")).to_contain_text(
        "This file is not a PDF, PNG or JPEG: it looks like a Windows program.")
    expect(page.locator(first_slot)).to_have_class(re.compile(r"\bdoc-slot-error\b"))
    expect(page.locator(first_slot + " .badge-ok")).to_have_count(0)
    shot("documents-windows-program")

    for key in keys:
        slot = page.locator("#slot-" + key.replace(":", "-"))
        identity = upload_form(page, key).locator('input[name="expiry_date"]').count() == 1
        assert identity == key.endswith(":identity_document"), f"expiry date input on {key}: {identity}"
        upload(page, key, document_file(tmp_path, key, photo=identity), issued, expires if identity else None)
        expect(slot.locator(".badge-ok")).to_have_text("Usable")
        expect(slot.locator(".doc-file a")).to_have_text("passport.jpg" if identity else "certificate.pdf")

    slots = page.locator(".doc-slot")
    expect(slots).to_have_count(len(keys))
    expect(page.locator(".doc-slot .badge-ok")).to_have_count(len(keys))
    expect(page.locator(".doc-slot-error")).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="Every required document is uploaded.")).to_be_visible()
    shot("documents-complete")
    page.get_by_role("button", name="Save and continue").click()

    # --- Step 5: review and submit ------------------------------------------------------------
    expect(page).to_have_url(path_is("/application/review"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Review and submit")
    expect(page.get_by_text("Everything needed is in place.")).to_be_visible()
    expect(page.locator(".callout-warn")).to_have_count(0)
    expect(page.locator(".problem-list")).to_have_count(0)
    for state in page.locator(".stepper-item").filter(
            has_not=page.locator('[aria-current="step"]')).locator(".stepper-state").all_inner_texts():
        assert state == "Complete", state
    expect(page.get_by_role("heading", name="API usage rules")).to_be_visible()
    rules = page.locator("#rules .rules-text")
    expect(rules).to_be_visible()
    assert len(rules.inner_text().strip()) > 200, "the API usage rules text is missing or too short"
    expect(page.get_by_text("Bob Investor (40%)", exact=False)).to_be_visible()
    # Every required document is listed with its file; none is missing.
    expect(page.locator("#main table.compact tbody tr")).to_have_count(13)
    expect(page.locator("#main table.compact").get_by_text("Missing")).to_have_count(0)
    # The signer is prefilled with the declared signatory (the user is not one).
    expect(page.locator("#signer_name")).to_have_value("Carol Director")
    shot("review")

    page.get_by_label("I have read the API usage rules above and agree to them on behalf of the institution.").check()
    page.locator("#signer_title").fill("Chief Executive Officer")
    shot("review-signed")
    page.get_by_role("button", name="Agree and submit the application").click()

    expect(page).to_have_url(path_is("/application/status"))
    expect(page.get_by_text(f"Application {reference} submitted.")).to_be_visible()
    expect(page.locator(".page-header .eyebrow")).to_have_text(f"Application {reference}")
    expect(page.locator(".progress-list")).to_contain_text("Automated checks")
    shot("status")

    assert page.problems == []
