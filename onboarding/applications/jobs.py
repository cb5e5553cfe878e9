"""Jobs about applications."""

from __future__ import annotations

from ..jobs import job_handler


@job_handler("applications.run_checks")
def run_checks(application_id: int) -> None:
    """Every automated check of DESIGN 4.3 for an application in `checking` (see checks.runner)."""
    from ..checks.runner import run_application_checks

    run_application_checks(application_id)
