"""End-to-end in headless Chromium: an admin invites a reviewer, who sets a password, enrols TOTP and signs
in; the admin publishes a new version of the API usage rules (preview with its diff first) and an applicant
of an active institution then has to agree to it before creating a key; the admin creates a service token,
sees it once, and revokes it. Screenshots under artifacts/e2e/admin-<nn>-<name>.png."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pyotp
import pytest
from playwright.sync_api import expect

from onboarding.accounts.operations import set_totp_secret
from onboarding.agreements.models import API_USAGE
from onboarding.agreements.operations import current_rules
from onboarding.db import db, utcnow

from .conftest import last_email, link_in, path_of
from .factories import granted_institution, make_staff
from .test_e2e_enforcement import journeys, sign_in_desk  # noqa: F401  (fixture)
from .test_e2e_review import staff_sign_in

pytestmark = pytest.mark.e2e
expect.set_options(timeout=15_000)

RILEY_PASSWORD = "tangerine harbour lantern 42"


def call_api(base_url: str, token: str) -> int:
    request = urllib.request.Request(  # noqa: S310 (the test's own server on loopback)
        f"{base_url}/api/v1/authorize", data=json.dumps({}).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_admin_invites_a_reviewer_publishes_rules_and_manages_a_service_token(live_app, journeys):  # noqa: F811
    journey = journeys("admin")
    base_url = live_app.config["BASE_URL"]
    with live_app.app_context():
        granted_institution()
        alex = make_staff("alex@exchange.example", "Alex Admin", ["admin"])
        alex_totp = pyotp.random_base32()
        set_totp_secret(alex, alex_totp)
        alex.totp_enrolled_at = utcnow()
        db.session.commit()
        current_text = current_rules(API_USAGE).text

    # --- Alex invites Riley -------------------------------------------------------------------------
    alex = journey.session()
    staff_sign_in(alex, "alex@exchange.example", alex_totp)
    expect(alex.locator("main")).not_to_contain_text("command line")
    alex.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    expect(alex.get_by_role("heading", level=1)).to_have_text("Administration")
    journey.shot(alex, "overview")
    alex.get_by_role("navigation", name="Administration").get_by_role("link", name="Staff accounts").click()
    alex.get_by_label("Full name").fill("Riley Reviewer")
    alex.get_by_label("Work e-mail address").fill("riley@exchange.example")
    alex.get_by_label("Document reviewer").check()
    journey.shot(alex, "invite-form")
    alex.get_by_role("button", name="Send the invitation").click()
    expect(alex.locator(".flash-success")).to_contain_text("Invitation sent to riley@exchange.example")
    expect(alex.locator("main")).to_contain_text("Invited")
    journey.shot(alex, "invited")

    # --- Riley accepts: password, TOTP, signed in -----------------------------------------------------
    with live_app.app_context():
        link = path_of(link_in(last_email("riley@exchange.example").text_body))
    riley = journey.session()
    riley.goto(link)
    expect(riley.get_by_role("heading", level=1)).to_have_text("Welcome, Riley Reviewer")
    riley.get_by_label("Choose a password").fill(RILEY_PASSWORD)
    riley.get_by_label("Repeat the password").fill(RILEY_PASSWORD)
    journey.shot(riley, "invitation")
    riley.get_by_role("button", name="Set password and continue").click()
    expect(riley.get_by_role("heading", level=1)).to_have_text("Set up two-factor authentication")
    secret = riley.locator("#totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    enrolled_step = int(time.time()) // 30
    riley.get_by_label("Code from your app").fill(totp.at(enrolled_step * 30))
    journey.shot(riley, "enrol-totp")
    riley.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(riley.get_by_role("heading", level=1)).to_have_text("Save your recovery codes")
    riley.get_by_role("link", name="I have saved them, continue").click()
    expect(riley.locator("main")).to_contain_text("Document reviewer")
    journey.shot(riley, "reviewer-home")
    # Signs out and in again with the app's next code (a code is accepted once).
    riley.get_by_role("button", name="Sign out").click()
    while int(time.time()) // 30 <= enrolled_step:
        time.sleep(0.5)
    riley.goto("/login")
    riley.get_by_label("E-mail address").fill("riley@exchange.example")
    riley.get_by_label("Password").fill(RILEY_PASSWORD)
    riley.get_by_role("button", name="Sign in").click()
    riley.get_by_label("Authentication code").fill(totp.now())
    riley.get_by_role("button", name="Verify and sign in").click()
    expect(riley).to_have_url(re.compile(r"/staff$"))
    # Her account page (through the address in the header): sign out every other session.
    riley.get_by_role("link", name="riley@exchange.example").click()
    expect(riley.get_by_role("heading", level=1)).to_have_text("Riley Reviewer")
    riley.get_by_role("button", name="Sign out all my other sessions").click()
    expect(riley.locator(".flash-success")).to_contain_text("This one stays signed in.")
    journey.shot(riley, "account")
    alex.get_by_role("link", name="← All staff").click()
    expect(alex.locator("tr", has_text="Riley Reviewer")).to_contain_text("On")
    journey.shot(alex, "staff-list")

    # --- Alex publishes new API usage rules -------------------------------------------------------------
    alex.get_by_role("navigation", name="Administration").get_by_role("link", name="Rule documents").click()
    expect(alex.locator("#api-usage")).to_contain_text("1 of 1")
    alex.get_by_role("radio", name="API usage rules").check()
    alex.get_by_label("Version name").fill("2027-01")
    new_text = current_text.replace("12. Changes.", "12. Changes. Notice of a change is given 30 days ahead.")
    alex.get_by_label("Text of the rules").fill(new_text)
    journey.shot(alex, "rules-form")
    alex.get_by_role("button", name="Preview").click()
    expect(alex.get_by_role("heading", level=1)).to_contain_text("Preview: API usage rules, version 2027-01")
    expect(alex.locator("tr.diff-add")).to_contain_text("Notice of a change is given 30 days ahead.")
    expect(alex.locator("tr.diff-remove")).to_have_count(1)
    journey.shot(alex, "rules-preview")
    alex.get_by_role("button", name="Publish version 2027-01").click()
    expect(alex.locator(".flash-success")).to_contain_text("1 active institution must agree to it")
    expect(alex.locator("#api-usage")).to_contain_text("Evergreen Liquidity BV")
    journey.shot(alex, "rules-published")

    # --- the applicant must agree before creating a key -------------------------------------------------
    desk = journey.session()
    sign_in_desk(desk)
    desk.goto("/institution/keys")
    rules = desk.locator("#rules")
    expect(rules).to_contain_text("New API usage rules: agree before creating keys")
    expect(rules).to_contain_text("Notice of a change is given 30 days ahead.")
    journey.shot(desk, "keys-must-agree")
    expect(desk.locator("#new-key .callout-warn")).to_be_visible()  # no key form until they agree
    expect(desk.get_by_role("button", name="Create the key")).to_have_count(0)
    rules.get_by_label(re.compile("I have read the API usage rules above")).check()
    rules.get_by_label("Your full name").fill("Morgan Maker")
    rules.get_by_label("Your title or position").fill("Head of Trading")
    rules.get_by_role("button", name="Agree to version 2027-01").click()
    expect(desk.locator(".flash-success")).to_contain_text("version 2027-01, recorded")
    expect(desk.locator("#rules")).to_have_count(0)
    expect(desk.get_by_role("button", name="Create the key")).to_be_visible()
    journey.shot(desk, "keys-agreed")
    alex.reload()
    expect(alex.locator("#api-usage")).to_contain_text("Every active institution has agreed to the current version.")

    # --- service token: created, shown once, works, revoked ----------------------------------------------
    alex.get_by_role("navigation", name="Administration").get_by_role("link", name="Service tokens").click()
    alex.get_by_label("Name").fill("gateway eu-1")
    alex.get_by_label(re.compile("the gateway")).check()
    alex.get_by_role("button", name="Create the token").click()
    plaintext = alex.locator("#new-token").inner_text().strip()
    assert plaintext.startswith("mxs_")
    journey.shot(alex, "token-created")
    assert call_api(base_url, plaintext) == 422, "the token is accepted (the empty body is what is refused)"
    alex.get_by_role("navigation", name="Administration").get_by_role("link", name="Service tokens").click()
    expect(alex.locator("main")).not_to_contain_text(plaintext)
    row = alex.locator("tr", has_text="gateway eu-1")
    row.locator("summary", has_text="Revoke").click()
    row.get_by_label(re.compile("Yes, refuse calls with")).check()
    journey.shot(alex, "token-revoke")
    row.get_by_role("button", name="Revoke").click()
    expect(alex.locator(".flash-success")).to_contain_text("is revoked")
    expect(alex.locator("tr", has_text="gateway eu-1")).to_contain_text("Revoked")
    journey.shot(alex, "token-revoked")
    assert call_api(base_url, plaintext) == 401
