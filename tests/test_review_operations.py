"""The review workflow through its operations: the queues a case passes through, assignment, four
eyes, dispositions, change requests and rejection, and every refusal leaving the case unchanged."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from onboarding.accounts.models import Institution
from onboarding.applications import operations as app_ops
from onboarding.applications.models import PERSON, Application
from onboarding.audit.models import AuditEvent
from onboarding.db import db, utcnow
from onboarding.demo import import_demo_lists
from onboarding.documents.models import Document
from onboarding.documents.operations import upload_document
from onboarding.errors import OperationRefused
from onboarding.jobs import OutboxJob
from onboarding.review import operations as review
from onboarding.review.models import ChangeRequest
from onboarding.review.queries import open_change_requests
from onboarding.review.queues import QUEUES, Filters, queue_counts, queue_page
from onboarding.screening.models import ScreeningHit

from . import factories
from .factories import complete_application, make_applicant, make_staff, review_team, submit


def submitted(listed_director: bool = False) -> Application:
    user = make_applicant()
    application = complete_application(user)
    if listed_director:
        import_demo_lists()
        app_ops.add_party(application, PERSON, {
            "name": "Elvis Angus Logan Morey", "date_of_birth": date(1963, 7, 28), "nationality": "BZ",
            "residence": "BZ", "is_director": True, "title": "Non-executive director"})
        factories.upload_all_documents(application, user)
        db.session.commit()
    submit(application, user)
    return db.session.get(Application, application.id)


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
    assert application.granted_scopes == ["market:read", "spot:trade"] and application.rate_tier == "professional"

    factories.approve(application, team["approver"])
    application = db.session.get(Application, application.id)
    assert application.state == "approved" and application.decided_at is not None
    assert db.session.get(Institution, application.institution_id).status == "active"
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
    assert "possible sanctions match(es) still need a disposition" in message
    assert db.session.get(Application, application.id).state == "document_review"

    # A disposition needs a reason.
    assert "Give the reason" in refused(review.dispose_hit, application, hits[0], "false_positive", "  ", reviewer)
    assert db.session.get(ScreeningHit, hits[0].id).disposition == "pending"

    # A hit found by monitoring while the case waits for approval blocks the approval as well.
    for hit in hits:
        review.dispose_hit(application, hit, "false_positive", "Born 1963 but different nationality.", reviewer)
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
    assert "still need a disposition" in refused(review.approve, application, team["approver"])
    assert db.session.get(Application, application.id).state == "pending_approval"


def test_a_true_match_can_only_be_rejected(app):
    team = review_team()
    application = submitted(listed_director=True)
    reviewer = team["documents"]
    review.claim(application, reviewer)
    hit = db.session.scalars(select(ScreeningHit).where(
        ScreeningHit.institution_id == application.institution_id)).first()
    review.dispose_hit(application, hit, "true_match", "Same name, birth date and nationality as the SDN entry.",
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
    application.needs_compliance_signoff = True  # as a high risk band sets it
    db.session.commit()
    assert queue_counts()["compliance"] == 1
    factories.accept_documents(application, team["documents"])
    factories.qualify(application, team["qualification"])
    application = db.session.get(Application, application.id)
    review.claim(application, team["approver"])
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
