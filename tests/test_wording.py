"""What people read: counts with proper plurals ("1 hit", "3 hits", never "hit(s)"), and dates in the product's
one readable form ("2 Jun 1979"), never an ISO date, on every page of the full demo world."""

from __future__ import annotations

import re
from collections import Counter, deque
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from onboarding.applications import operations as ops
from onboarding.applications.models import PERSON, Application
from onboarding.db import db
from onboarding.demo import DEMO_APPLICANT, DEMO_INSTITUTIONS, DEMO_PASSWORD, DEMO_STAFF, seed_demo
from onboarding.templating import plural

from .conftest import csrf_token_from

ROOT = Path(__file__).resolve().parent.parent

# "hit(s)", "match(es)", "entr(ies)": a parenthesised plural.
PAREN_PLURAL = re.compile(r"(?<![\w.])[a-z]+\((?:s|es|ies)\)")  # not a call such as `items(s)`
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@pytest.mark.parametrize(("count", "words", "said"), [
    (0, ("hit",), "0 hits"), (1, ("hit",), "1 hit"), (2, ("hit",), "2 hits"),
    (1, ("possible match", "possible matches"), "1 possible match"),
    (3, ("possible match", "possible matches"), "3 possible matches"),
])
def test_plural_says_the_count_with_the_right_noun(count, words, said):
    assert plural(count, *words) == said


def test_no_template_or_message_writes_a_parenthesised_plural():
    sources = [*ROOT.joinpath("templates").rglob("*.html"), *ROOT.joinpath("templates").rglob("*.txt"),
               *ROOT.joinpath("onboarding").rglob("*.py")]
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in sources for number, line in enumerate(path.read_text().splitlines(), 1)
             if PAREN_PLURAL.search(line)]
    assert not found, "write the plural out (templating.plural / the `plural` filter):\n" + "\n".join(found)


def test_the_decision_panel_counts_confirmed_matches_in_words(app):
    from flask import render_template_string

    with app.test_request_context():
        said = render_template_string("{{ n|plural('sanctions match', 'sanctions matches') }}", n=1)
    assert said == "1 sanctions match"


# ---------------------------------------------------------------------------
# Dates on every page of the demo.

class ReadableText(HTMLParser):
    """The text a person reads on a page: text nodes and the attributes read aloud or shown (title, alt,
    aria-label, placeholder). Inputs' values, <textarea> contents, datetime= and other machine-readable
    attributes (href, data-*) are left out: a date input's value must be ISO."""

    SHOWN = {"title", "alt", "aria-label", "placeholder"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag in ("script", "style", "textarea"):
            self._skip += 1
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        self.parts += [value for name, value in attrs if name in self.SHOWN and value]

    def handle_endtag(self, tag):
        if tag in ("script", "style", "textarea") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


# GET links that end the session or are files, not pages.
NOT_PAGES = re.compile(r"/logout|/download|/preview|/file|\.pdf$|/static/|/metrics|/openapi|/health")


def sign_in(app, email: str, secret: str | None):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD,
                                           "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302, email
    if secret:
        page = client.get("/login/code").get_data(as_text=True)
        response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now(),
                                                    "csrf_token": csrf_token_from(page)})
        assert response.status_code == 302, email
    return client


def crawl(client, start: str, limit: int, per_shape: int = 6) -> dict[str, str]:
    """The HTML pages reachable by links from `start`, at most `per_shape` of each route shape (a case in
    each state, not forty cases)."""
    shapes: Counter[str] = Counter()
    pages: dict[str, str] = {}
    queue = deque([start])
    seen: set[str] = set()
    while queue and len(pages) < limit:
        url = queue.popleft()
        shape = re.sub(r"\d+", "N", urlsplit(url).path) + ("?" if urlsplit(url).query else "")
        if url in seen or shapes[shape] >= per_shape or NOT_PAGES.search(urlsplit(url).path):
            continue
        seen.add(url)
        shapes[shape] += 1
        response = client.get(url, follow_redirects=True)
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        html = response.get_data(as_text=True)
        pages[url] = html
        parser = ReadableText()
        parser.feed(html)
        for href in parser.links:
            href = urldefrag(href)[0]
            if href.startswith("/") and not href.startswith("//"):
                queue.append(href)
    return pages


def test_no_page_of_the_demo_prints_an_iso_date(app):
    seed_demo()
    # The demo's draft has no people yet: give it one, so the ownership step's table of people is read too.
    draft = db.session.scalars(select(Application).where(Application.state == "draft")).first()
    ops.add_party(draft, PERSON, {"name": "Ines Irving", "date_of_birth": date(1979, 6, 2), "nationality": "DE",
                                  "residence": "DE", "is_director": True, "title": "Director"})
    db.session.commit()
    users = [(email, secret) for email, _, _, secret in DEMO_STAFF]
    users += [(row[0], None) for row in DEMO_INSTITUTIONS] + [(DEMO_APPLICANT[0], None)]
    problems: list[str] = []
    visited = 0
    for email, secret in users:
        pages = crawl(sign_in(app, email, secret), "/", limit=60)
        visited += len(pages)
        for url, html in pages.items():
            parser = ReadableText()
            parser.feed(html)
            text = " ".join(" ".join(parser.parts).split())
            for match in ISO_DATE.finditer(text):
                problems.append(f"{email} {url}: …{text[max(match.start() - 60, 0):match.end() + 20]}…")
    assert visited > 50, f"the crawl reached only {visited} pages"
    assert not problems, "ISO dates shown to people (use the `day` or `date` filter):\n" + "\n".join(
        sorted(set(problems))[:60])


def test_the_review_step_shows_a_bare_dash_for_a_figure_not_given_yet(app, client):
    from .factories import fill_company, make_applicant
    from .test_applicant_status import sign_in, text_of

    user = make_applicant()
    fill_company(ops.start_application(user))
    db.session.commit()
    sign_in(client, user.email)
    words = text_of(client.get("/application/review"))
    assert "Capital – Pairs" in words and "uptime –" in words, words
    for unit_after_nothing in ("– USD", "– years", "– bps", "–%", "– orders/s"):
        assert unit_after_nothing not in words
