"""The staff dashboard's figures and charts, put together for the page (home.staff)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..db import utcnow
from .charts import Datum, duration_label, horizontal_bars, stacked_columns
from .queries import (
    DECISION_WEEKS,
    DECISIONS,
    STAGE_WINDOW_DAYS,
    applications_by_state,
    decisions_per_week,
    open_link_signals,
    overdue_cases,
    pending_screening_hits,
    stage_times,
)


def week_label(day) -> str:
    return f"{day.day} {day:%b}"


def staff_overview(now: datetime | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, as template variables."""
    now = now or utcnow()
    states = applications_by_state()
    stages = stage_times(now)
    weeks = decisions_per_week(now)
    return {
        "now": now,
        "states": states,
        "state_chart": horizontal_bars([Datum(s.state, s.label, s.count) for s in states.states]),
        "stages": stages,
        "stage_chart": horizontal_bars([
            Datum(s.state, s.label, s.median_seconds or 0,
                  duration_label(s.median_seconds) if s.median_seconds is not None else "none yet")
            for s in stages
        ]),
        "stage_window_days": STAGE_WINDOW_DAYS,
        "overdue": overdue_cases(now),
        "weeks": weeks,
        "decision_chart": stacked_columns(
            [(week_label(w.start), [w.counts[d] for d in DECISIONS]) for w in weeks], list(DECISIONS)),
        "decision_titles": [f"Week of {w.start.day} {w.start:%b %Y}" for w in weeks],
        "decision_labels": DECISIONS,
        "decision_weeks": DECISION_WEEKS,
        "pending_hits": pending_screening_hits(),
        "open_signals": open_link_signals(),
        "duration_label": duration_label,
    }
