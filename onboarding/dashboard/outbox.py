"""Read-only figures for the admin jobs page: the outbox table (onboarding.jobs) by state and by
job name, failed jobs, jobs that wait or run longer than they should, and what RQ holds in Redis."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import func, select

from ..db import db, utcnow
from ..jobs import DONE, FAILED, PENDING, RUNNING, OutboxJob, redis_connection

JOB_STATES = (PENDING, RUNNING, DONE, FAILED)
JOB_STATE_LABELS = {PENDING: "Waiting", RUNNING: "Running", DONE: "Done", FAILED: "Failed"}
FAILED_PAGE_SIZE = 25
LATE_LIMIT = 50


@dataclass(frozen=True)
class NameCounts:
    name: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class JobCounts:
    by_state: dict[str, int]
    by_name: list[NameCounts]

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


def job_counts() -> JobCounts:
    rows = db.session.execute(
        select(OutboxJob.name, OutboxJob.state, func.count()).group_by(OutboxJob.name, OutboxJob.state)).all()
    by_state = dict.fromkeys(JOB_STATES, 0)
    by_name: dict[str, dict[str, int]] = {}
    for name, state, count in rows:
        by_state[state] = by_state.get(state, 0) + count
        by_name.setdefault(name, dict.fromkeys(JOB_STATES, 0))[state] = count
    return JobCounts(by_state=by_state, by_name=[NameCounts(n, c) for n, c in sorted(by_name.items())])


def failed_jobs(page: int = 1, per_page: int = FAILED_PAGE_SIZE) -> tuple[list[OutboxJob], int]:
    """Failed jobs, most recently given up first, one page of them, and how many there are."""
    total = db.session.scalar(select(func.count()).select_from(OutboxJob).where(OutboxJob.state == FAILED)) or 0
    rows = db.session.scalars(
        select(OutboxJob).where(OutboxJob.state == FAILED)
        .order_by(OutboxJob.finished_at.desc(), OutboxJob.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
    ).all()
    return list(rows), total


def waiting_grace() -> timedelta:
    """How long a due job may wait before it counts as late: two sweeper rounds, at least a minute."""
    return timedelta(seconds=max(60, 2 * current_app.config["OUTBOX_SWEEP_SECONDS"]))


@dataclass(frozen=True)
class LateJob:
    job: OutboxJob
    reason: str  # "lease_expired" or "waiting"
    since: datetime  # when the lease ran out, or when the job became due


def late_jobs(now: datetime | None = None, limit: int = LATE_LIMIT) -> list[LateJob]:
    """Running jobs whose lease ran out (their worker died or hangs), and due jobs that nobody
    picked up within the grace period (Redis down, no worker, or the sweeper not running)."""
    now = now or utcnow()
    abandoned = db.session.scalars(
        select(OutboxJob).where(OutboxJob.state == RUNNING, OutboxJob.lease_until < now)
        .order_by(OutboxJob.lease_until).limit(limit)
    ).all()
    waiting = db.session.scalars(
        select(OutboxJob).where(OutboxJob.state == PENDING, OutboxJob.run_after < now - waiting_grace())
        .order_by(OutboxJob.run_after).limit(limit)
    ).all()
    late = [LateJob(job, "lease_expired", job.lease_until) for job in abandoned]
    late += [LateJob(job, "waiting", job.run_after) for job in waiting]
    return sorted(late, key=lambda item: item.since)[:limit]


def args_summary(args: dict[str, Any] | None, limit: int = 80) -> str:
    """Job arguments on one line: `application_id=12, round=2`, shortened to `limit` characters."""
    text = ", ".join(f"{key}={value}" for key, value in sorted((args or {}).items()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------
# RQ, when jobs go through Redis.


@dataclass(frozen=True)
class QueueInfo:
    name: str
    waiting: int
    started: int
    failed: int
    scheduled: int


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    hostname: str | None
    pid: int | None
    state: str
    queues: list[str]
    current_job: str | None
    last_heartbeat: datetime | None
    successful: int
    failed: int


@dataclass(frozen=True)
class RqStatus:
    mode: str  # "eager" (no Redis configured), "unreachable" or "ok"
    redis_url: str = ""
    problem: str | None = None
    queues: list[QueueInfo] = field(default_factory=list)
    workers: list[WorkerInfo] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(q.failed for q in self.queues)


def _safe_url(url: str) -> str:
    """The Redis URL without a password, fit to show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _state_name(state: Any) -> str:
    return str(getattr(state, "value", state))


def rq_status() -> RqStatus:
    """Queue lengths, workers and RQ's failed-job registry; never raises for a Redis that is down."""
    config = current_app.config
    if not config.get("REDIS_URL") or config.get("JOBS_EAGER"):
        return RqStatus(mode="eager")
    url = _safe_url(config["REDIS_URL"])
    try:
        connection = redis_connection()
        connection.ping()
        names = {config["RQ_QUEUE"], *(q.name for q in Queue.all(connection=connection))}
        queues = []
        for name in sorted(names):
            queue = Queue(name, connection=connection)
            queues.append(QueueInfo(
                name=name, waiting=queue.count, started=StartedJobRegistry(queue=queue).count,
                failed=FailedJobRegistry(queue=queue).count, scheduled=ScheduledJobRegistry(queue=queue).count,
            ))
        workers = [
            WorkerInfo(
                name=worker.name, hostname=worker.hostname, pid=worker.pid, state=_state_name(worker.get_state()),
                queues=worker.queue_names(), current_job=worker.get_current_job_id(),
                last_heartbeat=worker.last_heartbeat, successful=worker.successful_job_count,
                failed=worker.failed_job_count,
            )
            for worker in sorted(Worker.all(connection=connection), key=lambda w: w.name)
        ]
    except (RedisError, OSError) as exc:
        return RqStatus(mode="unreachable", redis_url=url, problem=f"{type(exc).__name__}: {exc}"[:300])
    return RqStatus(mode="ok", redis_url=url, queues=queues, workers=workers)
