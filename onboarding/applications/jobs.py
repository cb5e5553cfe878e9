"""Jobs about applications."""

from __future__ import annotations

import logging

from ..db import db
from ..jobs import job_handler
from .models import CHECKING, Application

log = logging.getLogger(__name__)


@job_handler("applications.run_checks")
def run_checks(application_id: int) -> None:
    """Entry point of the automated checks (DESIGN 4.3) for an application in `checking`.

    The checks themselves (documents, sanctions, linked applicants, risk score) are built in their
    own issue; until then the application waits in `checking` and this job only confirms it is
    there, so the outbox, the worker and the hand-over are exercised end to end."""
    application = db.session.get(Application, application_id)
    if application is None or application.state != CHECKING:
        return
    log.info("checks requested for application %s (%s)", application.reference, application_id)
