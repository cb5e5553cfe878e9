"""The builders produce a submittable application (the other application tests rely on them)."""

from onboarding.applications.completeness import find_problems
from onboarding.applications.models import CHECKING
from onboarding.db import db
from onboarding.jobs import OutboxJob

from .factories import complete_application, make_applicant, submit


def test_complete_application_can_be_submitted(app):
    user = make_applicant()
    application = complete_application(user)
    assert find_problems(application) == []
    submit(application, user)
    assert application.state == CHECKING
    names = [job.name for job in db.session.scalars(db.select(OutboxJob))]
    assert "applications.run_checks" in names
