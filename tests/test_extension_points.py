"""The lower parts' extension points fail closed: a staff transition nobody registered guards for is
refused, a step without a completeness checker answers no completeness question, and the effects review
registers run on the transitions they name."""

from __future__ import annotations

import pytest

from onboarding import register_part_rules
from onboarding.applications import completeness, states
from onboarding.applications.models import PENDING_APPROVAL, Application
from onboarding.applications.states import Actor, TransitionRefused, transition
from onboarding.db import db

from .factories import complete_application, make_applicant
from .test_application_states import satisfy_review_guards, staff


@pytest.fixture
def without_registrations(monkeypatch):
    """The tables as they would be if no part had registered anything."""
    monkeypatch.setattr(states, "_registered_guards", {})
    monkeypatch.setattr(states, "_effects", {})
    checkers = {step: c for step, c in completeness._checkers.items() if step != "documents"}
    monkeypatch.setattr(completeness, "_checkers", checkers)


def pending_approval_case() -> tuple[Application, Actor]:
    applicant = make_applicant()
    application = complete_application(applicant)
    application.state = PENDING_APPROVAL
    application.submitted_at = application.state_changed_at
    approver = staff("avery@exchange.example", "approver")
    satisfy_review_guards(application, "approve", approver)
    return application, Actor(approver)


def test_a_registered_staff_transition_goes_through(app):
    application, approver = pending_approval_case()
    assert transition(application, "approve", approver) == "approved"


def test_a_staff_transition_without_registered_guards_is_refused(app, without_registrations):
    application, approver = pending_approval_case()
    with pytest.raises(TransitionRefused, match="review rules are not configured"):
        transition(application, "approve", approver)
    db.session.rollback()
    assert db.session.get(Application, application.id).state == PENDING_APPROVAL


def test_a_step_without_a_completeness_checker_answers_nothing(app, without_registrations):
    application = complete_application(make_applicant())
    with pytest.raises(RuntimeError, match="No completeness checker is registered for the 'documents' step"):
        completeness.find_problems(application)
    with pytest.raises(RuntimeError, match="documents"):
        completeness.step_status(application)


def test_registering_twice_keeps_one_entry(app):
    effects, guards = dict(states._effects), dict(states._registered_guards)
    register_part_rules()  # what every further app build in the same process does
    assert states._effects == effects and states._registered_guards == guards
