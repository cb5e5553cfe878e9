"""Accessibility that a screen reader can use, checked on the rendered pages: no id repeated on a page
(the CSRF token of every form had `id="csrf_token"`), no aria attribute with the text "None", and every
document slot's controls named after the document and the person. axe-core itself runs in the
end-to-end journeys on every page they visit (tests/browser.py, `check_accessibility`)."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

from .conftest import submit_form
from .factories import PASSWORD, complete_application, make_applicant

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
