"""The job that issues an approval letter after the approval commits (queued by the approve
transition), so a slow or failing PDF render never holds up or undoes the approval itself."""

from __future__ import annotations

import logging

from ..applications.models import Application
from ..db import db
from ..jobs import job_handler
from .operations import issue_approval_letter

log = logging.getLogger(__name__)


@job_handler("letters.issue")
def issue_letter(application_id: int, approved_by_id: int) -> None:
    """Safe to run twice: a letter already issued is left alone and nothing is e-mailed again."""
    application = db.session.get(Application, application_id)
    if application is None:
        log.warning("letter not issued: application %s does not exist", application_id)
        return
    issue_approval_letter(application, approved_by_id)
