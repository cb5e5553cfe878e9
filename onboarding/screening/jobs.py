"""Jobs about screening."""

from __future__ import annotations

from ..jobs import job_handler
from . import screen


@job_handler("screening.rescreen_all")
def rescreen_all(snapshot_id: int | None = None) -> None:
    """After a list import: re-screen every monitored institution (DESIGN 4.4 ongoing monitoring)."""
    screen.rescreen_all()
