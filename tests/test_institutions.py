"""The institutions part: its status table with the one writer, and grants of access with history."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from onboarding.audit.models import AuditEvent
from onboarding.db import db
from onboarding.institutions.access import RATE_TIERS, SCOPES, TRADE_SCOPES, has_trade_scope, ordered_scopes
from onboarding.institutions.models import ACTIVE, FROZEN, PROSPECT, RESTRICTED, Institution
from onboarding.institutions.operations import GrantRefused, grant_access
from onboarding.institutions.queries import current_grant, grant_history
from onboarding.institutions.status import TRANSITIONS, StatusRefused, can_change_status, change_status
from onboarding.notifications.models import EmailMessage

from .factories import make_applicant

STATUSES = (PROSPECT, ACTIVE, FROZEN, RESTRICTED)
GRANT = {"scopes": ["market:read", "spot:trade"], "rate_tier": "professional", "max_keys": 5,
         "ip_allowlist": ["203.0.113.10"], "granted_by_id": None}


def institution() -> Institution:
    return db.session.get(Institution, make_applicant().institution_id)


def institution_in(status: str) -> Institution:
    """Taken to `status` by the real moves only."""
    inst = institution()
    path = {PROSPECT: [], ACTIVE: [ACTIVE], FROZEN: [ACTIVE, FROZEN], RESTRICTED: [ACTIVE, RESTRICTED]}[status]
    if path:
        grant_access(inst, **GRANT)
    for step in path:
        change_status(inst, step, reason="test set-up")
    db.session.commit()
    return inst


def events(action: str, inst: Institution) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.subject_type == "institution",
        AuditEvent.subject_id == str(inst.id))))


def emails() -> list[EmailMessage]:
    return list(db.session.scalars(select(EmailMessage).order_by(EmailMessage.id)))


def test_the_table_is_the_one_of_design_3():
    assert set(TRANSITIONS) == {(PROSPECT, ACTIVE), (ACTIVE, FROZEN), (FROZEN, ACTIVE), (ACTIVE, RESTRICTED),
                                (FROZEN, RESTRICTED)}
    assert not any(source == RESTRICTED for source, _ in TRANSITIONS), "restricted is final"


@pytest.mark.parametrize(("source", "target"), [pair for pair in itertools.product(STATUSES, STATUSES)
                                                 if pair not in TRANSITIONS])
def test_a_move_outside_the_table_is_refused_and_changes_nothing(app, source, target):
    inst = institution_in(source)
    count = db.session.scalar(select(func.count()).select_from(AuditEvent))
    assert not can_change_status(inst, target)
    with pytest.raises(StatusRefused, match="cannot become"):
        change_status(inst, target, reason="trying")
    db.session.rollback()
    assert db.session.get(Institution, inst.id).status == source
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == count


def test_activation_needs_a_grant(app):
    inst = institution()
    with pytest.raises(StatusRefused, match="grant"):
        change_status(inst, ACTIVE, reason="approved")
    db.session.rollback()
    grant_access(inst, **GRANT)
    change_status(inst, ACTIVE, reason="approved")
    db.session.commit()
    inst = db.session.get(Institution, inst.id)
    assert inst.status == ACTIVE and inst.status_changed_at is not None
    [event] = events("institution.activated", inst)
    assert event.details["from"] == PROSPECT and event.details["reason"] == "approved"
    assert emails() == [], "activation is announced by the approval letter's e-mail, not here"


@pytest.mark.parametrize(("target", "event", "subject"), [
    (FROZEN, "institution.frozen", "is frozen"),
    (RESTRICTED, "institution.restricted", "permanently restricted"),
])
def test_freezing_and_restricting_are_audited_and_told(app, target, event, subject):
    inst = institution_in(ACTIVE)
    change_status(inst, target, reason="surveillance report 42", details={"report": 42})
    db.session.commit()
    [recorded] = events(event, inst)
    assert recorded.details == {"from": ACTIVE, "to": target, "reason": "surveillance report 42", "report": 42}
    [mail] = emails()
    assert mail.to_address == "mm@northwind.example" and subject in mail.subject
    assert inst.legal_name in mail.text_body


def test_a_frozen_institution_is_reactivated_and_told(app):
    inst = institution_in(FROZEN)
    db.session.query(EmailMessage).delete()
    change_status(inst, ACTIVE, reason="report dismissed")
    db.session.commit()
    assert db.session.get(Institution, inst.id).status == ACTIVE
    assert len(events("institution.reactivated", inst)) == 1
    assert [m.subject for m in emails()] == [f"API access of {inst.legal_name} is active again"]


def test_the_vocabulary_is_one():
    assert set(TRADE_SCOPES) < set(SCOPES) and set(RATE_TIERS) == {"standard", "professional", "premier"}
    assert ordered_scopes(["spot:trade", "bogus", "market:read"]) == ["market:read", "spot:trade"]
    assert has_trade_scope(["futures:trade"]) and not has_trade_scope(["market:read"]) and not has_trade_scope(None)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"scopes": []}, "granted_scopes", "Grant scopes from the list"),
    ({"scopes": ["market:read", "withdraw:all"]}, "granted_scopes", "Grant scopes from the list"),
    ({"ip_allowlist": []}, "granted_scopes", "only with an IP allow-list"),
    ({"rate_tier": "platinum"}, "rate_tier", "Choose a rate tier"),
    ({"max_keys": 0}, "max_keys", "between 1 and 50"),
    ({"max_keys": 51}, "max_keys", "between 1 and 50"),
    ({"max_keys": "5"}, "max_keys", "between 1 and 50"),
])
def test_a_bad_grant_is_refused_with_its_field_and_nothing_is_written(app, changes, field, message):
    inst = institution()
    with pytest.raises(GrantRefused, match=message) as refused:
        grant_access(inst, **{**GRANT, **changes})
    assert refused.value.field == field
    db.session.rollback()
    assert grant_history(inst.id) == []


def test_a_new_grant_supersedes_the_current_one_and_keeps_history(app):
    inst = institution()
    first = grant_access(inst, **GRANT)
    db.session.commit()
    second = grant_access(inst, **{**GRANT, "scopes": ["market:read"], "ip_allowlist": [], "max_keys": 2},
                          reason="narrowed by staff")
    db.session.commit()
    assert current_grant(inst.id).id == second.id
    assert [g.id for g in grant_history(inst.id)] == [second.id, first.id]
    assert db.session.get(type(first), first.id).superseded_at is not None and second.is_current
    granted = events("institution.access_granted", inst)
    assert [e.details["replaces"] for e in granted] == [None, first.id]
    assert granted[1].details["scopes"] == ["market:read"] and granted[1].details["max_keys"] == 2
