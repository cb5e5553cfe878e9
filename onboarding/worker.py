"""The RQ worker: builds the app once, forks a work horse per job, sweeps the outbox."""

from __future__ import annotations

import logging
import os

from flask import Flask
from rq import Worker

from .db import db
from .jobs import rq_queue, set_worker_app, sweep
from .keys.replay import forget_expired
from .keys.status import expire_due_keys
from .keys.usage import flush_usage
from .screening.runs import schedule_refresh_if_due

log = logging.getLogger(__name__)


class OnboardingWorker(Worker):
    """An RQ worker bound to one Flask app. The parent sweeps the outbox on RQ's maintenance
    tick; each forked horse drops the database connections it inherited."""

    flask_app: Flask

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()
        with self.flask_app.app_context():
            try:
                count = sweep(min_age_seconds=self.flask_app.config["OUTBOX_SWEEP_SECONDS"])
                if count:
                    log.info("outbox sweeper re-dispatched %d job(s)", count)
            except Exception:
                log.exception("outbox sweep failed; will retry on the next tick")
            try:
                housekeep_keys()
            except Exception:
                db.session.rollback()
                log.exception("key housekeeping failed; will retry on the next tick")
            try:
                scheduled = schedule_refresh_if_due()
                if scheduled:
                    log.info("sanctions lists: scheduled refresh of %d list(s) queued", len(scheduled))
            except Exception:
                db.session.rollback()
                log.exception("scheduling the sanctions-list refresh failed; will retry on the next tick")
            finally:
                db.session.remove()
                # Never let the parent keep a pooled connection a horse would inherit.
                db.engine.dispose()

    def main_work_horse(self, job, queue):
        with self.flask_app.app_context():
            db.engine.dispose(close=False)  # inherited sockets belong to the parent
        return super().main_work_horse(job, queue)


def housekeep_keys() -> None:
    """On every maintenance tick: authorize counts and last-used times into the database, keys past their
    expiry marked expired, replay-guard rows past their window dropped. One commit."""
    flushed = flush_usage()
    expired = expire_due_keys()
    forget_expired()
    db.session.commit()
    if flushed or expired:
        log.info("keys: %d decision(s) recorded, %d key(s) expired", flushed, expired)


def run_worker(app: Flask, *, burst: bool = False) -> None:
    queue = rq_queue()
    if queue is None:
        raise SystemExit("REDIS_URL is not set (or JOBS_EAGER=1): jobs run in the web process, no worker needed.")
    set_worker_app(app)
    with app.app_context():
        db.engine.dispose()
    interval = app.config["OUTBOX_SWEEP_SECONDS"]
    # RQ blocks on the queue for worker_ttl - 15 s; a short ttl wakes it once per sweep interval.
    worker = OnboardingWorker(
        [queue], connection=queue.connection, maintenance_interval=interval, worker_ttl=interval + 16
    )
    worker.flask_app = app
    worker.work(burst=burst, logging_level=os.environ.get("WORKER_LOG_LEVEL", "INFO"), with_scheduler=False)
