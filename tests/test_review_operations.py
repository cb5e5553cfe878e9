"""The review workflow through its operations: the queues a case passes through, assignment, four
eyes, dispositions, change requests and rejection, and every refusal leaving the case unchanged."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from onboarding.applications.changes import open_change_requests
from onboarding.applications.models import Application, ChangeRequest
from onboarding.audit.models import AuditEvent
from onboarding.db import db, utcnow
from onboarding.documents.models import Document
from onboarding.documents.operations import upload_document
from onboarding.errors import OperationRefused
from onboarding.institutions.models import Institution
from onboarding.institutions.queries import current_grant
from onboarding.jobs import OutboxJob
from onboarding.review import operations as review
from onboarding.review.queues import QUEUES, Filters, queue_counts, queue_page
from onboarding.review.signoff import refresh_signoff_requirement
from onboarding.screening.models import ScreeningHit

from . import factories
from .factories import complete_application, make_applicant, make_staff, review_team, submit


def submitted(listed_director: bool = False) -> Application:
    user = make_applicant()
    application = complete_application(user)
    if listed_director:
        factories.add_listed_director(application, user)
        db.session.commit()
    submit(application, user)
    return db.session.get(Application, application.id)


def waiting_for_approval(application: Application, team) -> Application:
    """Documents accepted, qualification scored, and the case claimed by the approver (not committed)."""
    factories.accept_documents(application, team["documents"])
    factories.qualify(application, team["qualification"])
    application = db.session.get(Application, application.id)
    review.claim(application, team["approver"])
    return application


def refused(operation, *args, **kwargs) -> str:
    with pytest.raises(OperationRefused) as caught:
        operation(*args, **kwargs)
    db.session.rollback()
    return caught.value.message


def test_a_case_goes_from_document_review_to_approval(app):
    team = review_team()
    application = submitted()
    assert application.state == "document_review" and application.assignee_id is None
    assert application.due_at is not None and application.due_at > utcnow()
    assert queue_counts()["documents"] == 1

    factories.accept_documents(application, team["documents"])
    application = db.session.get(Application, application.id)
    assert application.state == "qualification_review"
    assert application.assignee_id is None, "a case joins its next queue unassigned"
    assert queue_counts() == {"documents": 0, "qualification": 1, "approval": 0, "compliance": 0}

    factories.qualify(application, team["qualification"])
    application = db.session.get(Application, application.id)
    assert application.state == "pending_approval"
    assert application.qualified_by_id == team["qualification"].id
    assert current_grant(application.institution_id) is None, "qualification proposes; approval grants"

    factories.approve(application, team["approver"])
    application = db.session.get(Application, application.id)
    assert application.state == "approved" and application.decided_at is not None
    assert db.session.get(Institution, application.institution_id).status == "active"
    grant = current_grant(application.institution_id)
    assert grant.scopes == ["market:read", "spot:trade"] and grant.rate_tier == "professional"
    assert grant.application_id == application.id and grant.granted_by_id == team["approver"].id
    assert grant.ip_allowlist == application.ip_allowlist
    assert db.session.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.name == "letters.issue")) == 1
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.subject_type == "application", AuditEvent.subject_id == str(application.id))).all()
    for expected in ("application.claimed", "document.reviewed", "application.documents_accepted",
                     "application.qualify", "application.approve"):
        assert expected in actions


def test_only_the_assignee_decides(app):
    team = review_team()
    other = make_staff("rory@exchange.example", "Rory Reviewer", ["document_reviewer"])
    application = submitted()
    document = db.session.scalars(select(Document).where(Document.application_id == application.id)).first()
    assert "Claim this case" in refused(review.decide_document, application, document, "accepted", None, None,
                                         team["documents"])
    review.claim(application, team["documents"])
    db.session.commit()
    message = refused(review.decide_document, application, document, "accepted", None, None, other)
    assert "assigned to Dana Documents" in message
    assert "claimed this case first" in refused(review.claim, application, other)
    assert db.session.get(Document, document.id).review_status == "pending"
    # An admin reassigns; now the other reviewer decides and Dana cannot.
    review.assign(application, other, team["admin"])
    db.session.commit()
    review.decide_document(application, document, "accepted", None, None, other)
    db.session.commit()
    assert db.session.get(Document, document.id).review_status == "accepted"
    assert "only the assignee" in refused(review.accept_documents, application, team["documents"])


def test_a_reviewer_cannot_claim_a_queue_without_its_role(app):
    team = review_team()
    application = submitted()
    message = refused(review.claim, application, team["qualification"])
    assert "document reviewer role" in message
    assert db.session.get(Application, application.id).assignee_id is None


def test_four_eyes_the_qualifier_cannot_approve(app):
    team = review_team()
    both = make_staff("pat@exchange.example", "Pat Both", ["qualification_reviewer", "approver"])
    application = submitted()
    factories.accept_documents(application, team["documents"])
    factories.qualify(application, both)
    application = db.session.get(Application, application.id)
    assert "another approver" in refused(review.claim, application, both)
    # Even if an admin tried to hand it to them.
    assert "another approver" in refused(review.assign, application, both, team["admin"])
    assert db.session.get(Application, application.id).state == "pending_approval"
    factories.approve(application, team["approver"])
    assert db.session.get(Application, application.id).state == "approved"


def test_undisposed_hits_block_acceptance_and_approval(app):
    team = review_team()
    application = submitted(listed_director=True)
    hits = db.session.scalars(select(ScreeningHit).where(
        ScreeningHit.institution_id == application.institution_id)).all()
    assert hits and all(h.disposition == "pending" for h in hits)
    reviewer = team["documents"]
    review.claim(application, reviewer)
    for document in db.session.scalars(select(Document).where(Document.application_id == application.id)):
        review.decide_document(application, document, "accepted", None, None, reviewer)
    db.session.commit()
    message = refused(review.accept_documents, application, reviewer)
    assert "still need" in message
    assert db.session.get(Application, application.id).state == "document_review"

    # A disposition needs a reason.
    assert "Give the reason" in refused(review.disposition_hit, application, hits[0], "false_positive", "  ", reviewer)
    assert db.session.get(ScreeningHit, hits[0].id).disposition == "pending"

    # A hit found by monitoring while the case waits for approval blocks the approval as well.
    for hit in hits:
        review.disposition_hit(application, hit, "false_positive", "Born 1963 but different nationality.", reviewer)
    db.session.commit()
    application = db.session.get(Application, application.id)
    if application.needs_compliance_signoff:
        review.compliance_signoff(application, "Reviewed the director's identity.", team["compliance"])
        db.session.commit()
    review.accept_documents(application, reviewer)
    db.session.commit()
    factories.qualify(application, team["qualification"])
    hit = db.session.get(ScreeningHit, hits[0].id)
    hit.disposition = "pending"  # as a re-screen after a list update would leave a new hit
    db.session.commit()
    application = db.session.get(Application, application.id)
    review.claim(application, team["approver"])
    db.session.commit()
    assert "a disposition (true match or false positive" in refused(review.approve, application, team["approver"])
    assert db.session.get(Application, application.id).state == "pending_approval"


def test_a_true_match_can_only_be_rejected(app):
    team = review_team()
    application = submitted(listed_director=True)
    reviewer = team["documents"]
    review.claim(application, reviewer)
    hit = db.session.scalars(select(ScreeningHit).where(
        ScreeningHit.institution_id == application.institution_id)).first()
    review.disposition_hit(application, hit, "true_match", "Same name, birth date and nationality as the SDN entry.",
                       reviewer)
    db.session.commit()
    assert "can only be rejected" in refused(review.accept_documents, application, reviewer)
    review.reject(application, "compliance", "SDN true match on a director.", reviewer)
    db.session.commit()
    application = db.session.get(Application, application.id)
    assert application.state == "rejected" and application.decision_category == "compliance"


def test_high_risk_needs_a_compliance_signoff_before_approval(app):
    team = review_team()
    application = submitted()
    application.risk_band = "high"  # as the risk score would set it; the flag follows
    refresh_signoff_requirement(application)
    db.session.commit()
    assert queue_counts()["compliance"] == 1
    application = waiting_for_approval(application, team)
    db.session.commit()
    assert "compliance officer must sign it off" in refused(review.approve, application, team["approver"])
    assert "You need the compliance role" in refused(review.compliance_signoff, application, "ok", team["approver"])
    assert "Give the basis" in refused(review.compliance_signoff, application, "", team["compliance"])
    review.compliance_signoff(application, "Source of funds evidenced; directors verified.", team["compliance"])
    db.session.commit()
    assert queue_counts()["compliance"] == 0
    review.approve(application, team["approver"])
    db.session.commit()
    assert db.session.get(Application, application.id).state == "approved"


def test_a_stale_form_is_refused(app):
    team = review_team()
    application = submitted()
    seen = application.lock_version
    review.claim(application, team["documents"])
    db.session.commit()
    message = refused(review.lock_case, application.id, seen)
    assert "changed after you opened it" in message
    assert review.lock_case(application.id, seen + 1).id == application.id


def test_request_changes_then_resubmit_returns_to_the_reviewer(app):
    team = review_team()
    reviewer = team["documents"]
    application = submitted()
    review.claim(application, reviewer)
    db.session.commit()
    documents = db.session.scalars(select(Document).where(Document.application_id == application.id)
                                   .order_by(Document.id)).all()
    assert "Choose the reason" in refused(review.decide_document, application, documents[0], "reupload", None, None,
                                          reviewer)
    review.decide_document(application, documents[0], "reupload", "expired", "The scan shows an expired date.",
                           reviewer)
    db.session.commit()
    assert "not accepted yet" in refused(review.accept_documents, application, reviewer)
    review.request_changes(application, [("company", "Give the full registered address, with postcode."),
                                         ("profile", "")], reviewer)
    db.session.commit()
    application = db.session.get(Application, application.id)
    assert application.state == "changes_requested"
    items = open_change_requests(application)
    assert [i.step for i in items] == ["company", "documents"]
    assert "The document has expired. The scan shows an expired date." in items[1].message

    # The applicant replaces the document and resubmits; checks run again and the case comes back to Dana.
    user = db.session.scalars(select(factories.User).where(factories.User.institution_id ==
                                                           application.institution_id)).first()
    upload_document(application, documents[0].requirement_key, stream=io.BytesIO(factories.pdf_bytes("New")),
                    filename="new.pdf", issue_date=date.today() - timedelta(days=3), expiry_date=None,
                    user_id=user.id)
    db.session.commit()
    submit(application, user)
    application = db.session.get(Application, application.id)
    assert application.state == "document_review" and application.check_round == 2
    assert application.assignee_id == reviewer.id
    assert open_change_requests(application) == []
    assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == 2, "history is kept"
    statuses = {d.kind: d.review_status for d in db.session.scalars(
        select(Document).where(Document.application_id == application.id))}
    assert statuses[documents[0].kind] == "pending"
    assert list(statuses.values()).count("accepted") == 0


def test_rejection_needs_a_category_and_notes(app):
    team = review_team()
    application = submitted()
    review.claim(application, team["documents"])
    db.session.commit()
    assert "Choose the reason the applicant will see" in refused(review.reject, application, "", "x",
                                                                 team["documents"])
    assert "internal notes" in refused(review.reject, application, "qualification", " ", team["documents"])
    assert db.session.get(Application, application.id).state == "document_review"


def test_queue_filters_sorting_and_search(app):
    team = review_team()
    application = submitted()
    assert application.reference
    page = queue_page(QUEUES["documents"], Filters(search=application.reference[-4:]), team["documents"].id)
    assert [row[0].id for row in page.rows] == [application.id]
    assert queue_page(QUEUES["documents"], Filters(assignee="me"), team["documents"].id).total == 0
    assert queue_page(QUEUES["documents"], Filters(assignee="unassigned"), team["documents"].id).total == 1
    assert queue_page(QUEUES["qualification"], Filters(), team["documents"].id).total == 0
    assert queue_page(QUEUES["documents"], Filters(jurisdiction="ZZ"), team["documents"].id).total == 0
    assert queue_page(None, Filters(sort="risk"), team["documents"].id).total == 1


def test_a_dismissed_link_to_a_restricted_institution_still_needs_a_signoff(app):
    from onboarding.screening.models import LinkSignal

    team = review_team()
    application = submitted()
    other = make_applicant("ops@restricted.example", "Restricted Trading Ltd").institution
    other.status = "restricted"
    db.session.add(LinkSignal(application_id=application.id, other_institution_id=other.id,
                              signal="email_domain", evidence_key="x", evidence={}))
    db.session.commit()
    reviewer = team["documents"]
    review.claim(application, reviewer)
    signal = db.session.scalars(select(LinkSignal)).one()
    review.review_signal(application, signal, "dismissed", "Looks unrelated to me.", reviewer)
    db.session.commit()
    assert db.session.get(Application, application.id).needs_compliance_signoff, "a dismissal does not clear it"
    review.release(application, reviewer)
    db.session.commit()
    factories.accept_documents(application, reviewer)
    factories.qualify(application, team["qualification"])
    application = db.session.get(Application, application.id)
    review.claim(application, team["approver"])
    db.session.commit()
    assert "compliance officer must sign it off" in refused(review.approve, application, team["approver"])


def test_the_qualifier_can_take_the_case_again_after_a_send_back(app):
    team = review_team()
    application = submitted()
    application = waiting_for_approval(application, team)
    review.send_back(application, "Check the capital figure against the statements.", team["approver"])
    db.session.commit()
    assert [u.id for u in review.eligible_assignees(application)] == [team["qualification"].id]
    review.claim(application, team["qualification"])
    db.session.commit()
    assert db.session.get(Application, application.id).assignee_id == team["qualification"].id


def test_the_ownership_chart_stays_linear_when_holding_companies_share_owners():
    from decimal import Decimal
    from types import SimpleNamespace

    from onboarding.applications.ownership import OwnershipSummary
    from onboarding.review.ownership_chart import ownership_tree

    def company(i):
        return SimpleNamespace(id=i, name=f"Layer company {i}", kind="company", is_person=False, is_company=True,
                               is_director=False, is_signatory=False, is_controller=False)

    layers = 18
    parties = [company(i) for i in range(1, 2 * layers + 1)]
    links = [SimpleNamespace(owner_id=1, owned_id=None, percentage=Decimal(50)),
             SimpleNamespace(owner_id=2, owned_id=None, percentage=Decimal(50))]
    for layer in range(layers - 1):  # both companies of each layer are owned 50/50 by both of the next
        for owned in (2 * layer + 1, 2 * layer + 2):
            for owner in (2 * layer + 3, 2 * layer + 4):
                links.append(SimpleNamespace(owner_id=owner, owned_id=owned, percentage=Decimal(50)))
    application = SimpleNamespace(legal_name="Applicant", parties=parties, ownership_links=links)

    def count(node):
        return 1 + sum(count(child) for child in node.owners)

    assert count(ownership_tree(application, OwnershipSummary())) <= 1 + 2 * len(links)


def test_a_preview_refuses_a_page_that_would_make_a_huge_bitmap():
    import pypdf

    from onboarding.review.preview import PreviewUnavailable, render_preview

    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=0.5, height=4000)
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(PreviewUnavailable):
        render_preview(buffer.getvalue(), "application/pdf")
    writer = pypdf.PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    assert render_preview(buffer.getvalue(), "application/pdf").startswith(b"\x89PNG")


def test_a_hit_found_by_monitoring_makes_an_open_approval_form_stale(app):
    from onboarding.screening.screen import rescreen_all

    team = review_team()
    application = submitted()
    application = waiting_for_approval(application, team)
    db.session.commit()
    seen = application.lock_version
    # A director is added to the list (as a new sanctions list version would): monitoring finds them.
    party = next(p for p in application.parties if p.name == "Carol Director")
    party.name, party.date_of_birth, party.nationality = "Elvis Angus Logan Morey", date(1963, 7, 28), "BZ"
    db.session.commit()
    from onboarding.demo import import_demo_lists

    import_demo_lists()
    db.session.commit()
    assert rescreen_all()["new_hits"] >= 1
    assert "changed after you opened it" in refused(review.lock_case, application.id, seen)
    application = review.lock_case(application.id)
    assert "a disposition (true match or false positive" in refused(review.approve, application, team["approver"])
