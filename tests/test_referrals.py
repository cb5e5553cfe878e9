"""Referrals and the self-referral rule: an active institution's code on its portal page; an application
naming a code (unknown or its own: an error at the field, nothing saved); approval credits the referrer,
or holds the referral when the two institutions are linked by signals; compliance voids a held one with
its reason (no credit, both told) or credits it; the staff dashboard counts referrals by status."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from onboarding.applications.models import Application
from onboarding.db import db
from onboarding.institutions.referral_codes import institution_from_code, referral_code
from onboarding.notifications.models import EmailMessage
from onboarding.referrals import operations
from onboarding.referrals.models import Referral
from onboarding.screening.models import LinkSignal

from . import factories
from .conftest import csrf_token_from
from .factories import granted_institution, make_applicant, review_team
from .test_dashboard import sign_in_staff
from .test_keys_pages import field_error
from .test_keys_pages import sign_in as sign_in_applicant

COMPANY = "/application/company"


def approved_with_referral(referrer_id: int, *, linked_status: str | None = None) -> Application:
    """An application by a new firm naming `referrer_id`'s code, taken through review to approval;
    with `linked_status`, a link signal of that status ties it to the referrer."""
    user = make_applicant()
    application = factories.complete_application(user)
    application.referred_by_institution_id = referrer_id
    db.session.commit()
    factories.submit(application, user)
    if linked_status:
        db.session.add(LinkSignal(application_id=application.id, other_institution_id=referrer_id,
                                  signal="same_people", evidence_key="morgan maker|1982-04-12", status=linked_status))
        db.session.commit()
    team = review_team()
    factories.accept_documents(application, team["documents"])
    factories.qualify(application, team["qualification"])
    factories.approve(db.session.get(Application, application.id), team["approver"])
    return db.session.get(Application, application.id)


def test_an_active_institution_has_a_code_that_reads_back_only_to_it(app):
    referrer = granted_institution()
    code = referral_code(referrer.institution_id)
    assert institution_from_code(code).id == referrer.institution_id
    assert institution_from_code(f"  {code.lower()} ").id == referrer.institution_id, "any case, spaces"
    assert institution_from_code(code[:-1] + ("A" if code[-1] != "A" else "B")) is None, "a forged code"
    assert institution_from_code("nonsense") is None and institution_from_code("") is None
    client = app.test_client()
    sign_in_applicant(client)
    page = client.get("/portal").get_data(as_text=True)
    assert "Your referral code" in page and code in page


@pytest.mark.parametrize(("typed", "message"), [
    ("AAB-ZZZZZZZZ", "No active institution has this referral code"),
    ("not a code", "No active institution has this referral code"),
    ("OWN", "your own institution"),
])
def test_a_bad_referral_code_is_an_error_at_the_field_and_nothing_is_saved(app, typed, message):
    referrer = granted_institution()
    user = make_applicant()
    application = factories.complete_application(user)
    if typed == "OWN":
        typed = referral_code(user.institution_id)
    client = app.test_client()
    sign_in_applicant(client, user.email)
    page = client.get(COMPANY).get_data(as_text=True)
    form = {name: value for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)}
    response = client.post(COMPANY, data={**form, "csrf_token": csrf_token_from(page), "jurisdiction": "GB",
                                          "is_regulated": "no", "referral_code": typed, "draft": "y"})
    assert response.status_code in (200, 422)
    assert message in field_error(response.get_data(as_text=True), "referral_code")
    db.session.rollback()
    assert db.session.get(Application, application.id).referred_by_institution_id is None
    good = client.post(COMPANY, data={**form, "csrf_token": csrf_token_from(page), "jurisdiction": "GB",
                                      "is_regulated": "no", "referral_code": referral_code(referrer.institution_id),
                                      "draft": "y"})
    assert good.status_code in (302, 303)
    db.session.rollback()
    assert db.session.get(Application, application.id).referred_by_institution_id == referrer.institution_id


def test_approval_credits_the_referrer(app):
    referrer = granted_institution()
    application = approved_with_referral(referrer.institution_id)
    referral = db.session.scalar(select(Referral).where(Referral.application_id == application.id))
    assert referral.status == "credited" and referral.referrer_institution_id == referrer.institution_id
    client = app.test_client()
    sign_in_applicant(client)
    assert "1 credited referral." in client.get("/portal").get_data(as_text=True)


def test_a_self_referral_is_held_and_voided_with_its_reason(app):
    referrer = granted_institution()
    application = approved_with_referral(referrer.institution_id, linked_status="confirmed")
    referral = db.session.scalar(select(Referral).where(Referral.application_id == application.id))
    assert referral.status == "held" and referral.signals[0]["signal"] == "same_people"

    staff = app.test_client()
    sign_in_staff(staff, ["compliance"], email="cora@exchange.example", name="Cora Compliance")
    dashboard = staff.get("/staff").get_data(as_text=True)
    assert "Referrals by status" in dashboard and re.search(r"Held: possible self-referral</a>: <strong>1<", dashboard)
    page = staff.get("/staff/referrals").get_data(as_text=True)
    assert "Void: self-referral" in page and "Report as a self-referral violation" in page
    assert f"institution_id={referrer.institution_id}&amp;category=self_referral" in page
    sent_before = db.session.scalar(select(db.func.count()).select_from(EmailMessage))
    token = csrf_token_from(page)
    refused = staff.post(f"/staff/referrals/{referral.id}/decide", data={"csrf_token": token, "verdict": "void",
                                                                          "reason": "  "})
    assert refused.status_code == 422 and field_error(refused.get_data(as_text=True), f"reason-{referral.id}") == \
        "Give the reason for the decision."
    db.session.rollback()
    assert db.session.get(Referral, referral.id).status == "held"
    done = staff.post(f"/staff/referrals/{referral.id}/decide", data={
        "csrf_token": token, "verdict": "void", "reason": "Same director runs both desks."})
    assert done.status_code == 303
    db.session.rollback()
    referral = db.session.get(Referral, referral.id)
    assert referral.status == "voided" and referral.decision_reason == "Same director runs both desks."
    told = db.session.scalars(select(EmailMessage).order_by(EmailMessage.id).offset(sent_before)).all()
    assert {m.to_address for m in told} >= {"desk@evergreen.example", "mm@northwind.example"}
    again = staff.post(f"/staff/referrals/{referral.id}/decide", data={
        "csrf_token": token, "verdict": "credit", "reason": "Changed my mind."})
    assert again.status_code == 422 and "already decided" in again.get_data(as_text=True)
    report_form = staff.get(f"/staff/violations/new?institution_id={referrer.institution_id}&category=self_referral")
    form_page = report_form.get_data(as_text=True)
    assert '<option selected value="self_referral">' in form_page
    assert f'<option selected value="{referrer.institution_id}">' in form_page


def test_only_compliance_decides_a_held_referral(app):
    referrer = granted_institution()
    application = approved_with_referral(referrer.institution_id, linked_status="confirmed")
    referral = db.session.scalar(select(Referral).where(Referral.application_id == application.id))
    assert referral.status == "held"
    reviewer = factories.make_staff("dana@exchange.example", "Dana Documents", ["document_reviewer"])
    with pytest.raises(operations.ReferralRefused, match="Only compliance"):
        operations.decide_referral(referral, "credit", "Fine.", reviewer)
    compliance = factories.make_staff("cora@exchange.example", "Cora Compliance", ["compliance"])
    with pytest.raises(operations.ReferralRefused, match="Choose whether"):
        operations.decide_referral(referral, "maybe", "Fine.", compliance)
    operations.decide_referral(referral, "credit", "The shared director left one firm in 2021.", compliance)
    db.session.commit()
    assert referral.status == "credited"
