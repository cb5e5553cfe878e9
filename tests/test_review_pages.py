"""The staff pages of the review workflow through HTTP: queue pages, the case page in every state,
decisions posted as a reviewer would, and refusals that keep what was typed."""

from __future__ import annotations

import html
import io
import re
from datetime import date, timedelta

import pyotp
from sqlalchemy import func, select

from onboarding.accounts.operations import find_user_by_email, set_totp_secret
from onboarding.applications import operations as app_ops
from onboarding.applications.models import Application, ChangeRequest
from onboarding.audit.models import AuditEvent
from onboarding.db import db, utcnow
from onboarding.documents.models import Document
from onboarding.documents.operations import document_label, upload_document
from onboarding.institutions.models import Institution
from onboarding.institutions.queries import current_grant
from onboarding.jobs import OutboxJob
from onboarding.review import operations as review
from onboarding.review.models import CaseNote
from onboarding.review.queries import latest_qualification
from onboarding.screening.models import ScreeningHit

from . import factories
from .conftest import csrf_token_from, last_email, submit_form
from .factories import (
    COMPANY_DATA,
    PASSWORD,
    QUALIFICATION_SCORES,
    complete_application,
    make_applicant,
    make_staff,
    review_team,
    submit,
)


def sign_in(client, email: str) -> None:
    """Staff sign-in with password and a TOTP code (the secret is set directly for the test)."""
    user = find_user_by_email(email)
    secret = pyotp.random_base32()
    set_totp_secret(user, secret)
    user.totp_enrolled_at = utcnow()
    db.session.commit()
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token_from(page)})
    page = client.get("/login/code").get_data(as_text=True)
    response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now(),
                                                      "csrf_token": csrf_token_from(page)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def submitted() -> Application:
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)
    return db.session.get(Application, application.id)


def post_case(client, application_id: int, path: str, data: dict, version: int | None = None):
    page = client.get(f"/staff/applications/{application_id}").get_data(as_text=True)
    if version is None:
        version = int(re.search(r'name="version" value="(\d+)"', page).group(1))
    return client.post(f"/staff/applications/{application_id}/{path}",
                       data={"csrf_token": csrf_token_from(page), "version": version, **data})


def test_the_case_page_in_each_review_state(app, client):
    review_team()
    application = submitted()
    sign_in(client, "dana@exchange.example")
    page = client.get(f"/staff/applications/{application.id}").get_data(as_text=True)
    assert "Claim this case" in page and "Document review" in page and "Ownership" in page
    assert post_case(client, application.id, "claim", {}).status_code == 303
    page = client.get(f"/staff/applications/{application.id}").get_data(as_text=True)
    assert "Save decision" in page and "Accept documents" in page and "Request changes" in page
    document = db.session.scalars(select(Document).where(Document.application_id == application.id)).first()
    preview = client.get(f"/staff/applications/{application.id}/documents/{document.id}/preview.png")
    assert preview.status_code == 200 and preview.data[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------------
# Helpers for the tests below.

APPLICANT_PAGES = ("/application", "/application/status", "/application/company", "/application/ownership",
                   "/application/profile", "/application/documents", "/application/review")


def text_of(response) -> str:
    """The page as a reader sees its text (entities such as &#39; decoded)."""
    return html.unescape(response.get_data(as_text=True))


def submitted_for(email: str, legal_name: str, registration_number: str, *, listed_director: bool = False):
    """A submitted application of its own institution (different company data, so no link signals)."""
    user = make_applicant(email=email, legal_name=legal_name)
    application = complete_application(user)
    app_ops.save_company(application, {**COMPANY_DATA, "legal_name": legal_name,
                                       "registration_number": registration_number, "lei": None,
                                       "website": None}, complete=True)
    if listed_director:
        factories.add_listed_director(application, user)
    db.session.commit()
    submit(application, user)
    return db.session.get(Application, application.id)


def sign_in_applicant(client, email: str = "mm@northwind.example") -> None:
    assert submit_form(client, "/login", {"email": email, "password": PASSWORD}).status_code == 302


def documents_of(application_id: int) -> list[Document]:
    return list(db.session.scalars(select(Document).where(Document.application_id == application_id)
                                   .order_by(Document.id)))


def hits_of(application: Application) -> list[ScreeningHit]:
    return list(db.session.scalars(select(ScreeningHit).where(
        ScreeningHit.institution_id == application.institution_id).order_by(ScreeningHit.id)))


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def snapshot(application_id: int) -> dict:
    """Everything a refused decision must leave untouched."""
    db.session.rollback()
    application = db.session.get(Application, application_id)
    return {
        "state": application.state, "assignee": application.assignee_id, "version": application.lock_version,
        "decision": (application.decision_category, application.decision_note),
        "qualified_by": application.qualified_by_id, "grant": current_grant(application.institution_id),
        "events": count(AuditEvent, AuditEvent.subject_type == "application",
                        AuditEvent.subject_id == str(application_id)),
        "documents": [(d.id, d.review_status, d.review_reason, d.review_comment) for d in documents_of(application_id)],
        "hits": [(h.id, h.disposition, h.disposition_reason) for h in hits_of(application)],
        "notes": count(CaseNote, CaseNote.application_id == application_id),
        "changes": count(ChangeRequest, ChangeRequest.application_id == application_id),
        "jobs": count(OutboxJob, OutboxJob.name == "letters.issue"),
        "institution": db.session.get(Institution, application.institution_id).status,
    }


def qualification_form(**changes) -> dict:
    data: dict = {}
    for code, (score, note) in QUALIFICATION_SCORES.items():
        data[f"{code}_score"], data[f"{code}_note"] = str(score), note
    data.update({"granted_scopes": ["market:read", "spot:trade"], "rate_tier": "professional", "max_keys": "10",
                 "summary": "Strong desk."})
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def in_qualification(application: Application, team: dict) -> Application:
    """Documents accepted, then claimed by the qualification reviewer."""
    if application.assignee_id == team["documents"].id:
        review.release(application, team["documents"])
        db.session.commit()
    factories.accept_documents(application, team["documents"])
    application = db.session.get(Application, application.id)
    review.claim(application, team["qualification"])
    db.session.commit()
    return db.session.get(Application, application.id)


NAV_LINK_RE = re.compile(r'href="/staff/queues/(\w+)"[^>]*>[^<]*<span class="count[^"]*">(\d+)</span>')
ROW_RE = re.compile(r'<tr class="([^"]*)">\s*<td><a href="/staff/applications/\d+">([^<]+)</a>')


def nav_counts(page: str) -> dict[str, int]:
    nav = page.split('<nav class="queue-nav"', 1)[1].split("</nav>", 1)[0]
    return {code: int(n) for code, n in NAV_LINK_RE.findall(nav)}


def listed(page: str) -> list[str]:
    """References of the rows in a queue table, in order."""
    return [reference for _, reference in ROW_RE.findall(page)]


def overdue_rows(page: str) -> set[str]:
    return {reference for classes, reference in ROW_RE.findall(page) if "row-overdue" in classes.split()}


def link_to(page: str, label: str) -> str:
    match = re.search(r'<a href="([^"]+)">' + re.escape(label) + "</a>", page)
    assert match, f"no link {label!r}"
    return html.unescape(match.group(1))


def make_listed(rows: list[dict]) -> list[Application]:
    """Submitted applications made directly, each with its own institution, for list-only tests
    (no documents, no checks). Each dict overrides the defaults."""
    owner = make_applicant(email="owner@lists.example", legal_name="List Owner Ltd")
    now = utcnow()
    made = []
    for i, values in enumerate(rows):
        legal_name = values.pop("legal_name", f"Firm {i:02d} Ltd")
        institution = Institution(legal_name=legal_name)
        db.session.add(institution)
        db.session.flush()
        application = Application(
            institution_id=institution.id, created_by_id=owner.id, state="document_review", legal_name=legal_name,
            registration_number=f"RN{1000 + i}", jurisdiction="GB", reference=f"LST-{i:04d}",
            submitted_at=now - timedelta(days=3), state_changed_at=now - timedelta(days=2),
            due_at=now + timedelta(days=5 + i), risk_band="low", risk_score=10, check_round=1)
        for key, value in values.items():
            setattr(application, key, value)
        db.session.add(application)
        made.append(application)
    db.session.commit()
    return made


# ---------------------------------------------------------------------------------------------------
# Queue pages.


def test_the_queue_counts_in_the_navigation_match_the_queues(app, client):
    review_team()
    make_listed([{}, {}, {"needs_compliance_signoff": True},
                 {"state": "qualification_review"}, {"state": "qualification_review"},
                 {"state": "pending_approval", "needs_compliance_signoff": True,
                  "compliance_signoff_at": utcnow()},
                 {"state": "approved"}, {"state": "changes_requested"}, {"state": "checking"}])
    sign_in(client, "dana@exchange.example")
    expected = {"documents": 3, "qualification": 2, "approval": 1, "compliance": 1}
    for code, total in expected.items():
        page = client.get(f"/staff/queues/{code}").get_data(as_text=True)
        assert nav_counts(page) == expected, "the navigation shows the same counts on every queue page"
        assert f"<strong>{total}</strong> case{'s' if total != 1 else ''}" in page
        assert len(listed(page)) == total
    everything = client.get("/staff/applications").get_data(as_text=True)
    assert nav_counts(everything) == expected
    assert "<strong>9</strong> cases" in everything
    assert client.get("/staff/queues/nonsense").status_code == 404


def test_a_queue_pages_its_rows_and_marks_the_overdue_ones(app, client):
    review_team()
    now = utcnow()
    made = make_listed([{"due_at": now - timedelta(days=2 - i / 10)} if i < 4 else {} for i in range(30)])
    sign_in(client, "dana@exchange.example")
    first = client.get("/staff/queues/documents").get_data(as_text=True)
    assert "<strong>30</strong> cases · page 1 of 2" in first
    rows_1 = listed(first)
    assert len(rows_1) == 25
    assert rows_1[:4] == [a.reference for a in made[:4]], "soonest due (the overdue ones) first"
    assert overdue_rows(first) == {a.reference for a in made[:4]}
    assert first.count("Overdue ") == 4
    assert "← Previous" not in first
    second = client.get(link_to(first, "Next →")).get_data(as_text=True)
    rows_2 = listed(second)
    assert len(rows_2) == 5 and "page 2 of 2" in second and "Next →" not in second
    assert set(rows_1) | set(rows_2) == {a.reference for a in made} and not set(rows_1) & set(rows_2)
    assert overdue_rows(second) == set()
    assert listed(client.get(link_to(second, "← Previous")).get_data(as_text=True)) == rows_1
    # A page past the end shows the last page; a page that is not a number shows the first.
    assert listed(client.get("/staff/queues/documents?page=99").get_data(as_text=True)) == rows_2
    assert listed(client.get("/staff/queues/documents?page=abc").get_data(as_text=True)) == rows_1
    assert listed(client.get("/staff/queues/documents?page=-3").get_data(as_text=True)) == rows_1


def test_queue_filters_search_and_sort_links(app, client):
    team = review_team()
    rows = []
    for i in range(30):
        rows.append({
            "legal_name": f"Firm {(i * 7) % 30:02d} Ltd",
            "jurisdiction": "DE" if i % 3 == 0 else "GB",
            "risk_band": "high" if i % 5 == 0 else "low",
            "risk_score": 70 + i if i % 5 == 0 else i,
            "assignee_id": team["documents"].id if i in (1, 2) else None,
        })
    rows += [{"state": "qualification_review", "legal_name": "Qualifying One Ltd"},
             {"state": "approved", "legal_name": "Approved One Ltd"}]
    made = make_listed(rows)
    in_queue = made[:30]
    sign_in(client, "dana@exchange.example")

    def shown(query: str, path: str = "/staff/queues/documents") -> list[str]:
        page = client.get(f"{path}?{query}")
        assert page.status_code == 200
        return listed(page.get_data(as_text=True))

    de = {a.reference for a in in_queue if a.jurisdiction == "DE"}
    assert set(shown("jurisdiction=de")) == de and len(de) == 10
    high = {a.reference for a in in_queue if a.risk_band == "high"}
    assert set(shown("risk=high")) == high and len(high) == 6
    assert set(shown("risk=high&jurisdiction=DE")) == high & de
    assert set(shown("assignee=me")) == {made[1].reference, made[2].reference}
    unassigned = client.get("/staff/queues/documents?assignee=unassigned").get_data(as_text=True)
    assert "<strong>28</strong> cases · page 1 of 2" in unassigned
    assert made[1].reference not in listed(unassigned)
    next_page = link_to(unassigned, "Next →")
    assert "assignee=unassigned" in next_page and "page=2" in next_page, "pagination keeps the filters"
    assert len(listed(client.get(next_page).get_data(as_text=True))) == 3
    assert set(shown(f"assignee={team['documents'].id}")) == {made[1].reference, made[2].reference}
    # Search by legal name, registration number or reference (any case).
    assert shown("q=firm 07") == [in_queue[1].reference]
    assert shown(f"q={in_queue[12].registration_number}") == [in_queue[12].reference]
    assert shown(f"q={in_queue[13].reference.lower()}") == [in_queue[13].reference]
    assert shown("q=Qualifying") == [], "a queue lists only its own state"
    assert shown("q=Qualifying", "/staff/applications") == [made[30].reference]
    # The state filter on the list of every application.
    assert shown("state=approved", "/staff/applications") == [made[31].reference]
    assert len(shown("state=document_review", "/staff/applications")) == 25

    # Sorting: by name, by risk; the links keep the filters and mark the current sort.
    by_name = shown("sort=name")
    assert by_name == [a.reference for a in sorted(in_queue, key=lambda a: a.legal_name)][:25]
    by_risk = shown("sort=risk")
    assert by_risk == [a.reference for a in sorted(in_queue, key=lambda a: (-a.risk_score, a.id))][:25]
    filtered = client.get("/staff/queues/documents?jurisdiction=DE&sort=risk").get_data(as_text=True)
    assert '<span aria-current="true" class="sort-current">Highest risk</span>' in filtered
    name_link = link_to(filtered, "Legal name")
    assert "jurisdiction=DE" in name_link and "sort=name" in name_link
    assert shown(name_link.split("?", 1)[1]) == [a.reference for a in sorted(
        (a for a in in_queue if a.jurisdiction == "DE"), key=lambda a: a.legal_name)]
    # Nonsense filter values are ignored, never an error.
    assert len(shown("sort=drop table&risk=extreme&state=nope&page=x")) == 25


def test_empty_queues_say_so(app, client):
    review_team()
    make_listed([{}])
    sign_in(client, "dana@exchange.example")
    empty = client.get("/staff/queues/approval").get_data(as_text=True)
    assert "<strong>0</strong> cases" in empty and "Nothing in this queue. Well done." in empty
    assert "No cases match" not in empty
    no_match = client.get("/staff/queues/documents?q=no such firm").get_data(as_text=True)
    assert "No cases match these filters." in no_match and "Nothing in this queue" not in no_match
    assert 'href="/staff/queues/documents">Clear</a>' in no_match


# ---------------------------------------------------------------------------------------------------
# Bad input through HTTP: a clear message, the typed input kept, and nothing changed.


def test_only_the_assignee_can_decide_over_http(app, client):
    team = review_team()
    make_staff("rory@exchange.example", "Rory Reviewer", ["document_reviewer"])
    application = submitted()
    sign_in(client, "dana@exchange.example")
    rory = app.test_client()
    sign_in(rory, "rory@exchange.example")
    document = documents_of(application.id)[0]

    before = snapshot(application.id)
    refused = post_case(rory, application.id, f"documents/{document.id}/decision", {"decision": "accepted"})
    assert refused.status_code == 422
    assert "Claim this case before deciding on it" in text_of(refused)
    assert snapshot(application.id) == before

    assert post_case(client, application.id, "claim", {}).status_code == 303
    before = snapshot(application.id)
    assert before["assignee"] == team["documents"].id
    page = text_of(rory.get(f"/staff/applications/{application.id}"))
    assert "Only Dana Documents can decide on this case." in page and "Save decision" not in page
    for path, data in ((f"documents/{document.id}/decision", {"decision": "accepted"}),
                       ("accept-documents", {}),
                       ("request-changes", {"item_step": "company", "item_message": "Fix the address."}),
                       ("reject", {"category": "compliance", "note": "Not for us."})):
        refused = post_case(rory, application.id, path, data)
        assert refused.status_code == 422, path
        assert "This case is assigned to Dana Documents; only the assignee can decide on it." in text_of(refused)
        assert snapshot(application.id) == before, path
    refused = post_case(rory, application.id, "claim", {})
    assert refused.status_code == 409 and "Dana Documents claimed this case first" in text_of(refused)
    refused = post_case(rory, application.id, "release", {})
    assert refused.status_code == 422 and "Only the assignee or an admin can release" in text_of(refused)
    assert snapshot(application.id) == before


def test_the_qualification_reviewer_cannot_approve_their_own_qualification(app, client):
    team = review_team()
    make_staff("pat@exchange.example", "Pat Both", ["qualification_reviewer", "approver"])
    application = submitted()
    factories.accept_documents(application, team["documents"])
    sign_in(client, "pat@exchange.example")
    assert post_case(client, application.id, "claim", {}).status_code == 303
    assert post_case(client, application.id, "qualify", qualification_form()).status_code == 303
    assert db.session.get(Application, application.id).state == "pending_approval"

    before = snapshot(application.id)
    refused = post_case(client, application.id, "claim", {})
    assert refused.status_code == 422
    assert "You did the qualification review of this application; another approver must approve it." \
        in text_of(refused)
    assert snapshot(application.id) == before
    # Even with the case in their hands (as an old assignment would leave it), the approval is refused.
    case = db.session.get(Application, application.id)
    case.assignee_id, case.assigned_at = find_user_by_email("pat@exchange.example").id, utcnow()
    db.session.commit()
    before = snapshot(application.id)
    refused = post_case(client, application.id, "approve", {})
    assert refused.status_code == 422
    assert "another approver must approve it" in text_of(refused)
    assert snapshot(application.id) == before and before["state"] == "pending_approval"
    assert before["jobs"] == 0 and before["institution"] == "prospect"


def test_undisposed_hits_block_acceptance_and_approval_over_http(app, client):
    team = review_team()
    application = submitted_for("mm@northwind.example", "Northwind Liquidity Ltd", "12345678",
                                listed_director=True)
    hits = hits_of(application)
    assert hits and all(h.disposition == "pending" for h in hits)
    sign_in(client, "dana@exchange.example")
    assert post_case(client, application.id, "claim", {}).status_code == 303
    for document in documents_of(application.id):
        assert post_case(client, application.id, f"documents/{document.id}/decision",
                         {"decision": "accepted"}).status_code == 303
    before = snapshot(application.id)
    page = text_of(client.get(f"/staff/applications/{application.id}"))
    assert "Before the case can move on" in page and "a disposition (true match or false positive" in page
    refused = post_case(client, application.id, "accept-documents", {})
    assert refused.status_code == 422 and "possible sanctions match still needs a disposition" in text_of(refused)
    assert snapshot(application.id) == before

    # Disposed, accepted and qualified; then a re-screen leaves a hit pending before approval.
    for hit in hits:
        assert post_case(client, application.id, f"hits/{hit.id}/disposition",
                         {"disposition": "false_positive", "reason": "Different date of birth."}).status_code == 303
    case = db.session.get(Application, application.id)
    if case.needs_compliance_signoff:
        review.compliance_signoff(case, "Director identity verified.", team["compliance"])
        db.session.commit()
    assert post_case(client, application.id, "accept-documents", {}).status_code == 303
    factories.qualify(db.session.get(Application, application.id), team["qualification"])
    hit = db.session.get(ScreeningHit, hits[0].id)
    hit.disposition = "pending"
    db.session.commit()
    avery = app.test_client()
    sign_in(avery, "avery@exchange.example")
    assert post_case(avery, application.id, "claim", {}).status_code == 303
    before = snapshot(application.id)
    refused = post_case(avery, application.id, "approve", {})
    assert refused.status_code == 422 and "1 possible sanctions match still needs a disposition" in text_of(refused)
    assert snapshot(application.id) == before
    assert before["state"] == "pending_approval" and before["jobs"] == 0 and before["institution"] == "prospect"


def test_a_stale_form_is_refused_with_409_and_keeps_the_input(app, client):
    review_team()
    make_staff("rory@exchange.example", "Rory Reviewer", ["document_reviewer"])
    application = submitted()
    sign_in(client, "dana@exchange.example")
    assert post_case(client, application.id, "claim", {}).status_code == 303
    first, second = documents_of(application.id)[:2]
    seen = db.session.get(Application, application.id).lock_version
    # Another tab decides on the first document; this tab still shows the older version.
    assert post_case(client, application.id, f"documents/{first.id}/decision",
                     {"decision": "accepted"}).status_code == 303
    before = snapshot(application.id)
    refused = post_case(client, application.id, f"documents/{second.id}/decision",
                        {"decision": "reupload", "reason": "illegible", "comment": "Scan the page flat, please."},
                        version=seen)
    assert refused.status_code == 409
    page = text_of(refused)
    assert "changed after you opened it" in page and "Nothing was changed" in page
    assert 'value="Scan the page flat, please."' in page, "the typed comment is kept"
    assert snapshot(application.id) == before
    assert db.session.get(Document, second.id).review_status == "pending"

    # Someone else acts: an admin reassigns the case while Dana's page is open.
    seen = db.session.get(Application, application.id).lock_version
    admin = app.test_client()
    sign_in(admin, "alex@exchange.example")
    rory = find_user_by_email("rory@exchange.example")
    assert post_case(admin, application.id, "assign", {"assignee_id": str(rory.id)}).status_code == 303
    before = snapshot(application.id)
    assert before["assignee"] == rory.id
    refused = post_case(client, application.id, "reject", {"category": "compliance", "note": "Looks wrong."},
                        version=seen)
    assert refused.status_code == 409 and "changed after you opened it" in text_of(refused)
    assert snapshot(application.id) == before


def test_a_disposition_without_a_reason_keeps_the_chosen_disposition(app, client):
    review_team()
    application = submitted_for("mm@northwind.example", "Northwind Liquidity Ltd", "12345678",
                                listed_director=True)
    hit = hits_of(application)[0]
    sign_in(client, "dana@exchange.example")
    assert post_case(client, application.id, "claim", {}).status_code == 303
    before = snapshot(application.id)
    refused = post_case(client, application.id, f"hits/{hit.id}/disposition",
                        {"disposition": "true_match", "reason": "   "})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Give the reason for this disposition (what you compared)." in page
    assert 'name="disposition" value="true_match" checked>' in page
    assert 'name="disposition" value="false_positive" >' in page
    assert snapshot(application.id) == before
    # No choice at all: also refused, with its own message.
    refused = post_case(client, application.id, f"hits/{hit.id}/disposition", {"reason": "Compared the DOB."})
    assert refused.status_code == 422 and "Choose true match or false positive." in text_of(refused)
    assert "Compared the DOB." in text_of(refused)
    assert snapshot(application.id) == before


def test_a_rejection_without_a_category_keeps_the_internal_note(app, client):
    review_team()
    application = submitted()
    sign_in(client, "dana@exchange.example")
    assert post_case(client, application.id, "claim", {}).status_code == 303
    before = snapshot(application.id)
    note = "Registry extract shows a different director <b>and</b> address."
    refused = post_case(client, application.id, "reject", {"category": "", "note": note})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Choose the reason the applicant will see." in page
    assert f'name="note" rows="3">{html.escape(note, quote=True)}</textarea>' in page
    assert "<details open><summary>Reject the application" in page, "the form with the error is open"
    assert snapshot(application.id) == before
    refused = post_case(client, application.id, "reject", {"category": "compliance", "note": " "})
    assert refused.status_code == 422 and "Give internal notes on the rejection." in text_of(refused)
    assert '<option value="compliance" selected>' in refused.get_data(as_text=True)
    assert snapshot(application.id) == before


def test_malformed_and_foreign_ids_are_refused_never_a_500(app, client):
    team = review_team()
    application = submitted()
    other = submitted_for("ops@southwind.example", "Southwind Markets Ltd", "87654321", listed_director=True)
    other_hit = hits_of(other)[0]
    other_document = documents_of(other.id)[0]
    sign_in(client, "dana@exchange.example")
    assert post_case(client, application.id, "claim", {}).status_code == 303
    document = documents_of(application.id)[0]
    before = snapshot(application.id)
    other_before = snapshot(other.id)

    def refused(path, data, status, message, *, who=client, case=application.id):
        response = post_case(who, case, path, data)
        assert response.status_code == status, (path, response.status_code)
        if message:
            assert message in text_of(response), path

    refused(f"documents/{document.id}/decision", {"decision": "maybe"}, 422,
            "Choose accept, request a new file or reject.")
    refused(f"documents/{document.id}/decision", {"decision": "reupload", "reason": "because"}, 422,
            "Choose the reason the document cannot be accepted.")
    refused(f"documents/{document.id}/decision", {"decision": "rejected", "reason": "other", "comment": ""}, 422,
            "Explain in the comment what is wrong with the document.")
    refused(f"documents/{document.id}/decision", {"decision": "reupload", "reason": "other",
                                                  "comment": "x" * 2001}, 422, "under 2000 characters")
    refused(f"documents/{other_document.id}/decision", {"decision": "accepted"}, 422,
            "That document is not part of this application.")
    refused("documents/999999/decision", {"decision": "accepted"}, 404, "")
    refused(f"hits/{other_hit.id}/disposition", {"disposition": "false_positive", "reason": "Not ours."}, 422,
            "That screening hit does not belong to this case.")
    refused("hits/999999/disposition", {"disposition": "false_positive", "reason": "x"}, 404, "")
    refused("signals/999999/review", {"status": "dismissed", "note": "x"}, 404, "")
    refused("request-changes", {"item_step": "passwords", "item_message": "Tell us more."}, 422,
            "Choose which part of the application each item is about.")
    refused("request-changes", {"item_step": "company", "item_message": "  "}, 422,
            "List at least one item the applicant must change.")
    refused("notes", {"body": ""}, 422, "Give the text of the note.")
    response = client.post(f"/staff/applications/{application.id}/notes", data={
        "csrf_token": csrf_token_from(client.get(f"/staff/applications/{application.id}").get_data(as_text=True)),
        "version": "not-a-number", "body": "   "})
    assert response.status_code == 422
    assert snapshot(application.id) == before and snapshot(other.id) == other_before

    # A case that does not exist, on the page and on a decision.
    assert client.get("/staff/applications/999999").status_code == 404
    token = csrf_token_from(client.get(f"/staff/applications/{application.id}").get_data(as_text=True))
    assert client.post("/staff/applications/999999/claim", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/staff/applications/{application.id}/documents/abc/decision",
                       data={"csrf_token": token}).status_code == 404

    # Qualification: a number that is not one, missing scores, unknown scope or tier.
    case = in_qualification(db.session.get(Application, application.id), team)
    quinn = app.test_client()
    sign_in(quinn, "quinn@exchange.example")
    before = snapshot(case.id)
    for changes, message in (
        ({"max_keys": "abc"}, "The maximum number of keys must be between 1 and 50."),
        ({"max_keys": "-1"}, "The maximum number of keys must be between 1 and 50."),
        ({"max_keys": "51"}, "The maximum number of keys must be between 1 and 50."),
        ({"experience_score": None}, "Score “Market-making experience and venues” from 0 to 5."),
        ({"volume_score": "9"}, "Score “Traded volume (30 days)” from 0 to 5."),
        ({"capital_score": "four"}, "Score “Capital” from 0 to 5."),
        ({"regulatory_note": " "}, "Give a note on “Regulatory status”."),
        ({"granted_scopes": ["market:read", "root:everything"]}, "Grant at least one scope from the list."),
        ({"granted_scopes": None}, "Grant at least one scope from the list."),
        ({"rate_tier": "platinum"}, "Choose a rate tier."),
    ):
        response = post_case(quinn, case.id, "qualify", qualification_form(**changes))
        assert response.status_code == 422, changes
        page = text_of(response)
        assert message in page, changes
        assert ">Strong desk.</textarea>" in page, "what was typed is kept"
        assert snapshot(case.id) == before, changes
    response = post_case(quinn, case.id, "qualify", qualification_form(max_keys="abc"))
    assert 'name="max_keys" type="number" min="1" max="50" value="abc"' in response.get_data(as_text=True)


def test_a_form_without_its_csrf_token_changes_nothing(app, client):
    review_team()
    application = submitted()
    sign_in(client, "dana@exchange.example")
    before = snapshot(application.id)
    version = before["version"]
    for path in ("claim", "accept-documents", "notes"):
        response = client.post(f"/staff/applications/{application.id}/{path}",
                               data={"version": version, "body": "hello"})
        assert response.status_code == 400
        assert "This form had expired or was sent from another page, so nothing was saved." in text_of(response)
    response = client.post(f"/staff/applications/{application.id}/claim",
                           data={"version": version, "csrf_token": "forged"})
    assert response.status_code == 400
    assert snapshot(application.id) == before


def test_applicants_cannot_reach_staff_pages(app, client):
    review_team()
    application = submitted()
    document = documents_of(application.id)[0]
    sign_in_applicant(client)
    token = csrf_token_from(client.get("/application/status").get_data(as_text=True))
    before = snapshot(application.id)
    for path in ("/staff/queues/documents", "/staff/applications", f"/staff/applications/{application.id}",
                 "/staff/applications/screening-hits",
                 f"/staff/applications/{application.id}/documents/{document.id}/preview.png"):
        assert client.get(path).status_code == 403, path
    for path in ("claim", "accept-documents", "notes", f"documents/{document.id}/decision"):
        response = client.post(f"/staff/applications/{application.id}/{path}",
                               data={"csrf_token": token, "version": before["version"], "decision": "accepted",
                                     "body": "hi"})
        assert response.status_code == 403, path
        assert "You do not have access to this page" in text_of(response)
    assert snapshot(application.id) == before
    # Signed out: sent to the sign-in page, not shown the case.
    anonymous = app.test_client()
    response = anonymous.get(f"/staff/applications/{application.id}")
    assert response.status_code in (302, 401) and "Northwind" not in response.get_data(as_text=True)


# ---------------------------------------------------------------------------------------------------
# Whole journeys over HTTP.


def test_three_staff_members_take_a_case_to_approval(app, client):
    team = review_team()
    application = submitted()
    dana, quinn, avery = client, app.test_client(), app.test_client()
    sign_in(dana, "dana@exchange.example")
    sign_in(quinn, "quinn@exchange.example")
    sign_in(avery, "avery@exchange.example")

    assert nav_counts(dana.get("/staff/queues/documents").get_data(as_text=True))["documents"] == 1
    assert post_case(dana, application.id, "claim", {}).status_code == 303
    for document in documents_of(application.id):
        response = post_case(dana, application.id, f"documents/{document.id}/decision", {"decision": "accepted"})
        assert response.status_code == 303 and response.location.endswith(f"#document-{document.id}")
    response = post_case(dana, application.id, "accept-documents", {})
    assert response.status_code == 303
    page = text_of(dana.get(response.location))
    assert "Documents accepted: the case moves to qualification review." in page
    assert db.session.get(Application, application.id).state == "qualification_review"

    page = text_of(quinn.get("/staff/queues/qualification"))
    assert listed(page) == [application.reference] and nav_counts(page)["qualification"] == 1
    assert post_case(quinn, application.id, "claim", {}).status_code == 303
    assert "Record qualification → approval" in text_of(quinn.get(f"/staff/applications/{application.id}"))
    assert post_case(quinn, application.id, "qualify", qualification_form(max_keys="12")).status_code == 303
    case = db.session.get(Application, application.id)
    assert case.state == "pending_approval" and case.qualified_by_id == team["qualification"].id
    proposed = latest_qualification(case)
    assert proposed.max_keys == 12 and proposed.granted_scopes == ["market:read", "spot:trade"]
    assert current_grant(case.institution_id) is None, "qualification proposes; approval grants"

    assert post_case(avery, application.id, "claim", {}).status_code == 303
    page = text_of(avery.get(f"/staff/applications/{application.id}"))
    assert "Scored by Quinn Qualify" in page and "total 24 of 30" in page
    response = post_case(avery, application.id, "approve", {})
    assert response.status_code == 303
    assert "Approved. The institution is active" in text_of(avery.get(response.location))
    case = db.session.get(Application, application.id)
    assert case.state == "approved" and case.decided_at is not None and case.assignee_id is None
    assert db.session.get(Institution, case.institution_id).status == "active"
    grant = current_grant(case.institution_id)
    assert grant.max_keys == 12 and grant.scopes == ["market:read", "spot:trade"]
    assert grant.granted_by_id == team["approver"].id and grant.application_id == application.id
    assert count(OutboxJob, OutboxJob.name == "letters.issue") == 1
    actions = db.session.scalars(select(AuditEvent.actor_id).where(
        AuditEvent.subject_id == str(application.id),
        AuditEvent.action.in_(("application.documents_accepted", "application.qualify", "application.approve")))
        .order_by(AuditEvent.id)).all()
    assert actions == [team["documents"].id, team["qualification"].id, team["approver"].id]

    applicant = app.test_client()
    sign_in_applicant(applicant)
    status = text_of(applicant.get("/application/status"))
    assert '<span class="status status-app-approved">Approved</span>' in status
    assert "Approval letter" in status
    assert "Download the letter (PDF" in status, "the letter job ran eagerly, so the letter is ready"
    letter = applicant.get("/application/letter")
    assert letter.status_code == 200 and letter.data[:5] == b"%PDF-"


def test_requested_changes_reach_the_applicant_and_the_case_returns_to_its_reviewer(app, client):
    team = review_team()
    application = submitted()
    sign_in(client, "dana@exchange.example")
    assert post_case(client, application.id, "claim", {}).status_code == 303
    document = next(d for d in documents_of(application.id) if d.content_type == "application/pdf")
    assert post_case(client, application.id, f"documents/{document.id}/decision", {
        "decision": "reupload", "reason": "expired", "comment": "The scan shows an expired date."}).status_code == 303
    internal = "INTERNAL: the director sounded evasive on the call"
    assert post_case(client, application.id, "notes", {"body": internal}).status_code == 303
    response = post_case(client, application.id, "request-changes", {
        "item_step": ["company", "profile", "ownership"],
        "item_message": ["Give the full registered address, with postcode.", "", ""]})
    assert response.status_code == 303
    assert "Changes requested (2 items)." in text_of(client.get(response.location))
    case = db.session.get(Application, application.id)
    assert case.state == "changes_requested" and case.assignee_id is None

    company_item = "Give the full registered address, with postcode."
    document_item = f"{document_label(document)}: The document has expired. The scan shows an expired date."
    applicant = app.test_client()
    sign_in_applicant(applicant)
    status = text_of(applicant.get("/application/status"))
    assert "Our team asked for changes." in status
    assert f">Company</a>: {company_item}</li>" in status
    assert f">Documents</a>: {document_item}</li>" in status
    company_page = text_of(applicant.get("/application/company"))
    assert "Our reviewers asked for changes</strong> on this step" in company_page
    assert f"<li>{company_item}</li>" in company_page and "1 more on other steps." in company_page
    documents_page = text_of(applicant.get("/application/documents"))
    assert f"<li>{document_item}</li>" in documents_page
    for path in APPLICANT_PAGES:
        page = text_of(applicant.get(path, follow_redirects=True))
        assert internal not in page and "evasive" not in page, path
        assert "Dana" not in page, f"{path} names the reviewer"

    # The applicant replaces the file and resubmits: the case goes back to Dana with its history.
    user = find_user_by_email("mm@northwind.example")
    upload_document(db.session.get(Application, application.id), document.requirement_key,
                    stream=io.BytesIO(factories.pdf_bytes("Replacement")), filename="replacement.pdf",
                    issue_date=date.today() - timedelta(days=3), expiry_date=None, user_id=user.id)
    db.session.commit()
    submit(db.session.get(Application, application.id), user)
    case = db.session.get(Application, application.id)
    assert case.state == "document_review" and case.assignee_id == team["documents"].id and case.check_round == 2
    page = text_of(client.get(f"/staff/applications/{application.id}"))
    assert "Save decision" in page, "Dana can decide at once"
    changes = page.split('id="changes"', 1)[1].split("</section>", 1)[0]
    assert company_item in changes and document_item in changes
    assert changes.count("round 1 · answered") == 2 and "open" not in changes
    assert internal in page, "the internal note stays on the case"
    assert "(round 2)" in page
    status = text_of(applicant.get("/application/status"))
    assert company_item not in status and "Our team asked for changes" not in status


def test_the_applicant_sees_the_rejection_category_never_the_internal_notes(app, client):
    review_team()
    application = submitted()
    sign_in(client, "dana@exchange.example")
    assert post_case(client, application.id, "claim", {}).status_code == 303
    secret_note = "Director appears on a leaked list; do not disclose"
    assert post_case(client, application.id, "reject", {"category": "kyb_unverified",
                                                         "note": secret_note}).status_code == 303
    case = db.session.get(Application, application.id)
    assert case.state == "rejected" and case.decision_category == "kyb_unverified"
    assert case.decision_note == secret_note
    staff_page = text_of(client.get(f"/staff/applications/{application.id}"))
    assert f"Internal notes: {secret_note}" in staff_page

    applicant = app.test_client()
    sign_in_applicant(applicant)
    status = text_of(applicant.get("/application/status"))
    assert "This application was not approved." in status
    assert "We could not verify the company, its owners or its documents." in status
    for path in APPLICANT_PAGES:
        page = text_of(applicant.get(path, follow_redirects=True))
        assert secret_note not in page and "leaked" not in page, path
    email = last_email("mm@northwind.example")
    assert email is not None and "We are unable to grant API access" in email.text_body
    for part in (email.subject, email.text_body, email.html_body or ""):
        assert "leaked" not in part and "disclose" not in part


def test_the_document_preview(app, client):
    review_team()
    application = submitted()
    other = submitted_for("ops@southwind.example", "Southwind Markets Ltd", "87654321")
    documents = documents_of(application.id)
    pdf = next(d for d in documents if d.content_type == "application/pdf")
    jpeg = next(d for d in documents if d.content_type == "image/jpeg")
    sign_in(client, "dana@exchange.example")
    base = f"/staff/applications/{application.id}/documents"
    for document in (pdf, jpeg):
        response = client.get(f"{base}/{document.id}/preview.png")
        assert response.status_code == 200, document.content_type
        assert response.mimetype == "image/png" and response.data[:8] == b"\x89PNG\r\n\x1a\n"
        assert "no-store" in response.headers["Cache-Control"]
    assert client.get(f"{base}/{documents_of(other.id)[0].id}/preview.png").status_code == 404
    assert client.get(f"{base}/999999/preview.png").status_code == 404
    pdf.quarantined_at = utcnow()
    db.session.commit()
    response = client.get(f"{base}/{pdf.id}/preview.png")
    assert response.status_code == 403 and "quarantined" in text_of(response)
    assert "Quarantined: not rendered" in text_of(client.get(f"/staff/applications/{application.id}"))
