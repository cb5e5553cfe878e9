"""The applicant's pages after a review decision, in headless Chromium against a live server: a step page
with the reviewers' change request above it keeps its two columns, the status page after changes are
requested has one call to action and says the state in words, and an approved institution is shown its
access rather than an invitation to apply again. Shots go to artifacts/e2e/applicant-<name>.png."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from onboarding.applications.models import Application
from onboarding.db import db
from onboarding.review import operations as review

from .browser import check_accessibility
from .conftest import ARTIFACTS
from .factories import PASSWORD, complete_application, make_applicant, review_team, submit
from .test_applicant_status import approved_by_review

pytestmark = pytest.mark.e2e

SHOTS = ARTIFACTS / "e2e"
EMAIL = "mm@northwind.example"
expect.set_options(timeout=10_000)


@pytest.fixture
def page(browser, live_app):
    context = browser.new_context(base_url=live_app.config["BASE_URL"], viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"applicant-{name}.png", full_page=True)


def sign_in(page, email: str = EMAIL) -> None:
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def changes_requested(message: str = "Upload the certificate of incorporation again, all pages.") -> int:
    """A submitted application sent back to the applicant with one change request on the documents step."""
    user = make_applicant(EMAIL)
    application = complete_application(user)
    submit(application, user)
    application = db.session.get(Application, application.id)
    reviewer = review_team()["documents"]
    review.claim(application, reviewer)
    review.request_changes(application, [("documents", message)], reviewer)
    db.session.commit()
    return application.id


def test_a_change_request_above_a_step_leaves_the_form_its_full_width(live_app, page):
    with live_app.app_context():
        changes_requested()
    sign_in(page)
    page.goto("/application/documents")
    banner = page.locator(".change-requests")
    expect(banner).to_contain_text("Upload the certificate of incorporation again")
    shot(page, "documents-with-change-request")

    main_column = page.locator(".step-layout > :not(nav)").first
    width = main_column.bounding_box()["width"]
    assert width >= 700, f"the step's column is {width:.0f} px wide at a 1280 px window"
    # The banner spans the page above the steps and the form, not one of the two columns.
    assert banner.bounding_box()["width"] >= 1000
    assert banner.bounding_box()["y"] < page.locator("nav.stepper").bounding_box()["y"]
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 5000, f"the documents step is {height} px tall"
    check_accessibility(page)

    # The other steps too: the company step with the banner linking to the documents step.
    page.goto("/application/company")
    assert page.locator(".step-layout > :not(nav)").first.bounding_box()["width"] >= 700


def test_the_status_page_after_changes_are_requested_offers_one_way_on(live_app, page):
    with live_app.app_context():
        changes_requested()
    sign_in(page)
    page.goto("/application/status")
    shot(page, "status-changes-requested")
    main = page.get_by_role("main")
    expect(main.get_by_role("link", name=re.compile("application|changes", re.I))).to_have_count(1)
    expect(page.locator(".progress-list li.current")).to_contain_text("Changes requested")
    check_accessibility(page)
    main.get_by_role("link", name="Make the changes").click()
    expect(page.locator(".change-requests")).to_contain_text("Upload the certificate of incorporation again")


def test_an_approved_institution_sees_its_letter_and_its_keys_not_an_invitation_to_apply(live_app, page):
    with live_app.app_context():
        approved_by_review()
    sign_in(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Application").click()
    expect(page).to_have_url(re.compile(r"/application/status$"))
    shot(page, "status-approved")
    check_accessibility(page)
    expect(page.get_by_role("button", name="Start the application")).to_have_count(0)
    page.get_by_role("link", name="Create your API keys").click()
    expect(page).to_have_url(re.compile(r"/institution/keys$"))
    shot(page, "keys-after-approval")
    check_accessibility(page)
