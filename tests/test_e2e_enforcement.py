"""End-to-end in headless Chromium: a compliance officer reports a violation by hand, the institution's
user sees the frozen banner (the category and time, nothing more), the officer claims the case and offers
reinstatement, the user reads and agrees to the risk-control rules, and the keys work again.
Every page is saved as a full-page screenshot under artifacts/e2e/enforcement-<nn>-<name>.png."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect

from onboarding.accounts.operations import set_totp_secret
from onboarding.db import db, utcnow
from onboarding.enforcement.decisions import claim_investigation, restrict
from onboarding.enforcement.intake import report_violation
from onboarding.enforcement.models import Investigation

from .factories import PASSWORD, granted_institution, make_staff
from .test_e2e_review import Journey, staff_sign_in
from .test_enforcement import report
from .test_keys import ORDER, ask, hmac_key, signed

pytestmark = pytest.mark.e2e

PREFIX = "enforcement"
BANNER = "section.enforcement-banner"
expect.set_options(timeout=15_000)


@pytest.fixture
def journeys(browser, live_app):
    """Start a journey whose shots are named <prefix>-<nn>-<name>.png."""
    started = []

    def start(prefix: str) -> Journey:
        started.append(Journey(browser, live_app.config["BASE_URL"], prefix))
        return started[-1]

    yield start
    for journey in started:
        journey.close()


def sign_in_desk(page) -> None:
    page.goto("/login")
    page.get_by_label("E-mail address").fill("desk@evergreen.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def test_a_hand_made_report_freezes_and_agreeing_to_the_rules_restores_access(live_app, journeys):
    journey = journeys(PREFIX)
    with live_app.app_context():
        user = granted_institution()
        issued = hmac_key(user)
        api_key, secret, key_id = issued.api_key, issued.secret, issued.key.public_id
        officer = make_staff("cora@exchange.example", "Cora Compliance", ["compliance"])
        totp = pyotp.random_base32()
        set_totp_secret(officer, totp)
        officer.totp_enrolled_at = utcnow()
        db.session.commit()
        assert ask(api_key, signed(ORDER, secret=secret)).reason == "ok"

    # --- Cora, compliance officer, reports by hand --------------------------------------------------
    cora = journey.session()
    staff_sign_in(cora, "cora@exchange.example", totp)
    cora.get_by_role("navigation", name="Main").get_by_role("link", name="Investigations").click()
    expect(cora.get_by_role("heading", level=1)).to_have_text("Investigations")
    expect(cora.locator("main")).to_contain_text("No unresolved investigations.")
    journey.shot(cora, "queue-empty")
    cora.get_by_role("link", name="Report a violation by hand").click()
    cora.get_by_label("Institution").select_option(label="Evergreen Liquidity BV")
    cora.get_by_label("API key (optional)").fill(key_id)
    cora.get_by_label("Category").select_option(label="Unauthorised bot trading")
    cora.get_by_label("Market impact").select_option(label="Minor")
    cora.get_by_label("Observed at (UTC)").fill("2026-12-01T09:30")
    cora.get_by_label("Evidence").fill("Order bursts every 3 ms on BTC/EUR from 203.0.113.10, 09:30-09:42 UTC.")
    expect(cora.get_by_label("Your reference")).to_have_value(re.compile(r"^STAFF-\d{8}-\d{6}$"))
    journey.shot(cora, "report-form")
    cora.get_by_role("button", name="Record the report and freeze access").click()
    expect(cora.locator(".flash-success")).to_contain_text("Evergreen Liquidity BV is frozen (1 key suspended)")
    expect(cora.locator("#reports")).to_contain_text("Order bursts every 3 ms")
    journey.shot(cora, "case-reported")
    with live_app.app_context():
        assert ask(api_key, signed(ORDER, secret=secret)).reason == "key_frozen"

    # --- the institution's user sees the frozen banner ---------------------------------------------
    desk = journey.session()
    sign_in_desk(desk)
    desk.goto("/institution/keys")
    banner = desk.locator(BANNER)
    expect(banner).to_contain_text("API access of Evergreen Liquidity BV is frozen")
    expect(banner).to_contain_text("Unauthorised bot trading, observed 1 Dec 2026, 09:30 UTC")
    expect(banner).to_contain_text("under investigation")
    expect(desk.locator("main")).not_to_contain_text("Order bursts")
    journey.shot(desk, "applicant-frozen")

    # --- Cora claims and offers reinstatement ------------------------------------------------------
    cora.get_by_role("button", name="Claim this investigation").click()
    expect(cora.locator(".flash-success")).to_contain_text("assigned to you")
    cora.get_by_text("Offer reinstatement (first offence)").click()
    cora.get_by_label("Basis of the offer").fill("First report, minor impact: the desk misread the bot rules.")
    journey.shot(cora, "claimed-offer-form")
    cora.get_by_role("button", name="Offer reinstatement").click()
    expect(cora.locator(".flash-success")).to_contain_text("Reinstatement offered")
    expect(cora.locator(".case-facts")).to_contain_text("Waiting for the institution's agreement")
    journey.shot(cora, "reinstatement-offered")
    cora.get_by_role("link", name="All investigations").click()
    expect(cora.locator(".stat").nth(1).locator(".stat-value")).to_have_text("1")
    journey.shot(cora, "queue-waiting")

    # --- the user reads and agrees; the keys work again ---------------------------------------------
    desk.reload()
    expect(banner).not_to_contain_text("under investigation")
    expect(desk.locator("main")).not_to_contain_text("misread")
    journey.shot(desk, "applicant-offer")
    banner.get_by_role("link", name="Read and agree to the risk-control rules to restore access").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Restore API access")
    rules = desk.get_by_role("region", name=re.compile("The risk-control rules, version"))
    rules.focus()
    expect(rules).to_be_focused()
    journey.shot(desk, "reinstatement-page")
    desk.get_by_role("button", name=re.compile("and restore access")).click()
    expect(desk.locator("#agree-error")).to_contain_text("Tick the box")
    journey.problems.clear()  # the refusal above is a 422 on purpose
    journey.shot(desk, "reinstatement-refused")
    desk.get_by_label(re.compile("I have read the risk-control rules")).check()
    desk.get_by_label("Your full name").fill("Morgan Maker")
    desk.get_by_label("Your title or position").fill("Chief Executive Officer")
    desk.get_by_role("button", name=re.compile("and restore access")).click()
    expect(desk.locator(".flash-success")).to_have_text(
        "Access restored: your institution is active again, and its keys work again.")
    expect(desk.locator(BANNER)).to_have_count(0)
    expect(desk.locator(f"#key-{key_id}")).to_contain_text("Active")
    journey.shot(desk, "access-restored")
    with live_app.app_context():
        assert ask(api_key, signed(ORDER, secret=secret)).reason == "ok"
        assert db.session.scalar(db.select(Investigation.status)) == "reinstated"


def test_a_restricted_institution_sees_the_notice_on_every_page(live_app, journeys):
    journey = journeys(f"{PREFIX}-restricted")
    with live_app.app_context():
        user = granted_institution()
        hmac_key(user)
        recorded = report_violation(report(user.institution_id, malicious=True), reporter="token:surveillance")
        officer = make_staff("cora@exchange.example", "Cora Compliance", ["compliance"])
        totp = pyotp.random_base32()
        set_totp_secret(officer, totp)
        officer.totp_enrolled_at = utcnow()
        claim_investigation(recorded.investigation, officer)
        restrict(recorded.investigation, "INTERNAL: malicious arbitrage ring, second desk involved.", officer)
        db.session.commit()
        investigation_id = recorded.investigation.id

    # The decided case as compliance sees it: the surveillance evidence, pretty-printed, and the outcome.
    cora = journey.session()
    staff_sign_in(cora, "cora@exchange.example", totp)
    cora.goto(f"/staff/investigations/{investigation_id}")
    expect(cora.locator(".evidence-json")).to_contain_text('"orders": 1200')
    expect(cora.locator("#decision")).to_contain_text("INTERNAL: malicious arbitrage ring")
    journey.shot(cora, "restricted-case")

    desk = journey.session()
    sign_in_desk(desk)
    for path, name in (("/portal", "restricted-home"), ("/institution/keys", "restricted-keys")):
        desk.goto(path)
        banner = desk.locator(BANNER)
        expect(banner).to_contain_text("API access of Evergreen Liquidity BV is permanently restricted")
        expect(banner).to_contain_text("No new keys can be created and no new applications can be made.")
        expect(desk.locator("body")).not_to_contain_text("INTERNAL")
        journey.shot(desk, name)
