"""The checks job. Its name keeps the original "applications.run_checks" so rows already in the
outbox of a running installation still find their handler."""

from __future__ import annotations

from ..jobs import job_handler
from .runner import run_application_checks


@job_handler("applications.run_checks")
def run_checks(application_id: int) -> None:
    """Every automated check of DESIGN 4.3 for an application in `checking` (see checks.runner)."""
    run_application_checks(application_id)
