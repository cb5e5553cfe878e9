"""Accessibility that a screen reader can use, checked on the rendered pages: no id repeated on a page
(the CSRF token of every form had `id="csrf_token"`), no aria attribute with the text "None", and every
document slot's controls named after the document and the person. axe-core itself runs in the
end-to-end journeys on every page they visit (tests/browser.py, `check_accessibility`)."""

from __future__ import annotations

import ast
import html
import re
from collections import Counter
from pathlib import Path

from onboarding.db import db
from onboarding.review import operations as review

from .conftest import submit_form
from .factories import PASSWORD, complete_application, make_applicant, review_team, submit
from .test_review_pages import sign_in as sign_in_staff

PACKAGE = Path(__file__).resolve().parent.parent / "onboarding"
ID_RE = re.compile(r'\sid="([^"]+)"')


def sign_in_applicant(client, email: str = "mm@northwind.example") -> None:
    assert submit_form(client, "/login", {"email": email, "password": PASSWORD}).status_code == 302


def repeated_ids(html: str) -> dict[str, int]:
    return {name: n for name, n in Counter(ID_RE.findall(html)).items() if n > 1}


def test_a_page_with_a_form_per_document_repeats_no_id(app, client):
    user = make_applicant()
    complete_application(user)
    sign_in_applicant(client)
    html = client.get("/application/documents").get_data(as_text=True)
    assert html.count('name="csrf_token"') > 10  # one form per document slot
    assert repeated_ids(html) == {}
    assert 'id="csrf_token"' not in html


def test_no_field_says_none_to_assistive_technology(app, client):
    make_applicant()
    sign_in_applicant(client)
    submit_form(client, "/application/start", {}, form_url="/application")
    for path in ("/application/company", "/application/ownership", "/application/profile",
                 "/application/documents"):
        html = client.get(path).get_data(as_text=True)
        assert '="None"' not in html, path
        assert repeated_ids(html) == {}, path


def test_every_form_is_built_on_the_project_base_that_renders_the_token_without_an_id():
    """A form subclassing Flask-WTF's own FlaskForm would bring `id="csrf_token"` back."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "forms.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "flask_wtf" and any(
                    alias.name == "FlaskForm" for alias in node.names):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert offenders == [], f"import FlaskForm from onboarding.forms instead: {offenders}"


def accessible_names(html_text: str, pattern: str) -> list[str]:
    return re.findall(pattern, html_text)


def test_each_document_slot_names_its_document_and_person(app, client):
    user = make_applicant()
    complete_application(user)
    sign_in_applicant(client)
    page = client.get("/application/documents").get_data(as_text=True)
    files = accessible_names(page, r'<input [^>]*aria-label="(File [^"]*)"[^>]*type="file"')
    uploads = accessible_names(page, r'<button [^>]*aria-label="(Upload [^"]*)"')
    removes = accessible_names(page, r'<button [^>]*aria-label="(Remove [^"]*)"')
    assert len(files) == len(uploads) == len(removes) > 10
    for names in (files, uploads, removes):
        assert len(set(names)) == len(names), f"names repeated: {names}"
    assert "File (PDF, PNG or JPEG, at most 20 MB) for Identity document of Alice Founder" in files
    assert "Upload Certificate of incorporation" in uploads
    assert "Remove Proof of address of Bob Investor" in removes


def test_each_document_on_the_case_page_names_its_document_and_person(app, client):
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)
    team = review_team()
    review.claim(application, team["documents"])
    db.session.commit()
    sign_in_staff(client, team["documents"].email)
    page = html.unescape(client.get(f"/staff/applications/{application.id}").get_data(as_text=True))
    previews = accessible_names(page, r'<img [^>]*alt="(First page of [^"]*)"')
    accepts = accessible_names(page, r'<button [^>]*aria-label="(Accept [^"]*)"')
    assert len(previews) == len(accepts) > 10
    assert len(set(previews)) == len(previews) and len(set(accepts)) == len(accepts)
    assert "First page of Identity document of Carol Director" in previews
    assert "Accept Identity document of Alice Founder" in accepts
