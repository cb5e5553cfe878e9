"""End-to-end journeys in headless Chromium against a live server: an applicant registers,
confirms the e-mail address and signs in; a staff member sets up two-factor authentication and
signs in again with a code. Every page visited is saved as a full-page screenshot under
artifacts/e2e/ for review."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from onboarding.accounts.operations import create_staff
from onboarding.db import db

from .browser import check_accessibility
from .conftest import ARTIFACTS, last_email, link_in

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "e2e"
GOOD_PASSWORD = "correct horse battery staple"
TOTP_STEP = 30

expect.set_options(timeout=10_000)


# ---------------------------------------------------------------------------
# Fixtures: a live server on a free local port, and a fresh browser page per test.





@pytest.fixture
def page(browser, live_app):
    context = browser.new_context(base_url=live_app.config["BASE_URL"], viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems: list[str] = []

    def failed_response(response):
        # Chromium asks for /favicon.ico on its own; the site has none (a cosmetic gap, not a failure).
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            problems.append(f"HTTP {response.status} for {response.url}")

    def console_error(message):
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console error: {message.text}")

    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", console_error)
    page.on("response", failed_response)
    page.problems = problems  # HTTP errors, script errors and CSP violations seen by the browser
    yield page
    context.close()


class Shots:
    """Numbered full-page screenshots: artifacts/e2e/<test>-<nn>-<name>.png. Each page shot is
    also checked for form inputs without a label and by axe-core (tests/browser.py)."""

    def __init__(self, test_name: str, page):
        self.prefix = test_name.removeprefix("test_")
        self.page = page
        self.count = 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        for old in SHOTS.glob(f"{self.prefix}-*.png"):
            old.unlink()

    def __call__(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        self.count += 1
        self.page.screenshot(path=SHOTS / f"{self.prefix}-{self.count:02d}-{name}.png", full_page=True)
        assert_inputs_are_labelled(self.page)
        check_accessibility(self.page)


@pytest.fixture
def shot(request, page):
    return Shots(request.node.name, page)


def assert_inputs_are_labelled(page) -> None:
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
            .filter(el => el.getClientRects().length > 0)
            .filter(el => !el.labels || el.labels.length === 0)
            .map(el => el.name || el.id || el.outerHTML)"""
    )
    assert unlabelled == [], f"inputs without a <label> on {page.url}: {unlabelled}"


def email_link(app, address: str) -> str:
    with app.app_context():
        message = last_email(address)
        assert message is not None, f"no e-mail was sent to {address}"
        return link_in(message.text_body)


def path_is(path: str):
    return re.compile(r"^https?://[^/]+" + re.escape(path) + r"(\?.*)?$")


# ---------------------------------------------------------------------------
# Journeys.


def test_applicant_registers_confirms_and_signs_in(live_app, page, shot):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("API trading access for qualified institutions")
    shot("landing")

    page.get_by_role("main").get_by_role("link", name="Apply for API access").click()
    expect(page).to_have_url(path_is("/register"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Create your institution's account")
    shot("register")

    page.get_by_label("Your full name").fill("Morgan Maker")
    page.get_by_label("Work e-mail address").fill("mm@northwind.example")
    page.get_by_label("Institution's legal name").fill("Northwind Liquidity Ltd")
    page.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    page.get_by_label("Repeat the password").fill(GOOD_PASSWORD)
    shot("register-filled")
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(path_is("/register/check-inbox"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    expect(page.get_by_text("mm@northwind.example")).to_be_visible()
    shot("check-inbox")

    link = email_link(live_app, "mm@northwind.example")
    assert link.startswith(live_app.config["BASE_URL"] + "/verify-email/"), link
    page.goto(link)
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_text("Your e-mail address is confirmed")).to_be_visible()
    expect(page.get_by_label("E-mail address")).to_have_value("mm@northwind.example")
    shot("email-confirmed")

    page.get_by_label("Password").fill("not the right password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The e-mail address or password is not right.")
    expect(page.get_by_label("E-mail address")).to_have_value("mm@northwind.example")
    shot("wrong-password")

    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(path_is("/portal"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind Liquidity Ltd")
    expect(page.get_by_role("heading", name="Your path to API access")).to_be_visible()
    expect(page.get_by_text("Welcome, Morgan Maker")).to_be_visible()
    shot("applicant-home")

    assert page.problems == []


def make_staff(app, email="riley@exchange.example"):
    with app.app_context():
        create_staff(
            email=email, full_name="Riley Reviewer", password=GOOD_PASSWORD, roles=["document_reviewer", "approver"]
        )
        db.session.commit()


def sign_in_with_password(page, email="riley@exchange.example", password=GOOD_PASSWORD):
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_staff_sets_up_two_factor_and_signs_in_with_a_code(live_app, page, shot):
    make_staff(live_app)

    page.goto("/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    shot("sign-in")
    sign_in_with_password(page)

    # First sign-in: set up the authenticator app.
    expect(page).to_have_url(path_is("/login/set-up-two-factor"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor authentication")
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()  # drawn: see the test below
    secret_text = page.locator("#totp-secret")
    expect(secret_text).to_be_visible()
    secret = re.sub(r"\s+", "", secret_text.inner_text())
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret), f"the key shown is not a base32 secret: {secret!r}"
    shot("set-up-two-factor")

    totp = pyotp.TOTP(secret)
    now = time.time()
    enrol_step = int(now) // TOTP_STEP  # the step of the code we enter, taken at the same instant
    page.get_by_label("Code from your app").fill(totp.at(now))
    page.get_by_role("button", name="Turn on two-factor authentication").click()

    expect(page).to_have_url(path_is("/account/recovery-codes"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Save your recovery codes")
    codes = page.locator("main code")
    expect(codes).to_have_count(10)
    for code in codes.all_inner_texts():
        assert re.fullmatch(r"[0-9a-f]{6}-[0-9a-f]{6}", code), code
    shot("recovery-codes")

    page.get_by_role("link", name="I have saved them, continue").click()
    expect(page).to_have_url(path_is("/staff"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Riley Reviewer")
    roles = page.get_by_text("Your roles:")
    expect(roles).to_contain_text("Document reviewer")
    expect(roles).to_contain_text("Approver")
    shot("staff-dashboard")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    shot("signed-out")

    # Every later sign-in asks for a code.
    sign_in_with_password(page)
    expect(page).to_have_url(path_is("/login/code"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your authentication code")
    shot("enter-code")

    wrong = next(c for c in ("000000", "111111") if not totp.verify(c, valid_window=1))
    page.get_by_label("Authentication code").fill(wrong)
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page.locator("#code-error")).to_contain_text("That code is not right")
    expect(page.get_by_label("Authentication code")).to_have_value("")  # the wrong code is cleared
    expect(page).to_have_url(path_is("/login/code"))
    shot("wrong-code")

    # The enrolment code's time step is spent (replay protection): wait for a fresh one.
    deadline = time.monotonic() + TOTP_STEP + 2
    while int(time.time()) // TOTP_STEP <= enrol_step:
        assert time.monotonic() < deadline, "the TOTP step did not change"
        time.sleep(0.2)
    page.get_by_label("Authentication code").fill(totp.now())
    page.get_by_role("button", name="Verify and sign in").click()
    expect(page).to_have_url(path_is("/staff"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Riley Reviewer")
    shot("staff-dashboard-again")

    assert page.problems == []


def test_two_factor_qr_code_image_can_be_decoded(live_app, page):
    make_staff(live_app)
    sign_in_with_password(page)
    expect(page).to_have_url(path_is("/login/set-up-two-factor"))
    qr = page.get_by_role("img", name=re.compile("QR code"))
    expect(qr).to_be_visible()
    page.wait_for_load_state("load")
    decoded_width = qr.evaluate("img => img.complete ? img.naturalWidth : -1")
    assert decoded_width > 0, "the QR code image does not render, so it cannot be scanned"
