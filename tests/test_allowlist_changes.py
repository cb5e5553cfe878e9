"""Changing the granted IP addresses: the institution asks, staff decide, the institution is told, and
keys outside a narrowed list stop being allowed at once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from onboarding.audit.models import AuditEvent
from onboarding.db import db
from onboarding.institutions.allowlist import (
    AllowlistChangeRefused,
    decide_allowlist_change,
    pending_change,
    request_allowlist_change,
)
from onboarding.institutions.models import AllowlistChange, Institution
from onboarding.institutions.queries import current_grant, grant_history
from onboarding.notifications.models import EmailMessage

from .conftest import csrf_token_from, submit_form
from .factories import granted_institution
from .test_dashboard import sign_in_staff
from .test_keys import ORDER, ask, hmac_key, signed
from .test_keys_pages import KEYS, sign_in


def institution_of(user) -> Institution:
    return db.session.get(Institution, user.institution_id)


@pytest.mark.parametrize(("addresses", "reason", "field", "message"), [
    (["0.0.0.0/0"], "new data centre", "addresses", "whole internet"),
    (["192.168.1.1"], "new data centre", "addresses", "private, loopback or reserved"),
    ([], "closing the desk", "addresses", "Trading access needs at least one address"),
    (["203.0.113.0/24", "2001:db8::/48"], "same", "addresses", "already granted"),
    (["198.51.100.0/28"], " ", "reason", "Say why"),
])
def test_a_bad_request_is_refused_at_its_field(app, addresses, reason, field, message):
    user = granted_institution()
    with pytest.raises(AllowlistChangeRefused, match=message) as refused:
        request_allowlist_change(institution_of(user), addresses=addresses, reason=reason, user_id=user.id)
    assert refused.value.field == field
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AllowlistChange)) == 0


def test_an_approved_narrowing_stops_keys_outside_it_at_once(app):
    user = granted_institution()
    inside, outside = hmac_key(user, ip_allowlist=["203.0.113.70"]), hmac_key(user, ip_allowlist=["203.0.113.10"])
    change = request_allowlist_change(institution_of(user), addresses=["203.0.113.64/26"],
                                      reason="Moving to the new rack.", user_id=user.id)
    db.session.commit()
    with pytest.raises(AllowlistChangeRefused, match="already waiting"):
        request_allowlist_change(institution_of(user), addresses=["203.0.113.0/25"], reason="x", user_id=user.id)
    db.session.rollback()
    assert ask(outside.api_key, signed(ORDER, secret=outside.secret), ip="203.0.113.10").reason == "ok"
    decide_allowlist_change(db.session.get(AllowlistChange, change.id), approve=True, note="Verified by phone.",
                            user_id=user.id)
    db.session.commit()
    assert current_grant(user.institution_id).ip_allowlist == ["203.0.113.64/26"]
    assert len(grant_history(user.institution_id)) == 2
    assert ask(outside.api_key, signed(ORDER, secret=outside.secret), ip="203.0.113.10").reason == "ip_not_allowed"
    assert ask(inside.api_key, signed(ORDER, secret=inside.secret), ip="203.0.113.70").reason == "ok"
    mail = db.session.scalars(select(EmailMessage).order_by(EmailMessage.id.desc())).first()
    assert "was approved" in mail.subject and "Verified by phone." in mail.text_body
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"institution.allowlist_change_requested", "institution.allowlist_change_approved",
            "institution.access_granted"} <= actions
    assert pending_change(user.institution_id) is None


def test_a_declined_request_changes_nothing_and_a_decision_needs_a_reason(app):
    user = granted_institution()
    change = request_allowlist_change(institution_of(user), addresses=["198.51.100.0/28"], reason="New office.",
                                      user_id=user.id)
    db.session.commit()
    with pytest.raises(AllowlistChangeRefused, match="Give the reason"):
        decide_allowlist_change(change, approve=False, note="", user_id=user.id)
    decide_allowlist_change(change, approve=False, note="Send the lease first.", user_id=user.id)
    db.session.commit()
    assert current_grant(user.institution_id).ip_allowlist == ["203.0.113.0/24", "2001:db8::/48"]
    with pytest.raises(AllowlistChangeRefused, match="already declined"):
        decide_allowlist_change(change, approve=True, note="changed my mind", user_id=user.id)


def test_the_request_and_the_decision_through_the_pages(app):
    owner = granted_institution()
    applicant, reviewer, stranger = app.test_client(), app.test_client(), app.test_client()
    sign_in(applicant)
    refused = submit_form(applicant, f"{KEYS}/allowlist-change", {"addresses": "10.0.0.0/8", "reason": "x"},
                          form_url=KEYS)
    assert refused.status_code == 422 and "private, loopback or reserved" in refused.get_data(as_text=True)
    asked = submit_form(applicant, f"{KEYS}/allowlist-change",
                        {"addresses": "198.51.100.0/28\n203.0.113.64/26", "reason": "New data centre in Frankfurt."},
                        form_url=KEYS, follow_redirects=True)
    assert "our team is deciding" in asked.get_data(as_text=True)
    change = db.session.scalar(select(AllowlistChange))
    sign_in_staff(stranger, ["document_reviewer"], email="dana@exchange.example")
    listing = stranger.get("/staff/allowlist-changes").get_data(as_text=True)
    assert "New data centre in Frankfurt." in listing and "Approve" not in listing
    token = csrf_token_from(listing)
    assert stranger.post(f"/staff/allowlist-changes/{change.id}",
                         data={"csrf_token": token, "decision": "approve", "note": "ok"}).status_code == 403
    sign_in_staff(reviewer, ["qualification_reviewer"], email="quinn@exchange.example", name="Quinn Qualifier")
    token = csrf_token_from(reviewer.get("/staff/allowlist-changes").get_data(as_text=True))
    done = reviewer.post(f"/staff/allowlist-changes/{change.id}",
                         data={"csrf_token": token, "decision": "approve", "note": "Checked the lease."},
                         follow_redirects=True)
    assert "Request approved" in done.get_data(as_text=True)
    assert current_grant(owner.institution_id).ip_allowlist == ["198.51.100.0/28", "203.0.113.64/26"]
    assert "198.51.100.0/28, 203.0.113.64/26" in applicant.get(KEYS).get_data(as_text=True)
