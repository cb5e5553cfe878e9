"""Gauges computed from the database when Prometheus scrapes: every process answers the same, because
the figures are the shared state, not counters of the process that happens to answer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ..dashboard.queries import overdue_cases
from ..db import db, utcnow
from ..enforcement.models import UNRESOLVED, Investigation
from ..jobs import DONE, OutboxJob
from ..review.queues import queue_counts
from ..screening.models import PENDING, ScreeningHit


@dataclass(frozen=True)
class WorkState:
    jobs: dict[str, int]
    oldest_job_age: dict[str, float]
    queue_cases: dict[str, int]
    queue_overdue: dict[str, int]
    investigations: dict[str, int]
    investigations_overdue: int
    hits_pending: int


def read_work_state() -> WorkState:
    now = utcnow()
    jobs, oldest = {}, {}
    # Finished jobs stay in the table for the record; count the ones still owed.
    for state, count, first in db.session.execute(
            select(OutboxJob.state, func.count(), func.min(OutboxJob.created_at))
            .where(OutboxJob.state != DONE).group_by(OutboxJob.state)):
        jobs[state] = count
        oldest[state] = max((now - _aware(first)).total_seconds(), 0.0) if first else 0.0
    overdue = overdue_cases(now, limit=1)
    investigations = dict(db.session.execute(
        select(Investigation.status, func.count()).where(Investigation.status.in_(UNRESOLVED))
        .group_by(Investigation.status)).all())
    investigations_overdue = db.session.scalar(
        select(func.count()).select_from(Investigation)
        .where(Investigation.status.in_(UNRESOLVED), Investigation.due_at < now)) or 0
    hits = db.session.scalar(select(func.count()).select_from(ScreeningHit)
                             .where(ScreeningHit.disposition == PENDING)) or 0
    return WorkState(jobs=jobs, oldest_job_age=oldest, queue_cases=queue_counts(),
                     queue_overdue={s.state: s.count for s in overdue.per_state},
                     investigations=investigations, investigations_overdue=investigations_overdue,
                     hits_pending=hits)


def _aware(moment):
    # SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)


class WorkStateCollector(Collector):
    """Yields one scrape's WorkState as gauges (read before the scrape, inside the request)."""

    def __init__(self, state: WorkState) -> None:
        self.state = state

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self.state
        jobs = GaugeMetricFamily("onboarding_jobs", "Background jobs not yet done, by state.", labels=["state"])
        age = GaugeMetricFamily("onboarding_jobs_oldest_age_seconds",
                                "Age of the oldest job not yet done, by state.", labels=["state"])
        for state, count in sorted(s.jobs.items()):
            jobs.add_metric([state], count)
            age.add_metric([state], s.oldest_job_age[state])
        yield jobs
        yield age
        queue = GaugeMetricFamily("onboarding_review_queue_cases", "Applications in each review queue.",
                                  labels=["queue"])
        for code, count in sorted(s.queue_cases.items()):
            queue.add_metric([code], count)
        yield queue
        overdue = GaugeMetricFamily("onboarding_review_overdue_cases",
                                    "Applications past their due date, by review state.", labels=["state"])
        for state, count in sorted(s.queue_overdue.items()):
            overdue.add_metric([state], count)
        yield overdue
        investigations = GaugeMetricFamily("onboarding_investigations", "Unresolved investigations, by status.",
                                           labels=["status"])
        for status in UNRESOLVED:
            investigations.add_metric([status], s.investigations.get(status, 0))
        yield investigations
        yield GaugeMetricFamily("onboarding_investigations_overdue",
                                "Unresolved investigations past their due date.", value=s.investigations_overdue)
        yield GaugeMetricFamily("onboarding_screening_hits_pending",
                                "Sanctions hits waiting for a disposition.", value=s.hits_pending)
