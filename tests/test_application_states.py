"""The application's life (DESIGN 3): every (state, action) pair of the transition table, who may
act, the guards (role, four-eyes, own institution, completeness, current rules agreed) and what a
transition leaves behind (audit event, jobs, e-mails), all in the caller's transaction."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from flask import current_app
from sqlalchemy import select

from onboarding import security
from onboarding.accounts.operations import create_staff
from onboarding.agreements.models import API_USAGE
from onboarding.agreements.operations import current_rules, publish_bundled_rules, publish_rules, record_agreement
from onboarding.applications import operations as ops
from onboarding.applications.models import (
    APPROVED,
    CHANGES_REQUESTED,
    CHECKING,
    CLOSED_STATES,
    DOCUMENT_REVIEW,
    DRAFT,
    PENDING_APPROVAL,
    QUALIFICATION_REVIEW,
    REJECTED,
    STATE_LABELS,
    WITHDRAWN,
    Application,
)
from onboarding.applications.states import (
    ACTIONS,
    APPLICANT,
    STAFF,
    SYSTEM,
    TRANSITIONS,
    Actor,
    TransitionRefused,
    allowed_actions,
    transition,
)
from onboarding.audit.models import AuditEvent
from onboarding.db import db
from onboarding.jobs import OutboxJob
from onboarding.notifications.models import EmailMessage

from .factories import PASSWORD, complete_application, make_applicant

APPLICANT_EMAIL = "mm@northwind.example"
# "approve" e-mails the applicant from the letter job, with the approval letter attached.
NOTIFYING_ACTIONS = {"submit", "withdraw", "request_changes", "reject"}
REVIEW_ROLES = ("document_reviewer", "qualification_reviewer", "approver")

ALL_PAIRS = [(state, action) for state in STATE_LABELS for action in ACTIONS]
ALLOWED_PAIRS = [pair for pair in ALL_PAIRS if pair in TRANSITIONS]
REFUSED_PAIRS = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path):
    """Uploaded files of these tests go to a private directory, not the shared instance folder."""
    current_app.config["DOCUMENTS_DIR"] = str(tmp_path / "documents")


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """Accounts are only scaffolding here; cheap argon2 parameters keep the 100+ cases fast."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


# --- helpers ---------------------------------------------------------------------------------------


def staff(email: str, *roles: str):
    user = create_staff(email=email, full_name=email.split("@")[0].title(), password=PASSWORD, roles=roles)
    db.session.commit()
    return user


def agree_to_current_rules(application: Application, user) -> None:
    rules = current_rules(API_USAGE)
    record_agreement(rules=rules, shown_sha256=rules.sha256, institution_id=application.institution_id,
                     user_id=user.id, application_id=application.id, signer_name="Carol Director",
                     signer_title="CEO", ip="198.51.100.7", user_agent="pytest")


def started_application(user, state: str = DRAFT) -> Application:
    """A draft (only started), put in `state` directly: test scaffolding, not a transition."""
    application = ops.start_application(user)
    application.state = state
    db.session.commit()
    return application


def audit_events(application: Application, action: str) -> list[AuditEvent]:
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == f"application.{action}",
                                 AuditEvent.subject_type == "application",
                                 AuditEvent.subject_id == str(application.id))
    ).all()


def run_checks_jobs(application: Application) -> list[OutboxJob]:
    jobs = db.session.scalars(select(OutboxJob).where(OutboxJob.name == "applications.run_checks")).all()
    return [job for job in jobs if job.args == {"application_id": application.id}]


def emails_to(address: str) -> list[EmailMessage]:
    return db.session.scalars(
        select(EmailMessage).where(EmailMessage.to_address == address).order_by(EmailMessage.id)
    ).all()


def actor_for(rule_actor: str, roles: tuple[str, ...], applicant) -> Actor:
    if rule_actor == APPLICANT:
        return Actor(applicant)
    if rule_actor == SYSTEM:
        return Actor.system()
    assert rule_actor == STAFF
    return Actor(staff("reviewer@exchange.example", *roles))


def satisfy_review_guards(application: Application, action: str, reviewer) -> None:
    """What the review guards ask for before a staff decision: the case assigned to the reviewer, a
    scored qualification to qualify or approve, an item to change to request changes (tested in
    test_review_*)."""
    from onboarding.applications.models import ChangeRequest
    from onboarding.review.models import QualificationReview

    application.assignee_id = reviewer.id
    if action in ("qualify", "approve"):
        db.session.add(QualificationReview(application_id=application.id, round=application.check_round,
                                           reviewer_id=reviewer.id, scores={}, total_score=0,
                                           granted_scopes=["market:read"], rate_tier="standard", max_keys=1))
    if action == "request_changes":
        db.session.add(ChangeRequest(application_id=application.id, round=application.check_round, step="company",
                                     message="Complete the address.", created_by_id=reviewer.id))
    db.session.commit()


def natural_actor(action: str, applicant) -> Actor:
    """Who would do `action` if the state allowed it: the refusal is then about the state only."""
    if action in ("submit", "withdraw"):
        return Actor(applicant)
    if action == "checks_done":
        return Actor.system()
    return Actor(staff("all-roles@exchange.example", *REVIEW_ROLES))


# --- the whole table -------------------------------------------------------------------------------


def test_every_state_and_action_is_covered():
    """The parametrisation below covers the real table: 9 states, every action it names."""
    assert set(STATE_LABELS) == {DRAFT, CHECKING, DOCUMENT_REVIEW, QUALIFICATION_REVIEW, PENDING_APPROVAL,
                                 APPROVED, REJECTED, CHANGES_REQUESTED, WITHDRAWN}
    assert set(ACTIONS) == {"submit", "checks_done", "documents_accepted", "request_changes", "reject",
                            "qualify", "approve", "send_back", "withdraw"}
    assert len(ALLOWED_PAIRS) + len(REFUSED_PAIRS) == len(STATE_LABELS) * len(ACTIONS)


@pytest.mark.parametrize(("state", "action"), ALLOWED_PAIRS, ids=[f"{s}-{a}" for s, a in ALLOWED_PAIRS])
def test_allowed_transition(app, state, action):
    rule = TRANSITIONS[(state, action)]
    applicant = make_applicant()
    if action == "submit":
        application = complete_application(applicant)
        application.state = state
        agree_to_current_rules(application, applicant)
        db.session.commit()
    else:
        application = started_application(applicant, state)
    actor = actor_for(rule.actor, rule.roles, applicant)
    if rule.actor == STAFF:
        satisfy_review_guards(application, action, actor.user)
    emails_before = len(emails_to(APPLICANT_EMAIL))

    new_state = transition(application, action, actor)

    # Everything is written in the caller's transaction ...
    assert new_state == rule.target
    assert application.state == rule.target
    assert_transition_recorded(application, state, action, rule.target, emails_before)
    if action == "submit":
        assert application.submitted_at is not None
    # ... and is kept by its commit (after which, for `checking`, the automated checks may already
    # have moved the application on).
    db.session.commit()
    db.session.expire_all()
    application = db.session.get(Application, application.id)
    assert_transition_recorded(application, state, action, rule.target, emails_before, committed=True)
    if rule.target != CHECKING:
        assert application.state == rule.target


def assert_transition_recorded(application, source: str, action: str, target: str, emails_before: int,
                               committed: bool = False) -> None:
    events = audit_events(application, action)
    assert len(events) == 1
    assert events[0].details["from"] == source
    assert events[0].details["to"] == target
    assert events[0].details["reference"] == application.reference

    assert len(run_checks_jobs(application)) == (1 if target == CHECKING else 0)

    new_emails = emails_to(APPLICANT_EMAIL)[emails_before:]
    # Once committed, the letter job (run in-process here) has sent the approval e-mail.
    if action in NOTIFYING_ACTIONS or (committed and action == "approve"):
        assert len(new_emails) == 1
        assert application.reference in new_emails[0].subject
    else:
        assert new_emails == []


@pytest.mark.parametrize(("state", "action"), REFUSED_PAIRS, ids=[f"{s}-{a}" for s, a in REFUSED_PAIRS])
def test_transition_not_in_table_is_refused(app, state, action):
    applicant = make_applicant()
    application = started_application(applicant, state)
    actor = natural_actor(action, applicant)

    with pytest.raises(TransitionRefused) as refused:
        transition(application, action, actor)
    db.session.commit()

    assert f"“{STATE_LABELS[state]}”" in refused.value.message
    db.session.expire_all()
    assert db.session.get(Application, application.id).state == state
    assert audit_events(application, action) == []
    assert run_checks_jobs(application) == []


@pytest.mark.parametrize("state", list(STATE_LABELS))
def test_allowed_actions_lists_exactly_the_table(app, state):
    applicant = make_applicant()
    application = started_application(applicant, state)
    actions = allowed_actions(application)
    assert sorted(actions) == sorted(action for (s, action) in TRANSITIONS if s == state)
    assert len(actions) == len(set(actions))
    if state in CLOSED_STATES:
        assert actions == []
    else:
        # DESIGN 3: the applicant may withdraw from any state before approved.
        assert "withdraw" in actions


def test_side_effects_share_the_callers_transaction(app):
    """Rolled back, a transition leaves no state change, audit event, job or e-mail behind."""
    applicant = make_applicant()
    application = complete_application(applicant)
    agree_to_current_rules(application, applicant)
    db.session.commit()

    transition(application, "submit", Actor(applicant))
    db.session.rollback()

    db.session.expire_all()
    assert db.session.get(Application, application.id).state == DRAFT
    assert audit_events(application, "submit") == []
    assert run_checks_jobs(application) == []
    assert emails_to(APPLICANT_EMAIL) == []


# --- who may act ---------------------------------------------------------------------------------


def test_applicant_cannot_approve(app):
    applicant = make_applicant()
    application = started_application(applicant, PENDING_APPROVAL)
    with pytest.raises(TransitionRefused) as refused:
        transition(application, "approve", Actor(applicant))
    assert "Only staff" in refused.value.message
    assert application.state == PENDING_APPROVAL
    assert audit_events(application, "approve") == []


def test_staff_cannot_submit_for_the_applicant(app):
    applicant = make_applicant()
    application = complete_application(applicant)
    agree_to_current_rules(application, applicant)
    db.session.commit()
    reviewer = staff("all-roles@exchange.example", *REVIEW_ROLES)
    with pytest.raises(TransitionRefused) as refused:
        transition(application, "submit", Actor(reviewer))
    assert "Only applicants" in refused.value.message
    assert application.state == DRAFT
    assert audit_events(application, "submit") == []


def test_system_cannot_do_a_staff_decision(app):
    applicant = make_applicant()
    application = started_application(applicant, DOCUMENT_REVIEW)
    with pytest.raises(TransitionRefused):
        transition(application, "reject", Actor.system())
    assert application.state == DOCUMENT_REVIEW


def test_applicant_cannot_finish_the_automated_checks(app):
    applicant = make_applicant()
    application = started_application(applicant, CHECKING)
    with pytest.raises(TransitionRefused) as refused:
        transition(application, "checks_done", Actor(applicant))
    assert "Only systems" in refused.value.message
    assert application.state == CHECKING


def test_document_reviewer_cannot_qualify(app):
    applicant = make_applicant()
    application = started_application(applicant, QUALIFICATION_REVIEW)
    reviewer = staff("docs@exchange.example", "document_reviewer")
    with pytest.raises(TransitionRefused) as refused:
        transition(application, "qualify", Actor(reviewer))
    assert "qualification reviewer role" in refused.value.message
    assert application.state == QUALIFICATION_REVIEW
    assert application.qualified_by_id is None
    assert audit_events(application, "qualify") == []


def test_qualification_reviewer_cannot_approve_without_the_approver_role(app):
    applicant = make_applicant()
    application = started_application(applicant, PENDING_APPROVAL)
    reviewer = staff("qual@exchange.example", "qualification_reviewer")
    with pytest.raises(TransitionRefused) as refused:
        transition(application, "approve", Actor(reviewer))
    assert "approver role" in refused.value.message
    assert application.state == PENDING_APPROVAL


def decide(application: Application, action: str, reviewer) -> str:
    satisfy_review_guards(application, action, reviewer)
    return transition(application, action, Actor(reviewer))


def test_four_eyes_the_qualifier_cannot_approve_but_another_approver_can(app):
    applicant = make_applicant()
    application = started_application(applicant, QUALIFICATION_REVIEW)
    both = staff("both@exchange.example", "qualification_reviewer", "approver")
    other = staff("approver@exchange.example", "approver")

    decide(application, "qualify", both)
    db.session.commit()
    assert application.state == PENDING_APPROVAL
    assert application.qualified_by_id == both.id

    with pytest.raises(TransitionRefused) as refused:
        decide(application, "approve", both)
    assert "another approver" in refused.value.message
    assert application.state == PENDING_APPROVAL
    assert audit_events(application, "approve") == []

    decide(application, "approve", other)
    db.session.commit()
    assert application.state == APPROVED
    assert len(audit_events(application, "approve")) == 1


def test_four_eyes_holds_after_a_send_back_and_second_qualification(app):
    """Sent back and qualified again by someone else: the new qualifier is the one kept out."""
    applicant = make_applicant()
    application = started_application(applicant, QUALIFICATION_REVIEW)
    first = staff("first@exchange.example", "qualification_reviewer", "approver")
    second = staff("second@exchange.example", "qualification_reviewer", "approver")

    decide(application, "qualify", first)
    decide(application, "send_back", second)
    decide(application, "qualify", second)
    with pytest.raises(TransitionRefused):
        decide(application, "approve", second)
    decide(application, "approve", first)
    db.session.commit()
    assert application.state == APPROVED


def test_applicant_of_another_institution_cannot_submit_or_withdraw(app):
    applicant = make_applicant()
    application = complete_application(applicant)
    agree_to_current_rules(application, applicant)
    db.session.commit()
    stranger = make_applicant("ops@other.example", "Other Trading Ltd")

    for action in ("submit", "withdraw"):
        with pytest.raises(TransitionRefused) as refused:
            transition(application, action, Actor(stranger))
        assert "applying institution" in refused.value.message
        assert application.state == DRAFT
        assert audit_events(application, action) == []
    assert emails_to(APPLICANT_EMAIL) == []
    assert emails_to("ops@other.example") == []


# --- submit guards -----------------------------------------------------------------------------------


def test_submit_refused_while_incomplete(app):
    applicant = make_applicant()
    publish_bundled_rules()
    application = started_application(applicant)
    agree_to_current_rules(application, applicant)
    db.session.commit()

    with pytest.raises(TransitionRefused) as refused:
        transition(application, "submit", Actor(applicant))
    assert "not complete" in refused.value.message
    assert re.search(r"\d+ items? to fix\.", refused.value.message)
    assert application.state == DRAFT
    assert application.submitted_at is None
    assert run_checks_jobs(application) == []


def test_submit_refused_without_agreement_to_the_rules(app):
    applicant = make_applicant()
    application = complete_application(applicant)

    with pytest.raises(TransitionRefused) as refused:
        transition(application, "submit", Actor(applicant))
    assert "API usage rules must be agreed" in refused.value.message
    assert application.state == DRAFT


def test_submit_refused_when_only_an_older_version_was_agreed(app):
    applicant = make_applicant()
    application = complete_application(applicant)
    agree_to_current_rules(application, applicant)
    publish_rules(API_USAGE, "2027-01", "Revised API usage rules. " * 10)
    db.session.commit()

    with pytest.raises(TransitionRefused) as refused:
        transition(application, "submit", Actor(applicant))
    assert "current API usage rules" in refused.value.message
    assert application.state == DRAFT

    agree_to_current_rules(application, applicant)
    transition(application, "submit", Actor(applicant))
    assert application.state == CHECKING
    db.session.commit()


def test_resubmission_after_changes_requested_runs_the_checks_again(app):
    applicant = make_applicant()
    application = complete_application(applicant)
    agree_to_current_rules(application, applicant)
    transition(application, "submit", Actor(applicant))
    transition(application, "checks_done", Actor.system())
    reviewer = staff("docs@exchange.example", "document_reviewer")
    decide(application, "request_changes", reviewer)
    db.session.commit()
    assert application.state == CHANGES_REQUESTED

    transition(application, "submit", Actor(applicant))
    assert application.state == CHECKING
    db.session.commit()
    assert len(run_checks_jobs(application)) == 2
    assert [e.details["from"] for e in audit_events(application, "submit")] == [DRAFT, CHANGES_REQUESTED]
    subjects = [m.subject for m in emails_to(APPLICANT_EMAIL)]
    assert sum("Changes requested" in s for s in subjects) == 1
    assert sum("We received your application" in s for s in subjects) == 2

