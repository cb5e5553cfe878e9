"""Enforcement: a report freezes the institution and its keys at once (the next authorize call is
refused), opens an investigation, is idempotent on the reporter's reference; compliance dismisses,
offers reinstatement (only for a first, minor, non-malicious case) or restricts; the institution is
reinstated by agreeing to the current risk-control rules."""

from __future__ import annotations

import json
import threading
import urllib.request
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from onboarding.agreements.models import RISK_CONTROL, Agreement
from onboarding.agreements.operations import current_rules
from onboarding.api.tokens import token_by_public_id
from onboarding.applications.operations import start_application
from onboarding.audit.models import AuditEvent
from onboarding.db import db
from onboarding.enforcement import decisions
from onboarding.enforcement.intake import Report, ReportRefused, report_violation
from onboarding.enforcement.models import Investigation, Violation
from onboarding.errors import OperationRefused
from onboarding.institutions.models import Institution
from onboarding.keys.models import ApiKey
from onboarding.notifications.models import EmailMessage

from .factories import granted_institution, make_staff
from .gateway import AppServer
from .test_api import service_token
from .test_keys import ORDER, ask, hmac_key, signed

OBSERVED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def report(subject_id, **changes) -> Report:
    values = {"institution_id": subject_id, "key_public_id": None, "category": "unauthorized_bot_trading",
              "observed_at": OBSERVED, "market_impact": "minor", "malicious": False,
              "evidence_text": "Order bursts every 3 ms on BTC/EUR.", "evidence": {"orders": 1200},
              "reference": "SURV-1", **changes}
    return Report(**values)


def officer(email="cora@exchange.example", name="Cora Compliance"):
    return make_staff(email, name, ["compliance"])


def case_of(institution_id) -> Investigation:
    return db.session.scalar(select(Investigation).where(Investigation.institution_id == institution_id)
                             .order_by(Investigation.id.desc()))


def frozen_case(user, **changes):
    issued = hmac_key(user)
    recorded = report_violation(report(user.institution_id, **changes), reporter="token:test")
    db.session.commit()
    return issued, recorded


def claimed(investigation, staff):
    decisions.claim_investigation(investigation, staff)
    db.session.commit()
    return investigation


def second_officer():
    return officer("otto@exchange.example", "Otto Officer")


def confirmed(investigation, staff=None):
    """A second compliance officer confirms the decision waiting on the case."""
    decisions.confirm_proposal(investigation, staff or second_officer())
    db.session.commit()
    return investigation


def test_a_report_freezes_keys_and_institution_in_one_transaction(app):
    user = granted_institution()
    issued = hmac_key(user)
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "ok"
    recorded = report_violation(report(user.institution_id), reporter="token:test")
    db.session.commit()
    assert recorded.frozen_keys == 1 and not recorded.duplicate
    assert db.session.get(Institution, user.institution_id).status == "frozen"
    assert db.session.get(ApiKey, issued.key.id).status == "frozen"
    assert recorded.investigation.status == "open" and recorded.investigation.due_at is not None
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "key_frozen"
    subjects = [m.subject for m in db.session.scalars(select(EmailMessage))]
    assert any("is frozen" in s for s in subjects)


def test_the_same_reference_twice_returns_the_first_result_and_changes_nothing(app):
    user = granted_institution()
    first = report_violation(report(user.institution_id), reporter="token:test")
    db.session.commit()
    again = report_violation(report(user.institution_id, category="api_abuse"), reporter="token:test")
    assert again.duplicate and again.violation.id == first.violation.id
    assert db.session.scalar(select(func.count()).select_from(Violation)) == 1
    other = report_violation(report(user.institution_id), reporter="token:another-desk")
    db.session.commit()
    assert not other.duplicate and other.investigation.id == first.investigation.id, "joins the open case"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"institution_id": 999999}, "institution_id", "No institution 999999"),
    ({"institution_id": None, "key_public_id": "mxk_nosuchkey"}, "key_id", "No API key"),
    ({"category": "spoofing"}, "category", "The category is one of"),
    ({"market_impact": "huge"}, "market_impact", "The market impact is one of"),
    ({"reference": "  "}, "reference", "Give your own reference"),
])
def test_a_bad_report_is_refused_and_nothing_changes(app, changes, field, message):
    user = granted_institution()
    hmac_key(user)
    with pytest.raises(ReportRefused, match=message) as refused:
        report_violation(report(user.institution_id, **changes), reporter="token:test")
    assert refused.value.field == field
    db.session.rollback()
    assert db.session.get(Institution, user.institution_id).status == "active"
    assert db.session.scalar(select(func.count()).select_from(Investigation)) == 0


def test_dismissal_unfreezes_everything(app):
    user = granted_institution()
    issued, recorded = frozen_case(user)
    cora = officer()
    investigation = claimed(recorded.investigation, cora)
    with pytest.raises(decisions.DecisionRefused, match="Give the reason"):
        decisions.dismiss(investigation, " ", cora)
    assert decisions.dismiss(investigation, "Surveillance mixed up two accounts.", cora) == decisions.PROPOSED
    db.session.commit()
    assert db.session.get(Institution, user.institution_id).status == "frozen", "dismissal is against the default"
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "key_frozen"
    confirmed(investigation)
    assert db.session.get(Institution, user.institution_id).status == "active"
    assert db.session.get(ApiKey, issued.key.id).status == "active"
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "ok"


def test_a_first_offence_is_reinstated_once_the_risk_control_rules_are_agreed(app):
    user = granted_institution()
    issued, recorded = frozen_case(user)
    cora = officer()
    investigation = claimed(recorded.investigation, cora)
    assert decisions.reinstatement_refusal(investigation) is None
    decisions.offer_reinstatement(investigation, "Did not understand the bot rules; minor impact.", cora)
    db.session.commit()
    assert investigation.status == "awaiting_agreement"
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "key_frozen", "nothing unfreezes yet"
    rules = current_rules(RISK_CONTROL)
    with pytest.raises(Exception, match="updated while you were reading"):
        decisions.reinstate(investigation, user=user, rules_version_id=rules.id, shown_sha256="0" * 64,
                            signer_name="Morgan Maker", signer_title="CEO", ip="203.0.113.5", user_agent="pytest")
    db.session.rollback()
    decisions.reinstate(db.session.get(Investigation, investigation.id), user=user, rules_version_id=rules.id,
                        shown_sha256=rules.sha256, signer_name="Morgan Maker", signer_title="CEO",
                        ip="203.0.113.5", user_agent="pytest")
    db.session.commit()
    agreement = db.session.scalar(select(Agreement).where(Agreement.kind == RISK_CONTROL))
    assert agreement.text_sha256 == rules.sha256 and agreement.signer_name == "Morgan Maker"
    assert db.session.get(Institution, user.institution_id).status == "active"
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "ok"


@pytest.mark.parametrize(("changes", "message"), [
    ({"market_impact": "significant"}, "significant market impact"),
    ({"malicious": True}, "malicious"),
])
def test_reinstatement_is_not_offered_where_the_policy_forbids_it(app, changes, message):
    user = granted_institution()
    _, recorded = frozen_case(user, **changes)
    cora = officer()
    investigation = claimed(recorded.investigation, cora)
    with pytest.raises(decisions.DecisionRefused, match=message):
        decisions.offer_reinstatement(investigation, "Looks minor.", cora)


def test_a_second_confirmed_violation_restricts_for_good(app):
    user = granted_institution()
    issued, recorded = frozen_case(user)
    cora = officer()
    first = claimed(recorded.investigation, cora)
    decisions.offer_reinstatement(first, "First time.", cora)
    db.session.commit()
    rules = current_rules(RISK_CONTROL)
    decisions.reinstate(first, user=user, rules_version_id=rules.id, shown_sha256=rules.sha256,
                        signer_name="Morgan Maker", signer_title="CEO", ip="203.0.113.5", user_agent="pytest")
    db.session.commit()
    second = report_violation(report(user.institution_id, reference="SURV-2"), reporter="token:test")
    db.session.commit()
    investigation = claimed(second.investigation, cora)
    assert "earlier confirmed violation" in decisions.reinstatement_refusal(investigation)
    with pytest.raises(decisions.DecisionRefused, match="permanent restriction"):
        decisions.offer_reinstatement(investigation, "Again?", cora)
    db.session.rollback()
    decisions.restrict(db.session.get(Investigation, investigation.id), "Second violation in a month.", cora)
    db.session.commit()
    assert db.session.get(Institution, user.institution_id).status == "restricted"
    assert db.session.get(ApiKey, issued.key.id).status == "revoked"
    assert ask(issued.api_key, signed(ORDER, secret=issued.secret)).reason == "key_revoked"
    with pytest.raises(Exception, match="already permanently restricted"):
        report_violation(report(user.institution_id, reference="SURV-3"), reporter="token:test")


def test_only_the_assigned_compliance_officer_decides_and_a_stale_form_is_refused(app):
    user = granted_institution()
    _, recorded = frozen_case(user)
    cora, other = officer(), officer("otto@exchange.example", "Otto Officer")
    reviewer = make_staff("dana@exchange.example", "Dana Documents", ["document_reviewer"])
    with pytest.raises(decisions.DecisionRefused, match="Claim this investigation"):
        decisions.dismiss(recorded.investigation, "x", cora)
    with pytest.raises(decisions.DecisionRefused, match="Only compliance officers"):
        decisions.claim_investigation(recorded.investigation, reviewer)
    investigation = claimed(recorded.investigation, cora)
    with pytest.raises(decisions.DecisionRefused, match="assigned to Cora Compliance"):
        decisions.dismiss(investigation, "x", other)
    seen = investigation.version
    report_violation(report(user.institution_id, reference="SURV-9"), reporter="token:test")
    db.session.commit()
    with pytest.raises(decisions.InvestigationChanged):
        decisions.lock_investigation(investigation.id, seen)


# --- the API ------------------------------------------------------------------------------------


def post(client, token, payload):
    return client.post("/api/v1/violations", data=json.dumps(payload), content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})


def api_report(**changes) -> dict:
    return {"category": "api_abuse", "observed_at": "2026-12-01T09:30:00Z", "market_impact": "none",
            "malicious": False, "evidence_text": "Bursts.", "evidence": {"orders": 12}, "reference": "S-1",
            **changes}


def test_the_violations_api_freezes_and_is_idempotent(app):
    user = granted_institution()
    issued = hmac_key(user)
    token = service_token("violations:write")
    client = app.test_client()
    created = post(client, token, api_report(key_id=issued.key.public_id))
    assert created.status_code == 201
    body = created.get_json()
    assert body["institution_id"] == user.institution_id and body["institution_status"] == "frozen"
    assert body["frozen_keys"] == 1 and body["duplicate"] is False
    again = post(client, token, api_report(key_id=issued.key.public_id))
    assert again.status_code == 200 and again.get_json()["violation_id"] == body["violation_id"]
    assert again.get_json()["duplicate"] is True
    institution = client.get(f"/api/v1/institutions/{user.institution_id}",
                             headers={"Authorization": f"Bearer {service_token('institutions:read')}"}).get_json()
    assert {"type": "investigation", "reference": f"INV-{body['investigation_id']}", "state": "open"} in \
        institution["open_cases"]


@pytest.mark.parametrize(("changes", "status", "fields"), [
    ({"institution_id": 999999}, 404, {"institution_id"}),
    ({"key_id": "mxk_NoSuchKey1"}, 404, {"key_id"}),
    ({"institution_id": "one"}, 422, {"institution_id"}),
    ({"category": "spoofing", "institution_id": 1}, 422, {"category"}),
    ({"market_impact": "huge", "institution_id": 1}, 422, {"market_impact"}),
    ({"observed_at": "yesterday", "institution_id": 1}, 422, {"observed_at"}),
    ({"observed_at": "2026-12-01T09:30:00", "institution_id": 1}, 422, {"observed_at"}),
    ({"observed_at": "0001-01-01T00:00:00+14:00", "institution_id": 1}, 422, {"observed_at"}),
    ({"institution_id": 1.5}, 422, {"institution_id"}),
    ({"malicious": "yes", "evidence": [1], "institution_id": 1}, 422, {"malicious", "evidence"}),
    ({}, 422, {"institution_id"}),
])
def test_a_bad_api_report_names_its_fields(app, changes, status, fields):
    granted_institution()
    response = post(app.test_client(), service_token("violations:write"), api_report(**changes))
    assert response.status_code == status
    assert set(response.get_json()["error"]["fields"]) == fields
    assert db.session.scalar(select(func.count()).select_from(Violation)) == 0


def test_a_token_without_the_scope_cannot_report(app):
    user = granted_institution()
    response = post(app.test_client(), service_token("authorize"), api_report(institution_id=user.institution_id))
    assert response.status_code == 403


def test_two_concurrent_calls_with_one_reference_record_one_report(app, make_app):
    user = granted_institution()
    hmac_key(user)
    token = service_token("violations:write")
    server = AppServer(make_app())
    barrier, answers = threading.Barrier(2), []
    body = json.dumps(api_report(institution_id=user.institution_id, reference="RACE-1")).encode()

    def call():
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{server.url}/api/v1/violations", method="POST", data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        barrier.wait()
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
            answers.append((response.status, json.loads(response.read())))

    try:
        threads = [threading.Thread(target=call) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        server.stop()
    assert sorted(status for status, _ in answers) == [200, 201]
    assert len({body["violation_id"] for _, body in answers}) == 1
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Violation)) == 1
    assert db.session.scalar(select(func.count()).select_from(Investigation)) == 1


def test_a_restricted_institution_cannot_apply_again(app):
    user = granted_institution()
    _, recorded = frozen_case(user)
    cora = officer()
    decisions.restrict(claimed(recorded.investigation, cora), "Malicious arbitrage.", cora)
    db.session.commit()
    confirmed(recorded.investigation)
    with pytest.raises(OperationRefused, match="permanently restricted"):
        start_application(user)


def test_jobs_asked_for_before_a_report_in_the_same_transaction_run_after_it_commits(app):
    """The intake's savepoint (begin_nested) used to count as a commit for the job outbox: a job asked for
    earlier in the transaction (as seed-demo's approval letters were) ran before its row was committed and
    was never run again."""
    from onboarding.jobs import DONE, OutboxJob
    from onboarding.letters.notices import request_notice

    user = granted_institution()
    hmac_key(user)
    earlier = request_notice(user.institution_id, "restriction", reference="EARLIER-1",
                             details={"effective_on": "1 December 2026", "extended_from": None})
    report_violation(report(user.institution_id), reporter="token:test")
    db.session.commit()
    db.session.rollback()
    jobs = db.session.scalars(select(OutboxJob).order_by(OutboxJob.id)).all()
    assert [job.state for job in jobs] == [DONE] * len(jobs) and len(jobs) >= 2
    assert db.session.get(type(earlier), earlier.id).rendered_at is not None


def test_what_a_surveillance_report_does_is_audited_under_its_service_token(app):
    """The institution's history named the actor of a report over the API (and the freeze it caused)
    "anonymous" (found by the production-stack journey): it names the service token."""
    user = granted_institution()
    issued = hmac_key(user)
    token = service_token("violations:write")
    before = db.session.scalar(select(func.max(AuditEvent.id)))
    assert post(app.test_client(), token, api_report(key_id=issued.key.public_id)).status_code == 201
    events = db.session.execute(select(AuditEvent.action, AuditEvent.actor_label).where(AuditEvent.id > before)).all()
    expected = f"service token {token_by_public_id(token[:12]).public_id}"
    assert ("violation.reported", expected) in events
    assert [action for action, label in events if label == "anonymous"] == []
