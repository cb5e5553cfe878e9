"""Four eyes on enforcement decisions: a decision against the default outcome, or a restriction extended
to institutions linked by confirmed signals, is recorded as proposed and takes effect only when a
different compliance officer confirms it; the proposer cannot confirm it, a stale form is refused and a
proposal sent back leaves everything as it was. Extending a restriction restricts each linked institution
through its own status change and revokes its keys."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from onboarding.applications.models import Application
from onboarding.audit.models import AuditEvent
from onboarding.db import db
from onboarding.enforcement import decisions
from onboarding.enforcement.intake import report_violation
from onboarding.enforcement.models import DecisionProposal, Investigation
from onboarding.institutions.models import Institution
from onboarding.keys.models import ApiKey
from onboarding.review.signoff import signoff_required
from onboarding.screening.models import LinkSignal

from .factories import granted_institution, make_applicant
from .test_enforcement import claimed, confirmed, frozen_case, officer, report, second_officer
from .test_enforcement_pages import case_url, compliance_client, post_case
from .test_keys import ORDER, ask, hmac_key, signed


def link(user, other_institution_id: int, status: str = "confirmed") -> None:
    """A signal from one of `user`'s applications to another institution (same corporate domain)."""
    application = Application(institution_id=user.institution_id, created_by_id=user.id)
    db.session.add(application)
    db.session.flush()
    db.session.add(LinkSignal(application_id=application.id, other_institution_id=other_institution_id,
                              signal="email_domain", evidence_key="evergreen.example", status=status))
    db.session.commit()


def statuses(*institution_ids) -> list[str]:
    return [db.session.get(Institution, i).status for i in institution_ids]


def test_a_restriction_extended_to_a_linked_institution_needs_a_second_officer(app):
    user = granted_institution()
    sister = granted_institution("ops@sister.example", "Sister Desk Ltd")
    sister_key = hmac_key(sister)
    link(user, sister.institution_id)
    _, recorded = frozen_case(user, malicious=True)  # the default is restriction
    cora = officer()
    investigation = claimed(recorded.investigation, cora)
    assert [i.legal_name for i in decisions.restrictable_linked(investigation)] == ["Sister Desk Ltd"]
    outcome = decisions.restrict(investigation, "Arbitrage ring run from both desks.", cora,
                                 extend_to=[sister.institution_id])
    db.session.commit()
    assert outcome == decisions.PROPOSED
    assert statuses(user.institution_id, sister.institution_id) == ["frozen", "active"], "nothing happens yet"
    with pytest.raises(decisions.DecisionRefused, match="You proposed this decision"):
        decisions.confirm_proposal(investigation, cora)
    db.session.rollback()
    confirmed(db.session.get(Investigation, investigation.id))
    assert statuses(user.institution_id, sister.institution_id) == ["restricted", "restricted"]
    assert db.session.get(ApiKey, sister_key.key.id).status == "revoked"
    assert ask(sister_key.api_key, signed(ORDER, secret=sister_key.secret)).reason == "key_revoked"
    restricted_events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "institution.restricted")
                                           .order_by(AuditEvent.id)).all()
    assert [int(e.subject_id) for e in restricted_events] == [user.institution_id, sister.institution_id]
    assert restricted_events[1].details["extended_from_institution_id"] == user.institution_id
    proposal = db.session.scalars(select(DecisionProposal)).one()
    assert proposal.status == "confirmed" and proposal.answered_by_id == second_officer().id


def test_the_default_restriction_takes_effect_at_once(app):
    user = granted_institution()
    _, recorded = frozen_case(user, market_impact="significant")
    cora = officer()
    assert decisions.restrict(claimed(recorded.investigation, cora), "Significant impact.", cora) == "restrict"
    db.session.commit()
    assert statuses(user.institution_id) == ["restricted"]
    assert db.session.scalar(select(func.count()).select_from(DecisionProposal)) == 0


def test_an_unlinked_institution_cannot_be_swept_into_a_restriction(app):
    user = granted_institution()
    stranger = granted_institution("ops@stranger.example", "Stranger Capital")
    suspected = granted_institution("ops@suspected.example", "Suspected Desk")
    link(user, suspected.institution_id, status="open")  # a signal nobody confirmed does not count
    _, recorded = frozen_case(user, malicious=True)
    cora = officer()
    investigation = claimed(recorded.investigation, cora)
    for ident in (stranger.institution_id, suspected.institution_id, 999999):
        with pytest.raises(decisions.DecisionRefused, match="only to institutions linked by a confirmed signal") \
                as refused:
            decisions.restrict(investigation, "Ring.", cora, extend_to=[ident])
        assert refused.value.field == "extend_to"
        db.session.rollback()
    assert statuses(user.institution_id, stranger.institution_id, suspected.institution_id) == \
        ["frozen", "active", "active"]
    assert db.session.scalar(select(func.count()).select_from(DecisionProposal)) == 0


def test_the_extension_through_the_case_page_and_a_stale_confirmation(app):
    user = granted_institution()
    sister = granted_institution("ops@sister.example", "Sister Desk Ltd")
    link(user, sister.institution_id)
    _, recorded = frozen_case(user, malicious=True)
    investigation_id = recorded.investigation.id
    cora = compliance_client(app)
    post_case(cora, investigation_id, "claim")
    page = cora.get(case_url(investigation_id)).get_data(as_text=True)
    assert f'name="extend_to" value="{sister.institution_id}"' in page and "Sister Desk Ltd" in page
    bad = post_case(cora, investigation_id, "restrict", {"reason": "Ring.", "extend_to": "Sister"})
    assert bad.status_code == 422 and "Choose linked institutions from the list." in bad.get_data(as_text=True)
    response = post_case(cora, investigation_id, "restrict",
                         {"reason": "Ring across both desks.", "extend_to": str(sister.institution_id)})
    assert response.status_code == 303
    page = cora.get(case_url(investigation_id)).get_data(as_text=True)
    assert "It extends the restriction to 1 linked institution" in page
    otto = compliance_client(app, "otto@exchange.example", "Otto Officer")
    seen = db.session.get(Investigation, investigation_id).version
    # Cora's case changes (a second report) after Otto opened the page.
    report_violation(report(user.institution_id, reference="SURV-2"), reporter="token:test")
    db.session.commit()
    stale = post_case(otto, investigation_id, "confirm", version=seen)
    assert stale.status_code == 409 and "changed after you opened it" in stale.get_data(as_text=True)
    assert statuses(user.institution_id, sister.institution_id) == ["frozen", "active"]
    response = post_case(otto, investigation_id, "confirm")
    assert response.status_code == 303
    assert statuses(user.institution_id, sister.institution_id) == ["restricted", "restricted"]


def test_an_application_linked_to_a_restricted_institution_needs_a_compliance_signoff(app):
    user = granted_institution()
    _, recorded = frozen_case(user, malicious=True)
    cora = officer()
    decisions.restrict(claimed(recorded.investigation, cora), "Malicious.", cora)
    db.session.commit()
    newcomer = make_applicant("desk@newcomer.example", "Newcomer Trading Ltd")
    application = Application(institution_id=newcomer.institution_id, created_by_id=newcomer.id)
    db.session.add(application)
    db.session.flush()
    db.session.add(LinkSignal(application_id=application.id, other_institution_id=user.institution_id,
                              signal="same_registration", evidence_key="NL-1234", status="open"))
    db.session.commit()
    assert signoff_required(application), "a re-application by a linked firm waits for compliance"
