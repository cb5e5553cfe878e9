"""A compliance officer searches the audit log in Chromium: by who, by what, by subject; an empty result
says what was searched and how to clear it. Screenshots: artifacts/e2e/audit-search-*.png."""

from __future__ import annotations

import pyotp
import pytest
from playwright.sync_api import expect

from onboarding.accounts.operations import set_totp_secret
from onboarding.audit.operations import record
from onboarding.db import db, utcnow

from .browser import browser, live_app  # noqa: F401  (fixtures)
from .factories import make_staff
from .test_e2e_enforcement import journeys  # noqa: F401  (fixture)
from .test_e2e_review import staff_sign_in

pytestmark = pytest.mark.e2e


def test_a_compliance_officer_finds_events_by_who_what_and_subject(live_app, journeys):  # noqa: F811
    journey = journeys("audit-search")
    with live_app.app_context():
        cora = make_staff("cora@exchange.example", "Cora Compliance", ["compliance"])
        totp = pyotp.random_base32()
        set_totp_secret(cora, totp)
        cora.totp_enrolled_at = utcnow()
        record("application.approve", "application", "4711", {"reference": "API-0004711"},
               actor_label="rory@exchange.example")
        record("key.revoke", "api_key", "K-99", {"reason": "leaked"}, actor_label="sam@exchange.example")
        record("institution.freeze", "institution", "31", {"legal_name": "Ärzte 100% Handels AG"})
        db.session.commit()

    page = journey.session()
    staff_sign_in(page, "cora@exchange.example", totp)
    page.goto("/staff/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    search = page.get_by_role("searchbox", name="Who, what or which subject")
    search.fill("rory@")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_role("region", name="Audit events, newest first").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("application.approve")
    expect(page.get_by_text("1 event", exact=True)).to_be_visible()
    journey.shot(page, "by-actor")

    search.fill("api_key")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("key.revoke")

    search.fill('nobody" OR "*')
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text('No events match “nobody" OR "*”')
    journey.shot(page, "no-match")
    rows.first.get_by_role("link", name="clear the filters").click()
    expect(search).to_have_value("")
    expect(page.get_by_role("link", name="Clear")).to_have_count(0)
