"""The builders produce a submittable application (the other application tests rely on them)."""

from onboarding.applications.completeness import find_problems
from onboarding.applications.models import CHECKING, DOCUMENT_REVIEW
from onboarding.audit.models import AuditEvent
from onboarding.db import db
from onboarding.jobs import OutboxJob

from .factories import complete_application, make_applicant, submit


def test_complete_application_can_be_submitted(app):
    user = make_applicant()
    application = complete_application(user)
    assert find_problems(application) == []
    submit(application, user)
    names = [job.name for job in db.session.scalars(db.select(OutboxJob))]
    assert "applications.run_checks" in names
    # Jobs run in-process in the tests: the checks ran at once and moved the application on.
    moves = [(e.details["from"], e.details["to"]) for e in db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action.in_(["application.submit", "application.checks_done"]))
        .order_by(AuditEvent.id))]
    assert moves == [("draft", CHECKING), (CHECKING, DOCUMENT_REVIEW)]
