"""Property-based tests over every form the app offers (hypothesis): whatever a person or an attacker posts
to any field (arbitrary text, numbers written every way, unicode, huge strings, missing fields), the answer
is never a server error, and an answer that refuses the input leaves the database as it was.

Every POST route in the URL map is a test case. Each builds a world where the route's form exists (an
applicant with a complete draft, an active institution, the review team with a submitted case), signs in
the user who would see it, finds the form on the pages that user can reach, and posts generated values to
the form's own fields (names, options and buttons read from the page, so prefixes and hidden fields are
exactly what a browser would send). A refusal keeps the database as it was and shows each refused field's
typed text again with a message under it. Every form route has a world (a sign-in stopped half-way, an
invitation link, the admin console, cases at every stage, open investigations, ...); each world is built
once per module and put back into the emptied tables for the next test of it. The JSON routes outside the
OpenAPI document (which schemathesis drives) get any id and query here. The settings profile in conftest
bounds the number of examples."""

from __future__ import annotations

import hashlib
import html
import io
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text
from werkzeug.exceptions import MethodNotAllowed, NotFound

from onboarding import create_app
from onboarding.db import db
from onboarding.security import make_token

from . import factories
from .conftest import base_config, csrf_token_from

# ---------------------------------------------------------------------------
# The routes: every POST rule of the URL map, and where its form is found.

# Routes that take no HTML form: the JSON API, answered by its own tests (test_api, test_openapi_conformance).
NOT_FORMS = {"api.authorize": "JSON API", "api.violations": "JSON API"}

# Routes no page offers a form for: hypothesis posts a form that a page does offer to them instead, to the
# action the function gives (from that form's action), as a hand-made request would.
HAND_MADE = {
    # The case page reviews a linked institution's signals together; the one-signal route stays for scripts.
    "decisions.signal_review": ("decisions.signals_review", lambda action: one_signal_of(action)),
}


def one_signal_of(action: str) -> str:
    from onboarding.screening.models import LinkSignal

    application_id = int(re.search(r"/applications/(\d+)/", action).group(1))
    signal_id = db.session.scalar(select(LinkSignal.id).where(LinkSignal.application_id == application_id,
                                                              LinkSignal.status == "open").order_by(LinkSignal.id))
    return f"/staff/applications/{application_id}/signals/{signal_id}/review"


# Form routes no world below reaches: none. A route missing from both the worlds and this list fails; one
# listed here needs the reason it cannot be reached.
NOT_REACHED: dict[str, str] = {}


def _post_endpoints() -> list[str]:
    app = create_app(base_config("sqlite://"))
    return sorted({rule.endpoint for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())})


POST_ENDPOINTS = _post_endpoints()


# The worlds a route is reached in (each built once per module, see enter_world), by endpoint; the rest by prefix.
SCENARIOS = {
    "applications.start": "new applicant",
    "keys.agree": "newer rules",
    "keys.decide_allowlist": "address change", "keys.staff_revoke": "address change",
    "enforcement.reinstatement": "reinstatement offered",
    "dashboard.retry_job": "admin console",
    **dict.fromkeys(("accounts.enrol_mfa", "accounts.second_factor", "accounts.resend_verification",
                     "accounts.accept_invitation", "accounts.change_password", "accounts.end_other_sessions"),
                    "signing in"),
    **dict.fromkeys(("decisions.approve", "decisions.claim", "decisions.qualify", "decisions.send_back",
                     "decisions.signal_review", "decisions.signals_review", "decisions.signoff"),
                    "cases at every stage"),
    **dict.fromkeys(("enforcement.claim", "enforcement.confirm", "enforcement.dismiss", "enforcement.reinstatable",
                     "enforcement.restrict", "enforcement.send_back"), "open investigations"),
    "referrals.decide": "held referral",
    "accounts.logout": "staff",
}
PREFIXES = {"applications.": "draft", "documents.": "draft", "portal.": "draft", "keys.": "active institution",
            "accounts.": "anonymous", "admin.": "admin console", "sanctions.": "admin console"}


def scenario_for(endpoint: str) -> str:
    if endpoint in SCENARIOS:
        return SCENARIOS[endpoint]
    return next((world for prefix, world in PREFIXES.items() if endpoint.startswith(prefix)), "staff")


# ---------------------------------------------------------------------------
# Reading forms off a page the way a browser does.


class FormReader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.links: list[str] = []
        self._form: dict | None = None
        self._select: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "a" and a.get("href", "").startswith("/"):
            self.links.append(a["href"])
        if tag == "form":
            self._form = {"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                          "multipart": "multipart" in a.get("enctype", ""), "fields": {}, "buttons": [],
                          "formactions": []}
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        if tag in ("button", "input") and a.get("formaction"):
            self._form["formactions"].append(a["formaction"])
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind == "submit":
                self._form["buttons"].append((name, a.get("value", "")))
                return
            field = self._form["fields"].setdefault(name, {"kind": kind, "options": [], "value": ""})
            if kind in ("checkbox", "radio"):
                field["options"].append(a.get("value", "on"))
            else:
                field["value"] = a.get("value", "")
        elif tag == "button" and name:
            self._form["buttons"].append((name, a.get("value", "")))
        elif tag == "textarea" and name:
            self._form["fields"].setdefault(name, {"kind": "textarea", "options": [], "value": ""})
        elif tag == "select" and name:
            self._select = self._form["fields"].setdefault(name, {"kind": "select", "options": [], "value": ""})
        elif tag == "option" and self._select is not None:
            self._select["options"].append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form" and self._form is not None:
            # A button with its own formaction sends the same fields elsewhere (the rules preview's "Change
            # the text"): to the reader, another form.
            self.forms.extend({**self._form, "action": action, "buttons": []} for action in self._form["formactions"])
            self._form = None
        elif tag == "select":
            self._select = None


class ShownAgain(HTMLParser):
    """What a page shows in its text fields, and the message under each field that has one."""

    TYPED = {"text", "email", "number", "url", "tel", "search", "date"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self._textarea: str | None = None
        self._error: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "input" and a.get("name") and a.get("type", "text").lower() in self.TYPED:
            self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.values[a["name"]] = ""
        elif tag == "p" and "field-error" in a.get("class", "").split() and a.get("id", "").endswith("-error"):
            self._error = a["id"].removesuffix("-error")
            self.errors[self._error] = ""

    def handle_data(self, data):
        if self._textarea is not None:
            self.values[self._textarea] += data
        if self._error is not None:
            self.errors[self._error] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "p":
            self._error = None


# Fields not shown again as typed, on purpose: a refused authentication code is cleared (it is typed afresh);
# the trading pairs are shown as read, one a line in capitals with "/" (BTC-usdt as BTC/USDT).
NOT_SHOWN_AS_TYPED = {"code", "pairs"}


def squeezed(value: str) -> str:
    return re.sub(r"\s+", "", value).casefold()


def not_kept(form: dict, sent: dict, page: str) -> list[str]:
    """The fields refused with a message whose typed text is not shown again (or shown without a message)."""
    shown = ShownAgain()
    shown.feed(page)
    problems = []
    for name, message in shown.errors.items():
        field = form["fields"].get(name)
        typed = sent.get(name)
        if not message.strip():
            problems.append(f"{name}: an error with no message")
        if field is None or field["kind"] not in ShownAgain.TYPED | {"textarea"} or not isinstance(typed, str):
            continue
        if name in NOT_SHOWN_AS_TYPED or name not in shown.values:
            continue
        # Shown as read (a scheme added to a web address, a pair in capitals) is still what was typed.
        if squeezed(typed) not in squeezed(shown.values[name]):
            problems.append(f"{name}: typed {typed[:80]!r}, shown {shown.values[name][:80]!r}")
    return problems


SKIP_LINK = re.compile(r"^/(static|logout)|/download|/preview|/file|\.pdf$|\.png$|/letter")


def find_form(app, client, endpoint: str, seeds: list[str], max_pages: int = 15):
    """Breadth-first over the pages the signed-in user can reach: the first page with a POST form whose
    action is `endpoint`. Returns (page URL, action path, form) or None."""
    adapter = app.url_map.bind("localhost")
    seen, queue = set(), list(seeds)
    while queue and len(seen) < max_pages:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code != 200 or "html" not in response.content_type:
            continue
        reader = FormReader()
        reader.feed(response.get_data(as_text=True))
        for form in reader.forms:
            if form["method"] != "post":
                continue
            action = urlsplit(form["action"] or url).path
            try:
                matched, _ = adapter.match(action, method="POST")
            except (NotFound, MethodNotAllowed):
                continue
            if matched == endpoint:
                return url, form["action"] or url, form
        queue.extend(link.split("#")[0] for link in reader.links
                     if not SKIP_LINK.search(link) and link.split("#")[0] not in seen)
    return None


# ---------------------------------------------------------------------------
# The worlds.


def sign_in_applicant(client, email: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": email, "password": factories.PASSWORD,
                                           "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302


def sign_in_staff(client, email: str) -> None:
    import pyotp

    from onboarding.accounts.operations import find_user_by_email, set_totp_secret
    from onboarding.db import utcnow

    user = find_user_by_email(email)
    secret = pyotp.random_base32()
    set_totp_secret(user, secret)
    user.totp_enrolled_at = utcnow()
    db.session.commit()
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"email": email, "password": factories.PASSWORD, "csrf_token": csrf_token_from(page)})
    page = client.get("/login/code").get_data(as_text=True)
    response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now(),
                                                "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302


def password_step(email: str, then: str | None = None):
    """An opener: the sign-in stopped after the password (a staff member's code or enrolment pending, an
    applicant's e-mail not confirmed yet). Returns the page that follows, as a browser shows it."""
    def opener(client) -> tuple[str, str]:
        page = client.get("/login").get_data(as_text=True)
        response = client.post("/login", data={"email": email, "password": factories.PASSWORD,
                                               "csrf_token": csrf_token_from(page)})
        return (then, client.get(then).get_data(as_text=True)) if then else ("/login", response.get_data(as_text=True))
    return opener


def rules_preview(client) -> tuple[str, str]:
    """An opener: the admin's preview of a changed API usage rules text (its page holds Publish and Edit)."""
    page = client.get("/admin/rules?kind=api-usage").get_data(as_text=True)
    current = re.search(r"<textarea[^>]*>\n?(.*?)</textarea>", page, re.S)
    text = html.unescape(current.group(1)) if current else ""
    response = client.post("/admin/rules/preview", data={
        "csrf_token": csrf_token_from(page), "kind": "api-usage", "version": "2099-01",
        "text": text + "\n\n12. Keys unused for a year are revoked, with a notice a month before."})
    return "/admin/rules/preview", response.get_data(as_text=True)


@dataclass(frozen=True)
class Visit:
    """Someone looking for the form: who signs in (staff with their code, or an applicant) and the pages
    their search starts from; or an `opener`, for a form shown only in answer to a POST (a sign-in stopped
    half-way, a rules preview), which takes the client there again before the next post when needed and
    returns the page's URL and HTML."""
    seeds: tuple[str, ...] = ()
    staff: str | None = None
    applicant: str | None = None
    opener: Callable | None = None


STAFF_SEEDS = ("/staff", "/staff/applications", "/staff/jobs", "/staff/violations/new", "/staff/investigations",
               "/staff/allowlist-changes", "/")


def world_anonymous() -> list[Visit]:
    user = factories.make_applicant()
    reset = make_token("reset-password", {"uid": user.id, "fp": hashlib.sha256(
        user.password_hash.encode()).hexdigest()[:16]})
    return [Visit(("/register", "/login", "/forgot-password", f"/reset-password/{reset}"))]


def world_signing_in() -> list[Visit]:
    """Each step of signing in: a staff member before enrolling two-factor, one at the code, an applicant
    whose e-mail is not confirmed yet, an invited staff member with their link, and a signed-in applicant
    on their account page."""
    from onboarding.accounts import staff
    from onboarding.accounts.operations import set_totp_secret
    from onboarding.db import utcnow

    admin = factories.make_staff("alex@exchange.example", "Alex Admin", ["admin"])
    factories.make_staff("una@exchange.example", "Una Unenrolled", ["document_reviewer"])
    enrolled = factories.make_staff("eno@exchange.example", "Eno Enrolled", ["compliance"])
    set_totp_secret(enrolled, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    enrolled.totp_enrolled_at = utcnow()
    unconfirmed = factories.make_applicant("new@unconfirmed.example", "Unconfirmed Markets Ltd")
    unconfirmed.email_verified_at = None
    factories.make_applicant()
    invited, _ = staff.invite_staff(email="ivy@exchange.example", full_name="Ivy Invited",
                                    roles=["document_reviewer"], actor=admin)
    db.session.commit()
    # The link is only in the e-mail (the table keeps its digest): read it there, as the invitee does.
    from .conftest import last_email, link_in, path_of

    link = path_of(link_in(last_email(invited.email).text_body))
    return [Visit(opener=password_step("una@exchange.example", "/login/set-up-two-factor")),
            Visit(opener=password_step("eno@exchange.example", "/login/code")),
            Visit(opener=password_step("new@unconfirmed.example")),
            Visit((link,)),
            Visit(("/account",), applicant="mm@northwind.example")]


def world_new_applicant() -> list[Visit]:
    factories.make_applicant()
    return [Visit(("/application", "/"), applicant="mm@northwind.example")]


def world_draft() -> list[Visit]:
    user = factories.make_applicant()
    factories.complete_application(user)
    return [Visit(("/application/company", "/application/ownership", "/application/profile", "/application/documents",
                   "/application/review", "/application/status", "/application"), applicant=user.email)]


def world_active_institution() -> list[Visit]:
    from onboarding.institutions.models import Institution
    from onboarding.keys.operations import create_key

    user = factories.granted_institution()
    create_key(db.session.get(Institution, user.institution_id), kind="hmac", label="quoting engine",
               scopes=["market:read"], ip_allowlist=["203.0.113.10"], user_id=user.id)  # to rotate and revoke
    db.session.commit()
    return [Visit(("/institution/keys", "/institution/reinstatement", "/"), applicant=user.email)]


def world_newer_rules() -> list[Visit]:
    """An active institution that agreed to the API usage rules before a newer version was published."""
    from onboarding.agreements.models import API_USAGE
    from onboarding.agreements.operations import current_rules, publish_rules

    user = factories.granted_institution()
    publish_rules(API_USAGE, "2099-01", current_rules(API_USAGE).text + "\n12. Unused keys expire after a year.\n")
    db.session.commit()
    return [Visit(("/institution/keys", "/"), applicant=user.email)]


def world_address_change() -> list[Visit]:
    """An active institution with a key and a request to change its granted addresses, and compliance."""
    from onboarding.institutions.allowlist import request_allowlist_change
    from onboarding.institutions.models import Institution

    from .test_keys import hmac_key

    user = factories.granted_institution()
    hmac_key(user)
    institution = db.session.get(Institution, user.institution_id)
    request_allowlist_change(institution, addresses=["203.0.113.0/25"], reason="Fewer hosts.", user_id=user.id)
    officer = factories.make_staff("casey@exchange.example", "Casey Compliance", ["compliance"])
    db.session.commit()
    return [Visit(("/staff/allowlist-changes", f"/staff/institutions/{institution.id}/keys"), staff=officer.email)]


def world_admin_console() -> list[Visit]:
    """The review team and a second administrator; an invited staff member (for whom the second admin asked
    the admin role: the first one confirms or cancels it), a service token, a failed job, and the rules."""
    from onboarding.accounts import staff
    from onboarding.accounts.operations import set_totp_secret
    from onboarding.agreements.operations import publish_bundled_rules
    from onboarding.api.tokens import create_service_token
    from onboarding.db import utcnow
    from onboarding.jobs import FAILED, OutboxJob

    team = factories.review_team()
    set_totp_secret(team["documents"], "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")  # enrolled: an admin may reset it
    team["documents"].totp_enrolled_at = utcnow()
    second = factories.make_staff("blair@exchange.example", "Blair Admin", ["admin"])
    invited, _ = staff.invite_staff(email="ivy@exchange.example", full_name="Ivy Invited",
                                    roles=["document_reviewer", "admin"], actor=second)
    create_service_token("surveillance desk", ["violations:write"], created_by=second.email)
    # A letter job that gave up (the PDF renderer was down); a retry finds no such application and ends.
    db.session.add(OutboxJob(name="letters.issue", args={"application_id": 999, "approved_by_id": 1}, state=FAILED,
                             attempts=5, last_error="RuntimeError: PDF renderer unavailable"))
    publish_bundled_rules()
    db.session.commit()
    admin = team["admin"]
    return [Visit((f"/admin/staff/{invited.id}", f"/admin/staff/{team['documents'].id}", "/admin/staff", "/admin/",
                   "/admin/tokens", "/admin/rules", "/staff/jobs", "/staff/sanctions-lists"), staff=admin.email),
            Visit(staff=admin.email, opener=rules_preview)]


def submitted_case(email: str, legal_name: str, *, listed: bool = False):
    user = factories.make_applicant(email, legal_name)
    application = factories.complete_application(user)
    if listed:
        factories.add_listed_director(application, user)
    db.session.commit()
    factories.submit(application, user)
    from onboarding.applications.models import Application

    return db.session.get(Application, application.id)


def world_staff() -> list[Visit]:
    team = factories.review_team()
    user = factories.make_applicant()
    application = factories.complete_application(user)
    factories.add_listed_director(application, user)
    db.session.commit()
    factories.submit(application, user)
    from onboarding.review import operations as review

    review.claim(application, team["documents"])  # the case page then shows the reviewer's decisions
    db.session.commit()
    case = f"/staff/applications/{application.id}"
    return [Visit((case, *STAFF_SEEDS), staff=member.email) for member in team.values()]


def world_cases_at_every_stage() -> list[Visit]:
    """Four firms sharing a registration number: the first waits unclaimed in document review; the second
    (linked to it by signals left open, high risk: compliance must sign it off) is with the document
    reviewer; the third with the qualification reviewer; the fourth with the approver."""
    from onboarding.review import operations as review
    from onboarding.review.signoff import refresh_signoff_requirement

    team = factories.review_team()
    unclaimed = submitted_case("desk@beta.example", "Beta Markets BV")
    linked = submitted_case("desk@alpha.example", "Alpha Liquidity BV")
    linked.risk_band = "high"  # as the risk score would set it; the sign-off flag follows
    refresh_signoff_requirement(linked)
    review.claim(linked, team["documents"])
    db.session.commit()
    qualifying = submitted_case("desk@gamma.example", "Gamma Trading Ltd")
    factories.accept_documents(qualifying, team["documents"])
    review.claim(qualifying, team["qualification"])
    db.session.commit()
    approving = submitted_case("desk@delta.example", "Delta Quant Ltd")
    factories.accept_documents(approving, team["documents"])
    factories.qualify(approving, team["qualification"])
    review.claim(approving, team["approver"])
    db.session.commit()

    def case(application):
        return f"/staff/applications/{application.id}"

    return [Visit((case(unclaimed), case(linked)), staff=team["documents"].email),
            Visit((case(qualifying),), staff=team["qualification"].email),
            Visit((case(approving),), staff=team["approver"].email),
            Visit((case(linked),), staff=team["compliance"].email)]


def world_open_investigations() -> list[Visit]:
    """Three frozen institutions: one case unclaimed, one with the signed-in officer, and one where another
    officer proposed a dismissal (against the default outcome) that waits for a second officer."""
    from onboarding.enforcement import decisions

    from .test_enforcement import claimed, frozen_case, officer, second_officer

    cora, otto = officer(), second_officer()
    cases = []
    for number, (email, name) in enumerate((("desk@harbour.example", "Harbour Arbitrage Ltd"),
                                            ("ops@keel.example", "Keel Markets SA"),
                                            ("trading@ridge.example", "Ridge Capital GmbH")), start=1):
        user = factories.granted_institution(email, name)
        _, recorded = frozen_case(user, reference=f"SURV-{number}")
        cases.append(recorded.investigation)
    claimed(cases[1], cora)
    claimed(cases[2], otto)
    decisions.dismiss(cases[2], "The desk says it was a test account.", otto)
    db.session.commit()
    return [Visit(tuple(f"/staff/investigations/{case.id}" for case in cases) + ("/staff/investigations",),
                  staff=cora.email)]


def world_reinstatement_offered() -> list[Visit]:
    """A frozen institution whose compliance officer offered reinstatement: it agrees to the rules."""
    from .test_enforcement_pages import offered

    user = factories.granted_institution()
    offered(user)
    return [Visit(("/institution/reinstatement", "/"), applicant=user.email)]


def world_held_referral() -> list[Visit]:
    """A firm referred by an institution it turns out to be linked to: the referral waits for compliance."""
    from .test_referrals import approved_with_referral

    referrer = factories.granted_institution()
    approved_with_referral(referrer.institution_id, linked_status="confirmed")
    return [Visit(("/staff/referrals",), staff="casey@exchange.example")]


WORLDS = {
    "anonymous": world_anonymous, "signing in": world_signing_in, "new applicant": world_new_applicant,
    "draft": world_draft, "active institution": world_active_institution, "newer rules": world_newer_rules,
    "address change": world_address_change, "admin console": world_admin_console, "staff": world_staff,
    "cases at every stage": world_cases_at_every_stage, "open investigations": world_open_investigations,
    "held referral": world_held_referral, "reinstatement offered": world_reinstatement_offered,
}


# ---------------------------------------------------------------------------
# Each world is built once per run and kept as its rows (and its stored document files): a later test of
# the same world puts them back into the emptied tables instead of building it again.

def _rows_of_every_table() -> dict[str, list[dict]]:
    return {table.name: [dict(row._mapping) for row in db.session.execute(select(table))]
            for table in db.metadata.sorted_tables}


def _put_back(rows: dict[str, list[dict]]) -> None:
    for table in db.metadata.sorted_tables:
        if rows.get(table.name):
            db.session.execute(table.insert(), rows[table.name])
    if db.engine.dialect.name == "postgresql":  # the next id after the restored ones, as after building
        for table in db.metadata.sorted_tables:
            if rows.get(table.name) and "id" in table.c and isinstance(rows[table.name][0]["id"], int):
                db.session.execute(text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :last)"),
                                   {"table": table.name, "last": max(row["id"] for row in rows[table.name])})
    db.session.commit()


@pytest.fixture(scope="module")
def built_worlds(tmp_path_factory) -> dict:
    """The worlds built so far in this module: their rows and visits by name, and where their files are kept."""
    return {"files": tmp_path_factory.mktemp("worlds"), "built": {}}


def enter_world(scenario: str, worlds: dict) -> list[Visit]:
    from flask import current_app

    documents = Path(current_app.config["DOCUMENTS_DIR"])
    kept = worlds["files"] / re.sub(r"\W", "-", scenario)
    if scenario in worlds["built"]:
        rows, visits = worlds["built"][scenario]
        _put_back(rows)
        if kept.exists():
            shutil.copytree(kept, documents, dirs_exist_ok=True)
        return visits
    visits = WORLDS[scenario]()
    db.session.commit()
    worlds["built"][scenario] = (_rows_of_every_table(), visits)
    db.session.rollback()
    if documents.exists():
        shutil.copytree(documents, kept)
    return visits


# ---------------------------------------------------------------------------
# What may be posted to a field.

NUMBERS = st.sampled_from(["0", "-1", "101", "99.5%", "99.5", "NaN", "-NaN", "sNaN", "Infinity", "-inf", "1e999999",
                           "1E-999999", "0x10", "١٢", "１２", "1,000,000", "1 000", "1_000", "+5", ".", "-", "%",
                           "9" * 30, "9" * 5000, "2147483648", "-9223372036854775809", "0.000000001"])
DATES = st.sampled_from(["2024-02-30", "0000-01-01", "9999-12-31", "1800-01-01", "2020-13-01", "31/12/2020",
                         "2020-1-1", "today", ""])
TEXT = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(["", " ", "\x00", "\u202eevil", "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd",
                     "%s%(x)s{0}", "a" * 100_000, "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")]),
    NUMBERS, DATES,
)
MISSING = object()


def field_values(field: dict):
    legit = [v for v in [field["value"], *field["options"]] if v is not None]
    choices = [MISSING, *legit] if legit else [MISSING]
    if field["kind"] == "file":
        return st.one_of(st.just(MISSING), st.builds(
            lambda body, name: (io.BytesIO(body), name), st.binary(max_size=2000),
            st.sampled_from(["scan.pdf", "../../x.pdf", "\u202efdp.exe", "", "a" * 300 + ".png"])))
    return st.one_of(st.sampled_from(choices), TEXT, st.lists(TEXT, min_size=2, max_size=3))


@st.composite
def submissions(draw, form: dict) -> dict:
    data = {}
    for name, field in form["fields"].items():
        if name.endswith("csrf_token"):
            continue
        value = draw(field_values(field))
        if value is not MISSING:
            data[name] = value
    buttons = [(n, v) for n, v in form["buttons"]]
    if buttons:
        name, value = draw(st.sampled_from(buttons))
        data[name] = value or "1"
    return data


# ---------------------------------------------------------------------------
# "Nothing half-saved": a refused request leaves every table as it was, except those that record the
# attempt itself.

ATTEMPT_TABLES = {"login_attempts", "audit_events", "outbox_jobs", "email_messages", "alembic_version"}


def database_fingerprint() -> str:
    db.session.rollback()
    digest = hashlib.sha256()
    for table in db.metadata.sorted_tables:
        if table.name in ATTEMPT_TABLES:
            continue
        rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        digest.update(f"{table.name}:{[tuple(map(repr, row)) for row in rows]}".encode())
    db.session.rollback()
    return digest.hexdigest()


# ---------------------------------------------------------------------------
# The test.


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path):
    from flask import current_app

    app.config["DOCUMENTS_DIR"] = str(tmp_path / "documents")
    current_app.config["DOCUMENTS_DIR"] = str(tmp_path / "documents")


def forms_in(page: str) -> list[dict]:
    reader = FormReader()
    reader.feed(page)
    return reader.forms


def locate(app, endpoint: str, worlds: dict, scenario: str | None = None):
    """Enter the endpoint's world and find its form: returns (signed-in client, a function giving the page
    with the form again, the form's action, the form) or None."""
    adapter = app.url_map.bind("localhost")
    if endpoint in HAND_MADE:
        offered, action_for = HAND_MADE[endpoint]
        found = locate(app, offered, worlds, scenario=scenario_for(endpoint))
        return found and (found[0], found[1], action_for(found[2]), found[3])
    browsers: dict[str, object] = {}  # each person in their own browser, signed in once (a code is used once)
    for visit in enter_world(scenario or scenario_for(endpoint), worlds):
        person = visit.staff or visit.applicant
        client = browsers.get(person) if person else None
        if client is None:
            client = app.test_client()
            if visit.staff:
                sign_in_staff(client, visit.staff)
            elif visit.applicant:
                sign_in_applicant(client, visit.applicant)
            if person:
                browsers[person] = client
        if visit.opener:
            url, page = visit.opener(client)
            for form in forms_in(page):
                action = form["action"] or url
                try:
                    matched, _ = adapter.match(urlsplit(action).path, method="POST")
                except (NotFound, MethodNotAllowed):
                    continue
                if form["method"] == "post" and matched == endpoint:
                    return client, lambda client=client, opener=visit.opener: opener(client)[1], action, form
            continue
        found = find_form(app, client, endpoint, list(visit.seeds))
        if found:
            page_url, action, form = found
            return (client, lambda client=client, page_url=page_url: client.get(page_url).get_data(as_text=True),
                    action, form)
    return None


def test_the_routes_not_reached_yet_are_real_form_routes():
    assert set(NOT_REACHED) <= set(POST_ENDPOINTS) - set(NOT_FORMS), set(NOT_REACHED) - set(POST_ENDPOINTS)


@pytest.mark.parametrize("endpoint", [e for e in POST_ENDPOINTS if e not in NOT_FORMS and e not in NOT_REACHED])
def test_no_input_to_any_form_is_a_server_error_or_half_saved(app, endpoint, built_worlds):
    found = locate(app, endpoint, built_worlds)
    assert found is not None, (f"no page reachable in the {scenario_for(endpoint)!r} world offers a form for "
                               f"{endpoint}: give it a world, or list it in NOT_REACHED with what it needs")
    client, page_with_form, action, form = found

    token_name = next((n for n in form["fields"] if n.endswith("csrf_token")), "csrf_token")
    tokens: list[str] = []  # the session's CSRF token, fetched again after anything that may renew the session
    answers: list[int] = []  # the statuses of the posts the view itself answered (not the CSRF check, not a 404)

    @given(data=submissions(form))
    def post_anything(data):
        if not tokens:
            page = page_with_form()
            match = re.search(rf'name="{re.escape(token_name)}" type="hidden" value="([^"]+)"', page)
            tokens.append(match.group(1) if match else "")
        payload = dict(data)
        if tokens[0]:
            payload[token_name] = tokens[0]
        # A file is a fresh stream on every post (hypothesis may hand the same example over twice).
        payload = {k: (io.BytesIO(v[0].getvalue()), v[1]) if isinstance(v, tuple) else v for k, v in payload.items()}
        before = database_fingerprint()
        response = client.post(action, data=payload,
                               content_type="multipart/form-data" if form["multipart"] else None)
        assert response.status_code != 500, f"{endpoint} answered 500 for {data!r}"
        if response.status_code not in (404, 405) and not (
                response.status_code == 400 and "This form had expired" in response.get_data(as_text=True)):
            answers.append(response.status_code)
        if 300 <= response.status_code < 400 or response.status_code == 400:
            tokens.clear()  # a success (sign-in renews the session) or a refused token: fetch the page again
        # A refusal: an error status, or the form shown again with its errors (a success redirects, or shows
        # a one-time result such as a new key's secret).
        body = response.get_data(as_text=True) if response.status_code == 200 else ""
        if response.status_code >= 400 or 'class="field-error"' in body or 'class="error-summary"' in body:
            assert database_fingerprint() == before, f"{endpoint} refused {data!r} but changed the database"
            page = response.get_data(as_text=True)
            if "html" in response.content_type and 'class="field-error"' in page:
                assert not not_kept(form, payload, page), f"{endpoint}: {not_kept(form, payload, page)}"

    post_anything()
    assert answers, f"no post to {action} got past the CSRF check to the view: the test reached nothing"
    if os.environ.get("FORMS_PROPERTY_REPORT"):
        print(f"\n{endpoint} {action}: {sorted(Counter(answers).items())}")


# ---------------------------------------------------------------------------
# The findings of the attack, each pinned down as an example a person would type.


PROFILE = {"mm_experience_years": "6", "volume_30d_usd": "2500000000", "capital_usd": "50000000",
           "pairs": "BTC/USDT", "max_spread_bps": "15", "min_depth_usd": "250000", "uptime_pct": "95",
           "expected_order_rate": "200", "requested_scopes": ["market:read"], "draft": "1"}


def field_error(response, field_id: str) -> str:
    import html

    match = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">(.*?)</p>',
                      response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)).strip() if match else ""


@pytest.fixture
def draft_client(client):
    user = factories.make_applicant()
    factories.complete_application(user)
    sign_in_applicant(client, user.email)
    return client


def post_profile(client, **values):
    token = csrf_token_from(client.get("/application/profile").get_data(as_text=True))
    return client.post("/application/profile", data={**PROFILE, **values, "csrf_token": token})


@pytest.mark.parametrize(("field", "typed", "message"), [
    ("uptime_pct", "abc", "Enter a number, like 12.5."),
    ("uptime_pct", "101", "Enter 0 to 100%."),
    ("uptime_pct", "-1", "Enter 0 to 100%."),
    ("uptime_pct", "NaN", "Enter a number, like 12.5."),
    ("uptime_pct", "Infinity", "Enter a number, like 12.5."),
    ("max_spread_bps", "sNaN", "Enter a number, like 12.5."),
    ("max_spread_bps", "1e3", "Enter a number, like 12.5."),
    ("capital_usd", "9" * 5000, "Enter a whole number, like 250000."),
    ("capital_usd", "١٢", "Enter a whole number, like 250000."),
])
def test_an_unusable_number_is_refused_at_its_field_and_kept_as_typed(draft_client, field, typed, message):
    from onboarding.applications.models import Application

    before = database_fingerprint()
    response = post_profile(draft_client, **{field: typed})
    assert response.status_code == 200, "the page is shown again, not saved"
    assert field_error(response, field) == message
    assert f'value="{typed}"' in response.get_data(as_text=True), "the typed value is shown again"
    assert database_fingerprint() == before
    assert db.session.scalar(select(Application.uptime_pct)) == 95


@pytest.mark.parametrize(("typed", "saved"), [("99.5%", "99.50"), (" 99.5 ", "99.50"), ("100", "100.00")])
def test_an_uptime_written_with_a_percent_sign_is_read(draft_client, typed, saved):
    from onboarding.applications.models import Application

    response = post_profile(draft_client, uptime_pct=typed)
    assert response.status_code == 302
    assert str(db.session.scalar(select(Application.uptime_pct))) == saved


def test_amounts_with_thousands_separators_are_read(draft_client):
    from onboarding.applications.models import Application

    response = post_profile(draft_client, capital_usd="50,000,000", min_depth_usd="250 000")
    assert response.status_code == 302
    assert db.session.scalar(select(Application.capital_usd)) == 50_000_000


@pytest.mark.parametrize("typed", ["NaN", "sNaN", "-Infinity"])
def test_a_holding_of_nan_percent_is_refused_at_the_field(draft_client, typed):
    page = draft_client.get("/application/ownership").get_data(as_text=True)
    token = re.search(r'name="holding-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    before = database_fingerprint()
    response = draft_client.post("/application/ownership/holdings", data={
        "holding-csrf_token": token, "holding-new_kind": "person", "holding-name": "Dora Holder",
        "holding-percentage": typed})
    assert response.status_code == 422
    assert field_error(response, "holding-percentage") == "Enter the share held, in percent."
    assert database_fingerprint() == before




@pytest.mark.parametrize("version", ["²", "9" * 5000, "-1", " 1"])
def test_a_tampered_rules_version_on_submit_is_refused_not_a_server_error(draft_client, version):
    from onboarding.applications.models import DRAFT, Application

    page = draft_client.get("/application/review").get_data(as_text=True)
    response = draft_client.post("/application/review", data={
        "csrf_token": csrf_token_from(page), "rules_version_id": version, "signer_name": "Carol Director",
        "signer_title": "CEO", "agree": "y"})
    assert response.status_code in (200, 302, 409, 422)
    assert db.session.scalar(select(Application.state)) == DRAFT


def test_a_nul_character_in_a_form_is_refused_whole_not_a_server_error(draft_client):
    """PostgreSQL cannot store a NUL in text: hypothesis found a note of one NUL answered with a 500."""
    before = database_fingerprint()
    response = post_profile(draft_client, mm_venues="Venue\x00A")
    assert response.status_code == 400 and "NUL character" in response.get_data(as_text=True)
    assert draft_client.get("/application/company?q=a\x00b").status_code == 400
    assert database_fingerprint() == before


# ---------------------------------------------------------------------------
# The JSON routes. Those of the service API are in its OpenAPI document, which schemathesis drives
# (tests/test_openapi_conformance.py); the others answer a page's polling or a probe, and are driven here:
# any id in the URL and any query string, asked by the user who polls them.

JSON_OUTSIDE_THE_DOCUMENT = {
    "portal.progress": "the status page's polling of the checks",
    "sanctions.import_progress": "the sanctions-list import page's polling",
    "health.healthz": "the liveness probe", "health.readyz": "the readiness probe",
}


def test_every_service_api_route_is_in_the_openapi_document(app):
    from onboarding.api.openapi import openapi_document

    documented = {(path, method.upper()) for path, operations in openapi_document()["paths"].items()
                  for method in operations}
    served = {(re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule), method)
              for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


IDS = st.one_of(st.integers(min_value=0, max_value=5), st.integers(min_value=0),
                st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30]))
QUERIES = st.dictionaries(st.text(max_size=10), st.one_of(TEXT, st.lists(TEXT, max_size=3)), max_size=3)


def test_no_id_or_query_to_a_json_route_outside_the_document_is_a_server_error(app):
    from onboarding.screening.models import ListImport

    team = factories.review_team()
    applicant = factories.make_applicant()
    application = factories.complete_application(applicant)
    factories.submit(application, applicant)
    db.session.add(ListImport(source="ofac-sdn", origin="upload", state="unchanged", filename="sdn.zip",
                              requested_by="pytest"))
    db.session.commit()
    admin, owner, anonymous = app.test_client(), app.test_client(), app.test_client()
    sign_in_staff(admin, team["admin"].email)
    sign_in_applicant(owner, applicant.email)
    import_id = db.session.scalar(select(ListImport.id))
    asks = {"portal.progress": (owner, lambda _id: "/application/status/progress"),
            "sanctions.import_progress": (admin, lambda id_: f"/staff/sanctions-lists/imports/{id_}/progress"),
            "health.healthz": (anonymous, lambda _id: "/healthz"), "health.readyz": (anonymous, lambda _id: "/readyz")}
    assert set(asks) == set(JSON_OUTSIDE_THE_DOCUMENT)
    assert admin.get(asks["sanctions.import_progress"][1](import_id)).is_json, "the real import answers JSON"
    assert owner.get("/application/status/progress").is_json

    @given(endpoint=st.sampled_from(sorted(asks)), id_=IDS, query=QUERIES)
    def ask_anything(endpoint, id_, query):
        client, url = asks[endpoint]
        before = database_fingerprint()
        response = client.get(url(id_), query_string=query)
        assert response.status_code != 500, f"{endpoint} answered 500 for id {id_} and {query!r}"
        assert response.status_code in (200, 400, 404, 503), (endpoint, id_, query, response.status_code)
        if response.status_code == 200:
            assert response.is_json
        assert database_fingerprint() == before, f"{endpoint}: a GET changed the database"

    ask_anything()


def test_every_id_in_a_url_is_bounded_so_a_huge_one_is_a_404():
    """Hypothesis found /staff/sanctions-lists/imports/9223372036854775808/progress answered with a 500 (an id
    the database cannot hold): every integer in a URL is bounded by the column it names."""
    from werkzeug.routing import IntegerConverter

    app = create_app(base_config("sqlite://"))
    unbounded = sorted(f"{rule.endpoint} {rule.rule}" for rule in app.url_map.iter_rules()
                       for converter in rule._converters.values()
                       if isinstance(converter, IntegerConverter)
                       and (converter.max is None or converter.max > 2**31 - 1))
    assert not unbounded
