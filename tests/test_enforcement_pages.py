"""The enforcement pages through HTTP: compliance's queue and case page, claims and decisions posted as an
officer would (refusals keep what was typed and change nothing; a stale form is 409), the report made by
hand, the banner a frozen or restricted institution sees (never evidence or reasons) and reinstatement by
agreeing to the risk-control rules."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from onboarding.agreements.models import RISK_CONTROL
from onboarding.agreements.operations import current_rules
from onboarding.applications.models import Application
from onboarding.db import db, utcnow
from onboarding.enforcement import decisions
from onboarding.enforcement.intake import report_violation
from onboarding.enforcement.models import Investigation, Violation
from onboarding.institutions.models import Institution
from onboarding.keys.models import ApiKey
from onboarding.screening.models import LinkSignal

from .conftest import csrf_token_from, submit_form
from .factories import granted_institution
from .test_dashboard import sign_in_staff
from .test_enforcement import claimed, confirmed, frozen_case, officer, report
from .test_keys import ORDER, ask, hmac_key, signed
from .test_keys_pages import field_error
from .test_keys_pages import sign_in as sign_in_applicant
from .test_review_pages import sign_in

QUEUE = "/staff/investigations"
NEW_REPORT = "/staff/violations/new"
REINSTATEMENT = "/institution/reinstatement"
EVIDENCE = "Order bursts every 3 ms on BTC/EUR."  # the evidence text of test_enforcement.report()
SUMMARY = "Unauthorised bot trading, observed 1 Dec 2026, 09:30 UTC"


def case_url(investigation_id: int) -> str:
    return f"{QUEUE}/{investigation_id}"


def compliance_client(app, email="cora@exchange.example", name="Cora Compliance"):
    client = app.test_client()
    sign_in_staff(client, ["compliance"], email=email, name=name)
    return client


def post_case(client, investigation_id: int, action: str, data: dict | None = None, *, version: int | None = None):
    """POST a case form the way the page sends it: its CSRF token and the version it was opened at."""
    page = client.get(case_url(investigation_id)).get_data(as_text=True)
    if version is None:
        found = re.search(r'name="version" value="(\d+)"', page)
        version = int(found.group(1)) if found else db.session.get(Investigation, investigation_id).version
    return client.post(f"{case_url(investigation_id)}/{action}",
                       data={"csrf_token": csrf_token_from(page), "version": version, **(data or {})})


def state(investigation_id: int, institution_id: int, key_id: int) -> tuple:
    investigation = db.session.get(Investigation, investigation_id)
    return (investigation.status, investigation.assignee_id, investigation.version,
            db.session.get(Institution, institution_id).status, db.session.get(ApiKey, key_id).status)


def stat(page: str, label: str) -> int:
    found = re.search(rf'<p class="stat-label">{label}</p>\s*<p class="stat-value">(\d+)</p>', page)
    assert found, f"no figure for {label}"
    return int(found.group(1))


# --- the queue and the case page ------------------------------------------------------------------


def test_the_queue_lists_a_new_case_with_its_counts(app):
    user = granted_institution()
    _, recorded = frozen_case(user)
    client = compliance_client(app)
    page = client.get(QUEUE).get_data(as_text=True)
    assert '<a href="/staff/investigations" aria-current="page">Investigations</a>' in page
    assert f"INV-{recorded.investigation.id}" in page and "Evergreen Liquidity BV" in page
    assert "Unauthorised bot trading" in page and "Impact: Minor" in page and "Unassigned" in page
    assert (stat(page, "Open"), stat(page, "Waiting for agreement"), stat(page, "Overdue")) == (1, 0, 0)
    assert "Report a violation by hand" in page and ">Claim</button>" in page

    recorded.investigation.due_at = utcnow() - timedelta(hours=5)
    db.session.commit()
    page = client.get(QUEUE).get_data(as_text=True)
    assert stat(page, "Overdue") == 1 and 'class="row-overdue"' in page and "Overdue 5 h" in page

    assert "No cases match" in client.get(f"{QUEUE}?q=Northwind").get_data(as_text=True)
    assert "Evergreen Liquidity BV" in client.get(f"{QUEUE}?q=evergreen").get_data(as_text=True)
    mine = client.get(f"{QUEUE}?show=mine").get_data(as_text=True)
    assert "No cases match" in mine and stat(mine, "Open") == 1, "the counts are of the whole queue"


def test_the_case_page_shows_reports_keys_history_and_timeline(app):
    user = granted_institution()
    issued, recorded = frozen_case(user, key_public_id=None, evidence={"orders": 1200, "venue": "BTC/EUR"})
    page = compliance_client(app).get(case_url(recorded.investigation.id)).get_data(as_text=True)
    assert html.escape(EVIDENCE) in page and "&#34;orders&#34;: 1200" in page, "evidence text and pretty JSON"
    assert "SURV-1" in page and "Market surveillance (service token test)" in page and "Impact: Minor" in page
    assert f"<code>{issued.key.public_id}…</code>" in page and "Frozen" in page
    assert "None: no earlier confirmed violation" in page
    assert "Violation reported" in page and "Institution frozen" in page, "the institution's audit events"
    assert "Claim this investigation" in page


def test_the_case_page_shows_linked_institutions_and_their_earlier_violations(app):
    user = granted_institution()
    other = granted_institution("ops@linked.example", "Linked Desk Ltd")
    application = Application(institution_id=user.institution_id, created_by_id=user.id)
    db.session.add(application)
    db.session.flush()
    db.session.add(LinkSignal(application_id=application.id, other_institution_id=other.institution_id,
                              signal="email_domain", evidence_key="linked.example", status="confirmed"))
    db.session.commit()
    _, earlier = frozen_case(other, reference="SURV-OLD")
    cora = officer()
    decisions.offer_reinstatement(claimed(earlier.investigation, cora), "First time for them.", cora)
    db.session.commit()
    _, recorded = frozen_case(user)
    claimed(recorded.investigation, cora)
    client = app.test_client()
    sign_in_staff(client, ["compliance"], email="otto@exchange.example", name="Otto Officer")
    page = client.get(case_url(recorded.investigation.id)).get_data(as_text=True)
    linked = page[page.index('id="linked"'):page.index('id="timeline"')]
    assert "Linked Desk Ltd" in linked and "Frozen" in linked
    earlier_section = page[page.index('id="earlier"'):page.index('id="keys"')]
    assert "Linked Desk Ltd" in earlier_section and "linked</span>" in earlier_section
    assert f"INV-{earlier.investigation.id}</a>: Waiting for the institution&#39;s agreement" in earlier_section
    assert "Only Cora Compliance can decide on this investigation." in page
    assert client.get(case_url(999999)).status_code == 404


def test_the_assignee_sees_why_reinstatement_is_not_available(app):
    user = granted_institution()
    _, first = frozen_case(user, reference="SURV-1")
    cora = officer()
    decisions.offer_reinstatement(claimed(first.investigation, cora), "First time.", cora)
    db.session.commit()
    rules = current_rules(RISK_CONTROL)
    decisions.reinstate(db.session.get(Investigation, first.investigation.id), user=user, rules_version_id=rules.id,
                        shown_sha256=rules.sha256, signer_name="Morgan Maker", signer_title="CEO",
                        ip="203.0.113.5", user_agent="pytest")
    db.session.commit()
    _, second = frozen_case(user, reference="SURV-2")
    claimed(second.investigation, cora)
    client = app.test_client()
    sign_in(client, cora.email)
    page = client.get(case_url(second.investigation.id)).get_data(as_text=True)
    assert "1 earlier confirmed violation by" in page and "Offer reinstatement</button>" not in page
    assert f"INV-{first.investigation.id}</a>" in page and "Reinstated" in page, "the past investigation and outcome"
    assert "Restrict permanently</button>" in page


def test_a_document_reviewer_sees_the_case_but_cannot_claim_or_decide(app):
    user = granted_institution()
    issued, recorded = frozen_case(user)
    investigation_id = recorded.investigation.id
    before = state(investigation_id, user.institution_id, issued.key.id)
    reviewer = app.test_client()
    sign_in_staff(reviewer, ["document_reviewer"], email="dana@exchange.example", name="Dana Documents")
    queue = reviewer.get(QUEUE).get_data(as_text=True)
    assert f"INV-{investigation_id}" in queue and ">Claim</button>" not in queue
    assert "Report a violation by hand" not in queue
    page = reviewer.get(case_url(investigation_id)).get_data(as_text=True)
    assert "Only compliance officers decide investigations." in page and "Claim this investigation" not in page
    for action in ("claim", "dismiss", "reinstatable", "restrict"):
        response = post_case(reviewer, investigation_id, action, {"reason": "I think so."})
        assert response.status_code == 403, action
    assert reviewer.get(NEW_REPORT).status_code == 403
    assert state(investigation_id, user.institution_id, issued.key.id) == before


@pytest.mark.parametrize(("action", "flash", "outcome", "four_eyes"), [
    ("dismiss", "Investigation dismissed", ("dismissed", "active", "active"), True),
    ("reinstatable", "Reinstatement offered", ("awaiting_agreement", "frozen", "frozen"), False),
    ("restrict", "permanently restricted", ("restricted", "restricted", "revoked"), True),
])
def test_a_compliance_officer_claims_and_decides(app, action, flash, outcome, four_eyes):
    """A first, minor case: reinstatement is the default and takes effect at once; dismissal or
    restriction goes against it and waits for a second officer's confirmation."""
    user = granted_institution()
    issued, recorded = frozen_case(user)
    investigation_id = recorded.investigation.id
    client = compliance_client(app)
    claimed_page = post_case(client, investigation_id, "claim")
    assert claimed_page.status_code == 303 and claimed_page.headers["Location"].endswith(case_url(investigation_id))
    page = client.get(case_url(investigation_id)).get_data(as_text=True)
    assert "The investigation is assigned to you." in page and "Cora Compliance</strong> (you)" in page
    assert "Dismiss and unfreeze" in page and "Offer reinstatement" in page and "Restrict permanently" in page
    assert "Default outcome: <strong>Offer reinstatement" in page

    response = post_case(client, investigation_id, action, {"reason": "Looked at the order log with the desk."})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    if four_eyes:
        assert "Recorded as proposed: It departs from the default outcome" in page
        assert "Proposed, waiting for a second officer" in page and "Looked at the order log" in page
        assert "You proposed this decision: a different compliance officer must confirm it" in page
        assert state(investigation_id, user.institution_id, issued.key.id)[3:] == ("frozen", "frozen")
        refused = post_case(client, investigation_id, "confirm")
        assert refused.status_code == 422
        assert "You proposed this decision: a different compliance officer must confirm it." in \
            refused.get_data(as_text=True)
        assert state(investigation_id, user.institution_id, issued.key.id)[3:] == ("frozen", "frozen")
        second = compliance_client(app, "otto@exchange.example", "Otto Officer")
        response = post_case(second, investigation_id, "confirm")
        assert response.status_code == 303
        page = second.get(response.headers["Location"]).get_data(as_text=True)
        assert "Confirmed." in page and "confirmed by Otto Officer" in page
    assert flash in page and "Looked at the order log with the desk." in page
    still_unresolved = outcome[0] == "awaiting_agreement"
    page = client.get(case_url(investigation_id)).get_data(as_text=True)
    assert ("Restrict permanently</button>" in page) == still_unresolved, "restriction stays open while unresolved"
    assert "Dismiss and unfreeze" not in page
    status, _, _, institution_status, key_status = state(investigation_id, user.institution_id, issued.key.id)
    assert (status, institution_status, key_status) == outcome
    assert post_case(client, investigation_id, "dismiss", {"reason": "Again"}).status_code == 422, "decided once"


def test_a_proposal_sent_back_reopens_the_case_with_its_reason(app):
    user = granted_institution()
    issued, recorded = frozen_case(user)
    investigation_id = recorded.investigation.id
    client = compliance_client(app)
    post_case(client, investigation_id, "claim")
    post_case(client, investigation_id, "dismiss", {"reason": "Desk says it was a test account."})
    second = compliance_client(app, "otto@exchange.example", "Otto Officer")
    before = state(investigation_id, user.institution_id, issued.key.id)
    empty = post_case(second, investigation_id, "send-back", {"reason": "  "})
    assert empty.status_code == 422 and field_error(empty.get_data(as_text=True), "send_back-reason") == \
        "Give the reason for the decision."
    assert state(investigation_id, user.institution_id, issued.key.id) == before
    response = post_case(second, investigation_id, "send-back", {"reason": "The log shows live orders."})
    assert response.status_code == 303
    page = client.get(case_url(investigation_id)).get_data(as_text=True)
    assert "sent back by Otto Officer" in page and "The log shows live orders." in page
    assert "Dismiss and unfreeze" in page, "the officer decides again"
    assert state(investigation_id, user.institution_id, issued.key.id)[3:] == ("frozen", "frozen")


def test_a_decision_without_a_reason_keeps_the_page_and_changes_nothing(app):
    user = granted_institution()
    issued, recorded = frozen_case(user)
    client = compliance_client(app)
    post_case(client, recorded.investigation.id, "claim")
    before = state(recorded.investigation.id, user.institution_id, issued.key.id)
    response = post_case(client, recorded.investigation.id, "dismiss", {"reason": "   "})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, "dismiss-reason") == "Give the reason for the decision."
    assert '<details open><summary>Dismiss' in page, "the form that was used stays open"
    assert state(recorded.investigation.id, user.institution_id, issued.key.id) == before


def test_reinstatement_is_not_offered_to_a_malicious_case(app):
    user = granted_institution()
    _, recorded = frozen_case(user, malicious=True)
    client = compliance_client(app)
    post_case(client, recorded.investigation.id, "claim")
    page = client.get(case_url(recorded.investigation.id)).get_data(as_text=True)
    assert "judged the activity malicious" in page and "Offer reinstatement</button>" not in page
    response = post_case(client, recorded.investigation.id, "reinstatable", {"reason": "Looks minor."})
    assert response.status_code == 422 and "judged the activity malicious" in response.get_data(as_text=True)
    assert db.session.get(Investigation, recorded.investigation.id).status == "open"


def test_a_stale_form_is_refused_with_409_keeping_the_reason(app):
    user = granted_institution()
    issued, recorded = frozen_case(user)
    client = compliance_client(app)
    post_case(client, recorded.investigation.id, "claim")
    seen = db.session.get(Investigation, recorded.investigation.id).version
    report_violation(report(user.institution_id, reference="SURV-2"), reporter="token:test")  # a new report
    db.session.commit()
    before = state(recorded.investigation.id, user.institution_id, issued.key.id)
    response = post_case(client, recorded.investigation.id, "dismiss", {"reason": "Unfounded, checked twice."},
                         version=seen)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "changed after you opened it" in page and ">Unfounded, checked twice.</textarea>" in page
    assert "SURV-2" in page, "the page shows the case as it is now"
    assert state(recorded.investigation.id, user.institution_id, issued.key.id) == before


def test_a_claim_by_a_second_officer_names_the_first(app):
    user = granted_institution()
    _, recorded = frozen_case(user)
    claimed(recorded.investigation, officer("otto@exchange.example", "Otto Officer"))
    client = compliance_client(app)
    page = client.get(case_url(recorded.investigation.id)).get_data(as_text=True)
    assert "Only Otto Officer can decide" in page and "Dismiss and unfreeze" not in page
    response = post_case(client, recorded.investigation.id, "dismiss", {"reason": "Mine now"})
    assert response.status_code == 422 and "assigned to Otto Officer" in response.get_data(as_text=True)


# --- a report by hand -----------------------------------------------------------------------------


def report_form(subject_id: int, **changes) -> dict:
    return {"institution_id": str(subject_id), "key_id": "", "category": "rate_limit_abuse",
            "observed_at": "2026-11-30T14:05", "market_impact": "minor", "evidence_text": "Saw 40 000 requests/s.",
            "reference": "DESK-77", **changes}


def test_the_hand_made_report_freezes_the_institution(app):
    user = granted_institution()
    issued = hmac_key(user)
    client = compliance_client(app)
    page = client.get(NEW_REPORT).get_data(as_text=True)
    assert re.search(r'name="reference"[^>]* value="STAFF-\d{8}-\d{6}"', page)
    assert '<label class="label" for="observed_at">Observed at (UTC)</label>' in page
    assert "Evergreen Liquidity BV</option>" in page

    response = submit_form(client, NEW_REPORT, report_form(user.institution_id, key_id=issued.key.public_id,
                                                           malicious="y"))
    assert response.status_code == 303
    violation = db.session.scalar(select(Violation))
    assert response.headers["Location"].endswith(case_url(violation.investigation_id))
    assert violation.reporter.startswith("staff:") and violation.key_id == issued.key.id and violation.malicious
    assert violation.observed_at == datetime(2026, 11, 30, 14, 5, tzinfo=UTC)
    assert db.session.get(Institution, user.institution_id).status == "frozen"
    assert db.session.get(ApiKey, issued.key.id).status == "frozen"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Report recorded: Evergreen Liquidity BV is frozen (1 key suspended)" in page
    assert "Cora Compliance (compliance, by hand)" in page and "Rate-limit abuse" in page

    again = submit_form(client, NEW_REPORT, report_form(user.institution_id))
    assert again.status_code == 303, "the same reference returns the first report"
    assert "already recorded a report with the reference DESK-77" in client.get(again.headers["Location"]).get_data(
        as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Violation)) == 1
    assert "(already frozen)" in client.get(NEW_REPORT).get_data(as_text=True)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"category": "spoofing"}, "category", "Choose one of the listed categories."),
    ({"observed_at": "yesterday"}, "observed_at", "Enter a date and time"),
    ({"observed_at": "0001-01-01T00:00"}, "observed_at", "Enter a time between 1900 and 2099."),
    ({"observed_at": "2099-01-01T00:00"}, "observed_at", "The time is in the future"),
    ({"observed_at": ""}, "observed_at", "Enter when the activity was observed."),
    ({"reference": "   "}, "reference", "Give the report a reference."),
    ({"market_impact": "huge"}, "market_impact", "Choose one of the listed impacts."),
    ({"institution_id": "999999"}, "institution_id", "Choose an institution from the list."),
    ({"key_id": "mxk_NoSuchKey1"}, "key_id", "No API key mxk_NoSuchKey1."),
])
def test_bad_input_on_the_staff_form_is_refused_at_the_field(app, changes, field, message):
    user = granted_institution()
    client = compliance_client(app)
    response = submit_form(client, NEW_REPORT, report_form(user.institution_id, **changes))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in field_error(page, field)
    assert f'id="{field}"' in page and 'aria-invalid="true"' in page
    assert db.session.scalar(select(func.count()).select_from(Violation)) == 0
    assert db.session.get(Institution, user.institution_id).status == "active"


def test_an_applicant_reaches_no_staff_page(app):
    user = granted_institution()
    _, recorded = frozen_case(user)
    client = app.test_client()
    sign_in_applicant(client)
    for url in (QUEUE, case_url(recorded.investigation.id), NEW_REPORT):
        assert client.get(url).status_code == 403, url


# --- the institution's side -----------------------------------------------------------------------


def test_the_applicant_sees_the_banner_with_the_category_but_not_the_evidence_or_reason(app):
    user = granted_institution()
    _, recorded = frozen_case(user)
    client = app.test_client()
    sign_in_applicant(client)
    for url in ("/institution/keys", "/portal"):
        page = client.get(url).get_data(as_text=True)
        assert "API access of Evergreen Liquidity BV is frozen" in page and SUMMARY in page, url
        assert "under investigation" in page and "Read and agree" not in page
        assert "Order bursts" not in page and "1200" not in page and "SURV-1" not in page

    cora = officer()
    investigation = claimed(recorded.investigation, cora)
    decisions.offer_reinstatement(investigation, "INTERNAL: desk misread the bot rules.", cora)
    db.session.commit()
    page = client.get("/institution/keys").get_data(as_text=True)
    assert f'<a href="{REINSTATEMENT}">Read and agree to the risk-control rules to restore access</a>' in page
    assert SUMMARY in page and "INTERNAL" not in page and "Order bursts" not in page
    staff = app.test_client()
    sign_in_staff(staff, ["document_reviewer"], email="dana@exchange.example", name="Dana Documents")
    assert "is frozen" not in staff.get(QUEUE).get_data(as_text=True), "staff see no banner"


def offered(user):
    """A frozen institution whose officer offered reinstatement."""
    issued, recorded = frozen_case(user)
    cora = officer()
    investigation = claimed(recorded.investigation, cora)
    decisions.offer_reinstatement(investigation, "First time, minor impact.", cora)
    db.session.commit()
    return issued, investigation


def agreement(page: str, **changes) -> dict:
    values = {"rules_version_id": re.search(r'name="rules_version_id" type="hidden" value="(\d+)"', page).group(1),
              "rules_sha256": re.search(r'name="rules_sha256" type="hidden" value="([0-9a-f]+)"', page).group(1),
              "signer_name": "Morgan Maker", "signer_title": "CEO", "agree": "y",
              "csrf_token": csrf_token_from(page), **changes}
    return {name: value for name, value in values.items() if value is not None}


def test_the_institution_is_reinstated_by_agreeing_to_the_risk_control_rules(app):
    user = granted_institution()
    issued, investigation = offered(user)
    client = app.test_client()
    sign_in_applicant(client)
    page = client.get(REINSTATEMENT).get_data(as_text=True)
    rules = current_rules(RISK_CONTROL)
    assert html.escape(rules.text.splitlines()[0]) in page and 'class="rules-text" tabindex="0"' in page
    assert "Read and agree to the risk-control rules below" in page, "the banner does not link to itself"

    refused = client.post(REINSTATEMENT, data=agreement(page, agree=None))
    assert refused.status_code == 422
    assert field_error(refused.get_data(as_text=True), "agree") == "Tick the box to agree to the risk-control rules."
    stale = client.post(REINSTATEMENT, data=agreement(page, rules_sha256="0" * 64))
    assert stale.status_code == 422 and "updated while you were reading" in field_error(
        stale.get_data(as_text=True), "agree")
    assert db.session.get(Investigation, investigation.id).status == "awaiting_agreement"
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "key_frozen"

    agreed = client.post(REINSTATEMENT, data=agreement(page))
    assert agreed.status_code == 303 and agreed.headers["Location"].endswith("/institution/keys")
    keys_page = client.get("/institution/keys").get_data(as_text=True)
    assert "Access restored: your institution is active again, and its keys work again." in keys_page
    assert "is frozen" not in keys_page
    assert db.session.get(Institution, user.institution_id).status == "active"
    assert db.session.get(ApiKey, issued.key.id).status == "active"
    assert db.session.get(Investigation, investigation.id).status == "reinstated"
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "ok"
    again = client.post(REINSTATEMENT, data=agreement(page))
    assert again.status_code == 409 and "Nothing is waiting for your agreement" in again.get_data(as_text=True)


def test_an_open_investigation_has_nothing_to_agree_to_yet(app):
    user = granted_institution()
    frozen_case(user)
    client = app.test_client()
    sign_in_applicant(client)
    page = client.get(REINSTATEMENT).get_data(as_text=True)
    assert "Under investigation" in page and "rules_sha256" not in page
    refused = client.post(REINSTATEMENT, data={"csrf_token": csrf_token_from(page), "agree": "y",
                                               "signer_name": "M", "signer_title": "CEO"})
    assert refused.status_code == 422 and "Nothing is waiting for your agreement." in refused.get_data(as_text=True)
    assert db.session.get(Institution, user.institution_id).status == "frozen"


def test_a_restricted_institution_sees_the_notice(app):
    user = granted_institution()
    _, recorded = frozen_case(user)
    cora = officer()
    decisions.restrict(claimed(recorded.investigation, cora), "INTERNAL: second offence.", cora)
    db.session.commit()
    confirmed(recorded.investigation)
    client = app.test_client()
    sign_in_applicant(client)
    page = client.get("/institution/keys").get_data(as_text=True)
    assert "API access of Evergreen Liquidity BV is permanently restricted" in page
    assert "Every API key of the institution has been revoked" in page
    assert "No new keys can be created and no new applications can be made." in page
    assert "INTERNAL" not in page and "is frozen" not in page
    assert "Access is permanently restricted" in client.get(REINSTATEMENT).get_data(as_text=True)
