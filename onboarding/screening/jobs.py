"""Jobs about screening."""

from __future__ import annotations

from ..jobs import job_handler
from .runs import rescreen_for_import, run_import


@job_handler("screening.rescreen_all")
def rescreen_all(snapshot_id: int | None = None, import_id: int | None = None) -> None:
    """After a list import: re-screen every monitored institution (DESIGN 4.4 ongoing monitoring), with
    its progress and new hits recorded on the import's run when there is one."""
    rescreen_for_import(import_id)


@job_handler("screening.import_list")
def import_list(import_id: int) -> None:
    """An import asked for on the sanctions-lists page or by the scheduled refresh."""
    run_import(import_id)
