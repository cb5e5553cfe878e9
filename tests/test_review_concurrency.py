"""Two staff acting on the same case at once: one wins, the other gets a clear message and nothing is
applied twice. The app runs in a real threaded HTTP server and two HTTP sessions post at the same
moment (a barrier releases them together). Meaningful on PostgreSQL (TEST_DATABASE=postgresql), where
the route locks the case row; on SQLite the version counter has to catch the loser."""

from __future__ import annotations

import html
import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request

import pyotp
import pytest
from sqlalchemy import func, select

from onboarding.accounts.operations import find_user_by_email, set_totp_secret
from onboarding.applications import operations as app_ops
from onboarding.applications.models import Application
from onboarding.audit.models import AuditEvent
from onboarding.db import db, utcnow
from onboarding.institutions.models import Institution
from onboarding.jobs import OutboxJob
from onboarding.review import operations as review

from . import factories
from .conftest import csrf_token_from
from .factories import COMPANY_DATA, PASSWORD, complete_application, make_applicant, make_staff, review_team, submit

ROUNDS = 5
VERSION_RE = re.compile(r'name="version" value="(\d+)"')


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class HttpSession:
    """A browser's cookie jar over real HTTP. Two sessions sharing one jar are two tabs."""

    def __init__(self, base_url: str, jar: http.cookiejar.CookieJar | None = None):
        self.base_url = base_url
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect())

    def tab(self) -> HttpSession:
        return HttpSession(self.base_url, self.jar)

    def request(self, method: str, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body, method=method)  # noqa: S310 (http only)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:  # 3xx (redirects are not followed) and 4xx/5xx
            return error.code, error.read().decode()

    def get(self, path: str) -> tuple[int, str]:
        return self.request("GET", path)

    def post(self, path: str, data: dict) -> tuple[int, str]:
        return self.request("POST", path, data)

    def sign_in_staff(self, email: str) -> None:
        """The real sign-in: password, then a TOTP code (the secret is set directly for the test)."""
        user = find_user_by_email(email)
        secret = pyotp.random_base32()
        set_totp_secret(user, secret)
        user.totp_enrolled_at = utcnow()
        db.session.commit()
        _, page = self.get("/login")
        status, _ = self.post("/login", {"email": email, "password": PASSWORD, "csrf_token": csrf_token_from(page)})
        assert status == 302
        _, page = self.get("/login/code")
        status, body = self.post("/login/code", {"code": pyotp.TOTP(secret).now(),
                                                 "csrf_token": csrf_token_from(page)})
        assert status == 302, body[:500]

    def case_form(self, application_id: int) -> dict:
        """The hidden fields of the case page as the reviewer opened it."""
        status, page = self.get(f"/staff/applications/{application_id}")
        assert status == 200
        return {"csrf_token": csrf_token_from(page), "version": VERSION_RE.search(page).group(1)}


def at_once(calls: list) -> list[tuple[int, str]]:
    """Run the calls in threads released together by a barrier; their (status, body) in call order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        barrier.wait(timeout=30)
        try:
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            results[index] = (None, repr(exc))

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(r is not None for r in results), "a request did not finish"
    return results


def describe(results: list[tuple[int, str]]) -> str:
    """Statuses and the message shown, for assertion messages (a 500 shows what went wrong)."""
    parts = []
    for status, body in results:
        if status == 303:
            parts.append("303 (done)")
            continue
        found = re.search(r'<div class="error-summary".*?</p>', body, re.S) or re.search(r"<main.*?</p>", body, re.S)
        text = re.sub(r"<[^>]+>", " ", found.group(0)) if found else body[:300]
        parts.append(f"{status}: {' '.join(html.unescape(text).split())}")
    return " | ".join(parts)


def new_case(round_number: int) -> Application:
    """A submitted application of its own institution, in document review and unassigned."""
    user = make_applicant(email=f"mm{round_number}@race{round_number}.example",
                          legal_name=f"Race Liquidity {round_number} Ltd")
    application = complete_application(user)
    app_ops.save_company(application, {**COMPANY_DATA, "legal_name": f"Race Liquidity {round_number} Ltd",
                                       "registration_number": f"RACE{round_number:04d}", "lei": None,
                                       "website": None}, complete=True)
    db.session.commit()
    submit(application, user)
    return db.session.get(Application, application.id)


def events(application_id: int, action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.subject_type == "application", AuditEvent.subject_id == str(application_id),
        AuditEvent.action == action)) or 0


def letter_jobs(application_id: int) -> int:
    jobs = db.session.scalars(select(OutboxJob).where(OutboxJob.name == "letters.issue")).all()
    return sum(1 for job in jobs if job.args.get("application_id") == application_id)


@pytest.fixture
def served(live_app):
    """The live server's base URL, with the test body in an app context on the same database."""
    with live_app.app_context():
        yield live_app.config["BASE_URL"]
        db.session.remove()


def test_two_reviewers_claim_the_same_case_at_once(served):
    team = review_team()
    rory = make_staff("rory@exchange.example", "Rory Reviewer", ["document_reviewer"])
    names = {team["documents"].id: "Dana Documents", rory.id: "Rory Reviewer"}
    dana_http, rory_http = HttpSession(served), HttpSession(served)
    dana_http.sign_in_staff("dana@exchange.example")
    rory_http.sign_in_staff("rory@exchange.example")

    unclear = []
    for round_number in range(ROUNDS):
        application = new_case(round_number)
        assert application.state == "document_review" and application.assignee_id is None
        db.session.rollback()  # the test holds no transaction while the server works
        forms = [dana_http.case_form(application.id), rory_http.case_form(application.id)]
        path = f"/staff/applications/{application.id}/claim"
        results = at_once([lambda p=path, f=forms[0]: dana_http.post(p, f),
                           lambda p=path, f=forms[1]: rory_http.post(p, f)])
        statuses = [status for status, _ in results]
        assert sorted(statuses) == [303, 409], f"round {round_number}: {describe(results)}"

        db.session.rollback()
        case = db.session.get(Application, application.id)
        winner = [team["documents"].id, rory.id][statuses.index(303)]
        assert case.assignee_id == winner, f"round {round_number}"
        assert events(application.id, "application.claimed") == 1, f"round {round_number}"
        _, loser_page = results[statuses.index(409)]
        if f"{names[winner]} claimed this case first" not in html.unescape(loser_page):
            unclear.append(f"round {round_number}: {describe(results)}")
    # Checked after every round has run, so the rounds above prove that nothing was applied twice.
    assert not unclear, "the reviewer who lost the race is not told who claimed the case:\n" + "\n".join(unclear)


def test_two_tabs_approve_the_same_case_at_once(served):
    team = review_team()
    approver_tab = HttpSession(served)
    approver_tab.sign_in_staff("avery@exchange.example")
    second_tab = approver_tab.tab()

    for round_number in range(ROUNDS):
        application = new_case(round_number)
        factories.accept_documents(application, team["documents"])
        factories.qualify(db.session.get(Application, application.id), team["qualification"])
        application = db.session.get(Application, application.id)
        review.claim(application, team["approver"])
        db.session.commit()
        db.session.rollback()
        form = approver_tab.case_form(application.id)
        assert second_tab.case_form(application.id)["version"] == form["version"]
        path = f"/staff/applications/{application.id}/approve"
        results = at_once([lambda p=path, f=form: approver_tab.post(p, f),
                           lambda p=path, f=form: second_tab.post(p, f)])
        statuses = sorted(status for status, _ in results)
        assert statuses in ([303, 409], [303, 422]), f"round {round_number}: {describe(results)}"
        loser_text = html.unescape(next(body for status, body in results if status != 303))
        assert ("changed after you opened it" in loser_text
                or "cannot be approved" in loser_text), f"round {round_number}: {describe(results)}"

        db.session.rollback()
        case = db.session.get(Application, application.id)
        assert case.state == "approved", f"round {round_number}"
        assert events(application.id, "application.approve") == 1, f"round {round_number}"
        assert letter_jobs(application.id) == 1, f"round {round_number}: one approval letter, not two"
        assert db.session.get(Institution, case.institution_id).status == "active"
