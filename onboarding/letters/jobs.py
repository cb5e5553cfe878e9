"""The job that issues an approval letter after the approval commits (queued by the approve
transition), so a slow or failing PDF render never holds up or undoes the approval itself."""

from __future__ import annotations

import logging

from ..applications.models import Application
from ..db import db
from ..jobs import job_handler
from .models import Notice
from .notices import issue_notice
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


@job_handler("letters.notice")
def issue_notice_job(notice_id: int) -> None:
    """Safe to run twice: a notice already rendered is left alone."""
    notice = db.session.get(Notice, notice_id)
    if notice is None:
        log.warning("notice %s does not exist", notice_id)
        return
    issue_notice(notice)
