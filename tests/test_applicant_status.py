"""What the applicant is told after a review decision, over HTTP: the status page after changes are
requested (one call to action, the state in words), a step page while the application is under review
(a sentence), and an approved institution (pointed at the keys page by the status page, the e-mail and
the letter; never offered to apply again, and a second draft refused)."""

from __future__ import annotations

import html
import re

from sqlalchemy import func, select

from onboarding.applications.models import Application
from onboarding.db import db
from onboarding.institutions.models import ACTIVE, Institution
from onboarding.review import operations as review

from . import factories
from .conftest import last_email, submit_form
from .factories import PASSWORD, complete_application, granted_institution, make_applicant, review_team, submit
from .test_letters import approved_application, issue, pdf_text, verified_pdf

EMAIL = "mm@northwind.example"


def sign_in(client, email: str = EMAIL) -> None:
    assert submit_form(client, "/login", {"email": email, "password": PASSWORD}).status_code == 302


def text_of(response) -> str:
    """The page's visible words, tags removed, whitespace folded."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def submitted() -> Application:
    user = make_applicant(EMAIL)
    application = complete_application(user)
    submit(application, user)
    return db.session.get(Application, application.id)


def applications_of(institution_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Application)
                             .where(Application.institution_id == institution_id))


def test_after_changes_are_requested_the_status_page_has_one_call_to_action_and_names_the_state(app, client):
    application = submitted()
    reviewer = review_team()["documents"]
    review.claim(application, reviewer)
    review.request_changes(application, [("profile", "State the uptime you commit to.")], reviewer)
    db.session.commit()
    sign_in(client)

    page = client.get("/application/status")
    source = page.get_data(as_text=True)
    buttons = re.findall(r'<a class="button[^"]*" href="/application">([^<]+)</a>', source)
    assert buttons == ["Make the changes"]
    words = text_of(page)
    assert "State the uptime you commit to." in words
    assert "Now Changes requested" in words and "Now Draft" not in words


def test_a_step_of_an_application_under_review_says_so_in_a_sentence(app, client):
    application = submitted()
    sign_in(client)
    words = text_of(client.get("/application/company"))
    stage = application.state_label.lower()
    assert f"This application is in {stage}, so it can no longer be edited." in words


def approved_by_review() -> Application:
    application = submitted()
    team = review_team()
    factories.accept_documents(application, team["documents"])
    factories.qualify(db.session.get(Application, application.id), team["qualification"])
    factories.approve(db.session.get(Application, application.id), team["approver"])
    return db.session.get(Application, application.id)


def test_an_approved_institution_is_pointed_at_its_keys_and_never_offered_to_apply_again(app, client):
    application = approved_by_review()
    institution = db.session.get(Institution, application.institution_id)
    assert institution.status == ACTIVE
    sign_in(client)

    status = client.get("/application/status")
    assert 'href="/institution/keys"' in status.get_data(as_text=True)
    assert "Create your API keys" in text_of(status)
    # The header's "Application" leads to the application that granted access, not to a new one.
    overview = client.get("/application")
    assert overview.status_code == 302 and overview.headers["Location"].endswith("/application/status")
    for path in ("/portal", "/application/status", "/institution/keys"):
        words = text_of(client.get(path, follow_redirects=True))
        assert "Start the application" not in words and "Start your application" not in words, path
        assert "Apply for API access" not in words, path

    # A start posted anyway (an old tab, a replayed form) is refused: no second draft.
    refused = submit_form(client, "/application/start", {}, form_url="/application/status", follow_redirects=True)
    assert applications_of(institution.id) == 1
    assert "already has API access" in text_of(refused)


def test_an_institution_granted_access_without_an_application_here_lands_on_its_keys(app, client):
    user = granted_institution()
    sign_in(client, user.email)
    overview = client.get("/application")
    assert overview.status_code == 302 and overview.headers["Location"].endswith("/institution/keys")
    assert "Start your application" not in text_of(client.get("/portal"))
    submit_form(client, "/application/start", {}, form_url="/institution/keys")
    assert applications_of(user.institution_id) == 0


def test_the_approval_email_and_the_letter_name_the_keys_page(app, tmp_path):
    app.config["DOCUMENTS_DIR"] = str(tmp_path / "documents")
    application, approver = approved_application()
    letter = issue(application, approver)
    text = re.sub(r"\s+", " ", pdf_text(verified_pdf(letter)))
    assert "create your API keys on the API keys page, http://localhost/institution/keys" in text
    assert "http://localhost/institution/keys" in last_email(EMAIL).text_body
