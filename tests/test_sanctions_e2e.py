"""In headless Chromium: an administrator uploads the OFAC sample, is refused when uploading the UN
list under the wrong format, then uploads a changed OFAC version (as a zip) and sees what changed and
the re-screen's new hit on an application in review. Screenshots under artifacts/e2e/sanctions-<nn>-*.png."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect

from onboarding.accounts.operations import set_totp_secret
from onboarding.db import db, utcnow

from .factories import complete_application, make_applicant, make_staff, submit
from .test_e2e_enforcement import Journey
from .test_e2e_review import staff_sign_in
from .test_sanctions_pages import ofac_zip
from .test_sanctions_refresh import OFAC_SAMPLE, UN_SAMPLE, changed_ofac

pytestmark = pytest.mark.e2e
expect.set_options(timeout=15_000)


def test_an_admin_imports_a_changed_ofac_list_and_sees_the_new_hit(live_app, browser, tmp_path):
    live_app.config["SANCTIONS_DIR"] = str(tmp_path / "sanctions")
    live_app.config["SANCTIONS_OFAC_SDN_URL"] = live_app.config["SANCTIONS_UN_XML_URL"] = ""
    with live_app.app_context():
        user = make_applicant()
        application = complete_application(user)
        submit(application, user)
        admin = make_staff("alex@exchange.example", "Alex Admin", ["admin"])
        secret = pyotp.random_base32()
        set_totp_secret(admin, secret)
        admin.totp_enrolled_at = utcnow()
        db.session.commit()
    changed = changed_ofac(tmp_path / "ofac-v2")
    zipped = tmp_path / "sdn_csv.zip"
    zipped.write_bytes(ofac_zip(changed))

    journey = Journey(browser, live_app.config["BASE_URL"], "sanctions")
    try:
        page = journey.session()
        staff_sign_in(page, "alex@exchange.example", secret)
        page.goto("/staff/sanctions-lists")
        expect(page.get_by_role("heading", level=1)).to_have_text("Sanctions lists")
        expect(page.locator("main")).to_contain_text("No list has been imported yet")
        journey.shot(page, "lists-empty")

        # The first version: the four CSV files together, format left to the file.
        page.get_by_label("List file", exact=True).set_input_files(sorted(OFAC_SAMPLE.iterdir()))
        page.get_by_role("button", name="Upload and import").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("OFAC SDN: import #1")
        expect(page.locator("main")).to_contain_text("Version 1 is now the current list")
        expect(page.locator("main")).to_contain_text("The new version names none of the institutions")
        journey.shot(page, "first-version")

        # The UN list under the OFAC format: refused at the field, nothing saved.
        page.get_by_role("link", name="Sanctions lists").first.click()
        page.get_by_label("List file", exact=True).set_input_files(UN_SAMPLE)
        page.get_by_label("Format").select_option(label="OFAC SDN")
        page.get_by_role("button", name="Upload and import").click()
        expect(page.locator("#files-error")).to_contain_text(
            "This looks like the UN Security Council list, not OFAC SDN")
        journey.problems.clear()  # the refusal is a 422 by design
        journey.shot(page, "wrong-format-refused")

        # OFAC publishes a change: the applicant's company is listed.
        page.get_by_label("Format").select_option(label="Tell from the file")
        page.get_by_label("List file", exact=True).set_input_files(zipped)
        page.get_by_role("button", name="Upload and import").click()
        expect(page.locator("main")).to_contain_text("Version 2 is now the current list")
        expect(page.locator("main")).to_contain_text("1 institution re-screened")
        hits = page.locator("#rescreen table")
        expect(hits).to_contain_text("Northwind Liquidity Ltd")
        expect(hits).to_contain_text("NORTHWIND LIQUIDITY LTD")
        expect(hits.get_by_role("link", name=re.compile(r"^KYB-"))).to_be_visible()
        expect(page.locator("main")).to_contain_text("1 entry added, 1 removed")
        journey.shot(page, "changed-version-new-hit")

        page.get_by_role("link", name="Sanctions lists").first.click()
        expect(page.locator("main")).to_contain_text("Current: version 2")
        journey.shot(page, "lists-after")
    finally:
        journey.close()
