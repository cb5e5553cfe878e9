"""Transactional job outbox on top of RQ.

`request_job()` writes an `outbox_jobs` row in the caller's transaction. Only after that
transaction commits is the row pushed to RQ (or, without Redis, run in-process). A row
left behind (Redis down, process killed) is pushed again by the sweeper. A row is
claimed with a lease before it runs and marked done after, so a job pushed twice or
re-run after a crash takes effect once.
"""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import BigInteger, Integer, String, Text, event, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from .audit.operations import acting_as_system
from .db import JSONDocument, db, utcnow

log = logging.getLogger(__name__)

# Modules whose import registers job handlers; the worker imports them all.
JOB_MODULES = (
    "onboarding.notifications.jobs",
    "onboarding.checks.jobs",
    "onboarding.documents.jobs",
    "onboarding.screening.jobs",
    "onboarding.letters.jobs",
    "onboarding.accounts.jobs",
)

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"

_handlers: dict[str, Callable[..., Any]] = {}


def job_handler(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as the handler of outbox jobs called `name`. Handlers take ids,
    load fresh state, are safe to run twice and leave the commit to the runner."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        _handlers[name] = func
        return func

    return decorator


def handler_for(name: str) -> Callable[..., Any]:
    if name not in _handlers:
        for module in JOB_MODULES:
            importlib.import_module(module)
    return _handlers[name]


class OutboxJob(db.Model):
    __tablename__ = "outbox_jobs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    args: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    state: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


def request_job(name: str, **args: Any) -> OutboxJob:
    """Ask for a job inside the current transaction; it is dispatched only if that commits."""
    handler_for(name)  # fail now, in the caller, on an unknown job name
    job = OutboxJob(name=name, args=args)
    db.session.add(job)
    db.session.flush()
    db.session.info.setdefault("outbox_new", []).append(job.id)
    return job


# ---------------------------------------------------------------------------
# Dispatch after commit.


# SQLAlchemy sends after_commit / after_rollback for a SAVEPOINT too (`begin_nested()`, e.g. the
# violations intake guarding its unique reference): releasing a savepoint commits nothing, so jobs wait
# for the outermost transaction. Dispatching them at the release ran them before their rows (and the
# data they read) were committed: the runner found nothing to claim and the jobs stayed pending.


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    ids = session.info.pop("outbox_new", None)
    if ids:
        dispatch(ids)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    # A savepoint rolled back keeps the outer transaction's jobs; one asked for inside it has no row
    # once the transaction commits, and the runner skips an id it cannot claim.
    if session.in_nested_transaction():
        return
    session.info.pop("outbox_new", None)


def redis_connection():
    """The shared Redis client for jobs, or None when jobs run in-process."""
    if current_app.config.get("JOBS_EAGER"):
        return None
    return shared_redis()


def shared_redis():
    """The Redis client whenever REDIS_URL is set (jobs may still run in-process): what every process
    shares, such as the replay guard and usage counters. None without Redis."""
    app = current_app
    if not app.config.get("REDIS_URL"):
        return None
    conn = app.extensions.get("redis")
    if conn is None:
        # setdefault is atomic: threads racing here share one client (usage counts are tallied per client).
        conn = app.extensions.setdefault(
            "redis", Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5))
    return conn


def rq_queue():
    conn = redis_connection()
    if conn is None:
        return None
    return Queue(current_app.config["RQ_QUEUE"], connection=conn)


def _rq_job_id(outbox_id: int) -> str:
    return f"outbox-{outbox_id}"


def dispatch(ids: list[int]) -> int:
    """Push committed rows to RQ, or run them here when there is no Redis. Returns how many
    were handed over. Failures are logged, never raised: the row stays for the sweeper."""
    queue = rq_queue()
    if queue is None:
        app = current_app._get_current_object()
        for outbox_id in ids:
            # A fresh application context gives the job its own session and transaction.
            with app.app_context():
                try:
                    run_outbox_job(outbox_id)
                except Exception:  # already recorded on the row, which the sweeper retries
                    log.warning("in-process job %s failed; it stays in the outbox for a retry", outbox_id)
        return len(ids)
    pushed = 0
    for outbox_id in ids:
        try:
            queue.enqueue(
                "onboarding.jobs.run_outbox_job",
                outbox_id,
                job_id=_rq_job_id(outbox_id),
                job_timeout=current_app.config["OUTBOX_LEASE_SECONDS"],  # the row lease is as long
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
            pushed += 1
        except Exception as exc:  # Redis down: the sweeper will push it later.
            log.warning("outbox job %s not pushed to Redis (%s); the sweeper will retry", outbox_id, exc)
    return pushed


def sweep(min_age_seconds: int = 0) -> int:
    """Re-dispatch rows that are due and not already waiting in RQ: never pushed, due for a
    retry, or abandoned by a worker that died (lease expired). Returns how many were handed over."""
    now = utcnow()
    waiting = db.session.scalars(
        select(OutboxJob.id)
        .where(OutboxJob.state == PENDING, OutboxJob.run_after <= now - timedelta(seconds=min_age_seconds))
        .order_by(OutboxJob.id).limit(10_000)
    ).all()
    # A worker killed mid-job leaves its row running; once the lease is over, it runs again
    # whatever RQ still believes about the dead worker's job.
    abandoned = db.session.scalars(
        select(OutboxJob.id).where(OutboxJob.state == RUNNING, OutboxJob.lease_until < now)
        .order_by(OutboxJob.id).limit(10_000)
    ).all()
    db.session.rollback()  # end the read transaction before jobs run in their own
    if not waiting and not abandoned:
        return 0
    queue = rq_queue()
    if queue is not None and waiting:
        in_rq = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
        try:
            statuses = Job.fetch_many([_rq_job_id(i) for i in waiting], connection=queue.connection)
        except Exception as exc:
            log.warning("sweeper cannot reach Redis (%s); will retry", exc)
            return 0
        waiting = [
            outbox_id for outbox_id, rq_job in zip(waiting, statuses, strict=True)
            if rq_job is None or rq_job.get_status(refresh=False) not in in_rq
        ]
    due = sorted(set(waiting) | set(abandoned))
    return dispatch(due)


# ---------------------------------------------------------------------------
# Running a job.


def _claim(outbox_id: int, lease_seconds: int) -> bool:
    """Atomically take the row: pending and due, or running with an expired lease."""
    now = utcnow()
    result = db.session.execute(
        update(OutboxJob)
        .where(
            OutboxJob.id == outbox_id,
            or_(
                (OutboxJob.state == PENDING) & (OutboxJob.run_after <= now),
                (OutboxJob.state == RUNNING) & (OutboxJob.lease_until < now),
            ),
        )
        .values(state=RUNNING, lease_until=now + timedelta(seconds=lease_seconds), attempts=OutboxJob.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def backoff_seconds(attempts: int) -> int:
    """Exponential backoff for transient failures: 10 s, 20 s, 40 s ... capped at one hour."""
    return min(10 * 2 ** max(attempts - 1, 0), 3600)


def run_outbox_job(outbox_id: int) -> str:
    """RQ entry point (also used in-process). Returns what happened, for the RQ result."""
    if _has_app():
        return _run(outbox_id)
    with _app_for_job().app_context():
        return _run(outbox_id)


def _run(outbox_id: int) -> str:
    config = current_app.config
    try:
        if not _claim(outbox_id, config["OUTBOX_LEASE_SECONDS"]):
            return "skipped: already done, running elsewhere or not due"
        job = db.session.get(OutboxJob, outbox_id)
        handler = handler_for(job.name)
        args = dict(job.args)
        with acting_as_system():
            handler(**args)
        job = db.session.get(OutboxJob, outbox_id)
        job.state, job.finished_at, job.lease_until, job.last_error = DONE, utcnow(), None, None
        db.session.commit()
        return "done"
    except Exception as exc:
        db.session.rollback()
        job = db.session.get(OutboxJob, outbox_id)
        if job is None:
            raise
        job.last_error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:4000]
        job.lease_until = None
        if job.attempts >= config["OUTBOX_MAX_ATTEMPTS"]:
            job.state = FAILED
            job.finished_at = utcnow()
        else:
            job.state = PENDING
            job.run_after = utcnow() + timedelta(seconds=backoff_seconds(job.attempts))
        db.session.commit()
        log.exception("outbox job %s (%s) failed on attempt %s", outbox_id, job.name, job.attempts)
        raise


# ---------------------------------------------------------------------------
# The application a job runs in: the worker builds it once; anything else builds on demand.

_worker_app: Flask | None = None


def set_worker_app(app: Flask) -> None:
    global _worker_app
    _worker_app = app


def _has_app() -> bool:
    return has_app_context()


def _app_for_job() -> Flask:
    if _worker_app is None:
        # RQ runs this in a horse forked from `flask --app app worker`, which set the app once.
        raise RuntimeError("No application to run this job in: start workers with `flask --app app worker`.")
    return _worker_app
