"""Read-only figures for the staff dashboard: applications per state, how long cases stay in each
stage, overdue cases and the decisions taken week by week. Stage times and decisions come from the
audit log, which records every state change with its `from` and `to`."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Float, case, cast, func, select

from ..accounts.models import User
from ..applications.models import (
    APPROVED,
    CHANGES_REQUESTED,
    CHECKING,
    DOCUMENT_REVIEW,
    DRAFT,
    PENDING_APPROVAL,
    QUALIFICATION_REVIEW,
    REJECTED,
    STATE_LABELS,
    WITHDRAWN,
    Application,
)
from ..applications.states import TRANSITIONS
from ..audit.models import AuditEvent
from ..db import db, utcnow
from ..screening.models import OPEN as SIGNAL_OPEN
from ..screening.models import PENDING as HIT_PENDING
from ..screening.models import LinkSignal, ScreeningHit

# The pipeline first, then where cases end up; any state added later is appended.
STATE_ORDER = (CHECKING, DOCUMENT_REVIEW, QUALIFICATION_REVIEW, PENDING_APPROVAL, CHANGES_REQUESTED, APPROVED,
               REJECTED, WITHDRAWN)
REVIEW_STATES = (DOCUMENT_REVIEW, QUALIFICATION_REVIEW, PENDING_APPROVAL)
STAGES = (CHECKING, DOCUMENT_REVIEW, QUALIFICATION_REVIEW, PENDING_APPROVAL)
STAGE_WINDOW_DAYS = 180

# Staff decisions, in the order they are stacked on the weekly chart (the pipeline's order).
DECISIONS = {
    "documents_accepted": "Documents accepted",
    "qualify": "Qualified",
    "approve": "Approved",
    "request_changes": "Changes requested",
    "send_back": "Sent back",
    "reject": "Rejected",
}
DECISION_WEEKS = 12
WEEK_SECONDS = 7 * 24 * 3600


def _action_targets() -> dict[str, set[str]]:
    """The state each state-changing audit action leads to, read from the transition table."""
    targets: dict[str, set[str]] = defaultdict(set)
    for (_, action), rule in TRANSITIONS.items():
        targets[f"application.{action}"].add(rule.target)
    return targets


def _epoch_seconds(column):
    """The time as seconds since 1970, computed by the database: reading tens of thousands of rows
    then builds no datetime object per row."""
    if db.session.get_bind().dialect.name == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    return cast(func.extract("epoch", column), Float)


# ---------------------------------------------------------------------------
# Applications per state.


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    count: int


@dataclass(frozen=True)
class StateCounts:
    states: list[StateCount]  # submitted applications, every state listed (zero included)
    drafts: int  # started, never submitted

    @property
    def submitted(self) -> int:
        return sum(s.count for s in self.states)

    def of(self, state: str) -> int:
        return next((s.count for s in self.states if s.state == state), 0)

    @property
    def in_review(self) -> int:
        return sum(self.of(state) for state in REVIEW_STATES)


def applications_by_state() -> StateCounts:
    counts = dict(db.session.execute(
        select(Application.state, func.count()).where(Application.submitted_at.is_not(None))
        .group_by(Application.state)).all())
    drafts = db.session.scalar(select(func.count()).select_from(Application).where(
        Application.state == DRAFT, Application.submitted_at.is_(None))) or 0
    order = list(STATE_ORDER) + [s for s in STATE_LABELS if s not in STATE_ORDER and s != DRAFT]
    order += [s for s in counts if s not in order]
    return StateCounts(
        states=[StateCount(state, STATE_LABELS.get(state, state), counts.get(state, 0)) for state in order],
        drafts=drafts,
    )


# ---------------------------------------------------------------------------
# Time in each stage.


@dataclass(frozen=True)
class StageTime:
    state: str
    label: str
    median_seconds: float | None  # None when no stay in this stage ended in the window
    stays: int


def stage_times(now: datetime | None = None, days: int = STAGE_WINDOW_DAYS) -> list[StageTime]:
    """Median time between entering a stage and leaving it, over the stays that both began and
    ended in the last `days` days. Cases still in a stage are not counted: their stay is not over.

    One query over the state-change events (three narrow columns, in time order), then one pass in
    Python that remembers, per application, the state it entered last and when. Each action leads to
    one state, so the state comes from the action; the event's `to` is read only for an action that
    could lead to several."""
    now = now or utcnow()
    targets = _action_targets()
    target_of = {action: next(iter(states)) for action, states in targets.items() if len(states) == 1}
    ambiguous = sorted(action for action, states in targets.items() if len(states) > 1)
    columns = [AuditEvent.subject_id, AuditEvent.action, _epoch_seconds(AuditEvent.occurred_at)]
    if ambiguous:
        columns.append(case((AuditEvent.action.in_(ambiguous), AuditEvent.details["to"].as_string())))
    # A Core execute: plain rows, without the ORM's per-row bookkeeping.
    rows = db.session.connection().execute(
        select(*columns)
        .where(
            AuditEvent.action.in_(sorted(targets)),
            AuditEvent.subject_type == "application",
            AuditEvent.occurred_at >= now - timedelta(days=days),
            AuditEvent.occurred_at <= now,
        )
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
        .execution_options(yield_per=5000)
    )
    entered: dict[str, tuple[str, float]] = {}
    durations: dict[str, list[float]] = {state: [] for state in STAGES}
    for row in rows:
        subject_id, action, at = row[0], row[1], row[2]
        previous = entered.get(subject_id)
        if previous is not None and previous[0] in durations:
            durations[previous[0]].append(at - previous[1])
        target = target_of.get(action) or (row[3] if ambiguous else None)
        if target:
            entered[subject_id] = (target, at)
    return [
        # Rounded to the millisecond, which is all the precision SQLite's julianday arithmetic keeps.
        StageTime(state, STATE_LABELS[state],
                  round(statistics.median(durations[state]), 3) if durations[state] else None, len(durations[state]))
        for state in STAGES
    ]


# ---------------------------------------------------------------------------
# Overdue cases.


@dataclass(frozen=True)
class OverdueCase:
    application_id: int
    reference: str | None
    legal_name: str | None
    state: str
    due_at: datetime
    assignee_name: str | None

    @property
    def state_label(self) -> str:
        return STATE_LABELS.get(self.state, self.state)

    def overdue_by(self, now: datetime) -> float:
        return (now - self.due_at).total_seconds()


@dataclass(frozen=True)
class Overdue:
    per_state: list[StateCount]  # each review queue, zero included
    most_overdue: list[OverdueCase]  # the longest overdue first

    @property
    def total(self) -> int:
        return sum(s.count for s in self.per_state)


def overdue_cases(now: datetime | None = None, limit: int = 10) -> Overdue:
    """Cases in a review queue whose due date has passed."""
    now = now or utcnow()
    overdue = (Application.due_at < now) & Application.state.in_(REVIEW_STATES)
    counts = dict(db.session.execute(
        select(Application.state, func.count()).where(overdue).group_by(Application.state)).all())
    rows = db.session.execute(
        select(Application.id, Application.reference, Application.legal_name, Application.state,
               Application.due_at, User.full_name)
        .outerjoin(User, User.id == Application.assignee_id)
        .where(overdue)
        .order_by(Application.due_at, Application.id)
        .limit(limit)
    ).all()
    return Overdue(
        per_state=[StateCount(state, STATE_LABELS[state], counts.get(state, 0)) for state in REVIEW_STATES],
        most_overdue=[OverdueCase(*row) for row in rows],
    )


# ---------------------------------------------------------------------------
# Decisions per week.


@dataclass(frozen=True)
class WeekDecisions:
    start: date  # the Monday (UTC) the week begins
    counts: dict[str, int]  # every decision of DECISIONS, zero included

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def week_start(moment: datetime) -> date:
    """The Monday of the (UTC) week `moment` falls in."""
    day = moment.date()
    return day - timedelta(days=day.weekday())


def decisions_per_week(now: datetime | None = None, weeks: int = DECISION_WEEKS) -> list[WeekDecisions]:
    """Staff decisions on applications in each of the last `weeks` weeks, oldest first; the last
    week is the current one, so far."""
    now = now or utcnow()
    starts = [week_start(now) - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    since = datetime.combine(starts[0], datetime.min.time(), tzinfo=UTC)
    rows = db.session.connection().execute(
        select(AuditEvent.action, _epoch_seconds(AuditEvent.occurred_at)).where(
            AuditEvent.action.in_([f"application.{d}" for d in DECISIONS]),
            AuditEvent.subject_type == "application",
            AuditEvent.occurred_at >= since,
            AuditEvent.occurred_at <= now,
        )
    )
    counts = [dict.fromkeys(DECISIONS, 0) for _ in starts]
    origin = since.timestamp()
    for action, at in rows:
        # Rounded to the millisecond: SQLite's julianday arithmetic is a few microseconds off, and an
        # event at midnight on a Monday belongs to the week it starts.
        week = int((round(at, 3) - origin) // WEEK_SECONDS)
        if 0 <= week < weeks:
            counts[week][action.removeprefix("application.")] += 1
    return [WeekDecisions(start, count) for start, count in zip(starts, counts, strict=True)]


# ---------------------------------------------------------------------------
# Review tasks outside the queues.


def pending_screening_hits() -> int:
    return db.session.scalar(
        select(func.count()).select_from(ScreeningHit).where(ScreeningHit.disposition == HIT_PENDING)) or 0


def open_link_signals() -> int:
    return db.session.scalar(select(func.count()).select_from(LinkSignal).where(LinkSignal.status == SIGNAL_OPEN)) or 0
