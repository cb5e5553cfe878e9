"""The RQ worker: builds the app once, forks a work horse per job, sweeps the outbox. It outlives Redis
going away: it waits for Redis with backoff, registers again when Redis comes back empty, and the outbox
sweeper then pushes whatever was written to the database meanwhile."""

from __future__ import annotations

import logging
import os
import signal
import time

from flask import Flask
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Worker

from .db import db
from .jobs import rq_queue, set_worker_app, sweep
from .keys.replay import forget_expired
from .keys.status import expire_due_keys
from .keys.usage import flush_usage
from .screening.runs import schedule_refresh_if_due
from .templating import plural

log = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)
# Waiting for Redis: 0.5 s, 1 s, 2 s ... at most this long between two tries, so jobs resume within
# seconds of Redis returning.
MAX_BACKOFF_SECONDS = 10.0


class OnboardingWorker(Worker):
    """An RQ worker bound to one Flask app. The parent sweeps the outbox on RQ's maintenance
    tick; each forked horse drops the database connections it inherited.

    RQ retries a lost connection only while it waits for a job; anywhere else in its loop (heartbeat,
    suspension check, registry cleaning) a Redis error ends the worker ("found an unhandled exception,
    quitting..."). Those calls are made to wait for Redis instead."""

    flask_app: Flask
    max_connection_wait_time = MAX_BACKOFF_SECONDS  # RQ's own retry while dequeueing: 1, 2, 4 ... 10 s
    _redis_lost = False

    def heartbeat(self, timeout=None, pipeline=None):
        try:
            super().heartbeat(timeout, pipeline)
        except REDIS_DOWN as error:
            # The dequeue that follows meets the same error and backs off (RQ's retry loop).
            self._note_redis_lost(error)
            return
        if self._redis_lost and pipeline is None and not self.is_horse:
            self._register_again()

    def check_for_suspension(self, burst: bool):
        try:
            super().check_for_suspension(burst)
        except REDIS_DOWN as error:
            self._note_redis_lost(error)
            self.wait_for_redis()

    def wait_for_redis(self) -> None:
        """Block, trying again with backoff, until Redis answers or a stop is requested."""
        delay = 0.5
        while not self._stop_requested:
            time.sleep(delay)
            try:
                self.connection.ping()
            except REDIS_DOWN as error:
                log.warning("Redis is still unreachable (%s); next try in %.1f s", error, delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
                continue
            self._register_again()
            return

    def _note_redis_lost(self, error: Exception) -> None:
        if not self._redis_lost:
            log.warning("lost the connection to Redis (%s); waiting for it to come back", error)
        self._redis_lost = True

    def _register_again(self) -> None:
        """Redis is back. A restarted Redis may have lost the worker's registration (the dashboard lists
        workers from it): register afresh."""
        try:
            self.connection.delete(self.key)
            self.register_birth()
        except REDIS_DOWN as error:
            self._note_redis_lost(error)
            return
        self._redis_lost = False
        log.warning("Redis is reachable again; back to work")

    def run_maintenance_tasks(self):
        try:
            super().run_maintenance_tasks()  # RQ's registry cleaning, which needs Redis
        except REDIS_DOWN as error:
            self._note_redis_lost(error)
        with self.flask_app.app_context():
            try:
                count = sweep(min_age_seconds=self.flask_app.config["OUTBOX_SWEEP_SECONDS"])
                if count:
                    log.info("outbox sweeper re-dispatched %s", plural(count, "job"))
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
                    log.info("sanctions lists: scheduled refresh of %s queued", plural(len(scheduled), "list"))
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
        log.info("keys: %s recorded, %s expired", plural(flushed, "decision"), plural(expired, "key"))


def run_worker(app: Flask, *, burst: bool = False) -> None:
    queue = rq_queue()
    if queue is None:
        raise SystemExit("REDIS_URL is not set (or JOBS_EAGER=1): jobs run in the web process, no worker needed.")
    set_worker_app(app)
    with app.app_context():
        db.engine.dispose()
    interval = app.config["OUTBOX_SWEEP_SECONDS"]
    level = os.environ.get("WORKER_LOG_LEVEL", "INFO")
    # A worker that still ends without being asked to (an error this module does not foresee) is replaced
    # here; scripts/run.sh also restarts the process if it dies.
    delay = 0.5
    while True:
        worker = None
        try:
            # RQ blocks on the queue for worker_ttl - 15 s; a short ttl wakes it once per sweep interval.
            worker = OnboardingWorker(
                [queue], connection=queue.connection, maintenance_interval=interval, worker_ttl=interval + 16
            )  # names itself on the Redis connection: fails while Redis is down
            worker.flask_app = app
            worker.work(burst=burst, logging_level=level, with_scheduler=False)
        except REDIS_DOWN as error:  # from RQ's start-up, or its teardown while Redis is away
            if worker is not None and _asked_to_stop(worker):
                return
            log.warning("worker stopped by a Redis error (%s); starting again in %.1f s", error, delay)
        else:
            if burst or _asked_to_stop(worker):
                return
            log.warning("worker ended unexpectedly; starting again in %.1f s", delay)
        # The ended worker's signal handlers need its Redis; until the next one starts, a signal just ends us.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        time.sleep(delay)
        delay = min(delay * 2, MAX_BACKOFF_SECONDS)


def _asked_to_stop(worker: Worker) -> bool:
    """SIGTERM or SIGINT (RQ's warm shutdown) was received: the worker ends for good."""
    return bool(worker._stop_requested or getattr(worker, "_shutdown_requested_date", None))
