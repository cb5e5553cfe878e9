"""The worker outlives Redis going away. A real worker process runs against a real Redis; Redis is stopped
under it, e-mails are written to the outbox while it is down (the request cannot push them), Redis comes
back on the same port, empty, and the e-mails are sent by the same worker process, with no restart."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from onboarding.db import db
from onboarding.jobs import DONE, OutboxJob
from onboarding.notifications.models import EmailMessage
from onboarding.notifications.operations import queue_email

from .conftest import WorkerProcess, wait_until


@pytest.fixture
def queued_app(make_app, own_redis):
    app = make_app(REDIS_URL=own_redis.url, JOBS_EAGER=False)
    with app.app_context():
        yield app
        db.session.remove()


def sent(email_id: int) -> bool:
    db.session.rollback()
    return db.session.get(EmailMessage, email_id).sent_at is not None


def queue_one(to: str) -> int:
    message = queue_email(to, "reset_password", "Reset your password", name="Morgan", link="http://x/", minutes=60)
    db.session.commit()
    return message.id


def test_the_worker_sends_what_was_queued_while_redis_was_down(queued_app, migrated, own_redis):
    worker = WorkerProcess(migrated, own_redis.url, {"MAIL_BACKEND": "console"})
    worker.start()
    try:
        before = queue_one("before@northwind.example")
        wait_until(lambda: sent(before), timeout=30, message="the worker to send the first e-mail")

        own_redis.stop()
        time.sleep(4)  # two sweep ticks and heartbeats against a dead Redis: today's worker quits here
        during = [queue_one(f"during{i}@northwind.example") for i in range(3)]
        assert not any(sent(i) for i in during)
        assert worker.process.poll() is None, f"the worker quit:\n{worker.output()[-3000:]}"

        own_redis.start()  # same port, empty: the queued RQ jobs and the worker's registration are gone
        wait_until(lambda: all(sent(i) for i in during), timeout=60,
                   message=f"the e-mails written while Redis was down to be sent\n{worker.output()[-3000:]}")
        assert worker.process.poll() is None
        jobs = db.session.scalars(select(OutboxJob).where(OutboxJob.name == "notifications.deliver_email")).all()
        assert {job.state for job in jobs} == {DONE}
        assert "unhandled exception" not in worker.output()
    finally:
        worker.stop()


def test_the_worker_starts_while_redis_is_down_and_works_once_it_is_up(queued_app, migrated, own_redis):
    # Today RQ's worker names itself on the connection when it is made, and the process exits at once.
    own_redis.stop()
    worker = WorkerProcess(migrated, own_redis.url, {"MAIL_BACKEND": "console"})
    worker.start()
    try:
        email_id = queue_one("early@northwind.example")
        wait_until(lambda: worker.process.poll() is not None or "Redis" in worker.output(), timeout=60,
                   message="the worker to meet the missing Redis")
        time.sleep(2)
        assert worker.process.poll() is None, f"the worker quit:\n{worker.output()[-3000:]}"
        own_redis.start()
        wait_until(lambda: sent(email_id), timeout=60,
                   message=f"the e-mail to be sent\n{worker.output()[-3000:]}")
    finally:
        worker.stop()


def test_a_stopped_worker_stops_even_while_redis_is_down(queued_app, migrated, own_redis):
    worker = WorkerProcess(migrated, own_redis.url, {"MAIL_BACKEND": "console"})
    worker.start()
    time.sleep(3)
    own_redis.stop()
    time.sleep(2)
    worker.process.terminate()
    assert worker.process.wait(20) is not None, "SIGTERM ends the worker; it is not restarted by itself"


def test_redis_going_away_in_the_middle_of_a_job(queued_app, migrated, own_redis, tmp_path):
    """The case that made the worker quit: Redis leaves while a job runs, so RQ's bookkeeping after the job
    fails outside its retry loop. The job finishes, the worker waits, and later work still gets done."""
    from flask import current_app

    from onboarding.applications.models import DOCUMENT_REVIEW, Application

    from .factories import complete_application, make_applicant, submit

    documents = str(tmp_path / "documents")
    current_app.config["DOCUMENTS_DIR"] = documents
    user = make_applicant()
    application = complete_application(user)
    worker = WorkerProcess(migrated, own_redis.url, {"MAIL_BACKEND": "console", "CHECKS_PAUSE_SECONDS": "0.5",
                                                     "DOCUMENTS_DIR": documents})
    worker.start()
    try:
        submit(application, user)  # the checks job: several seconds with the pause between documents
        time.sleep(2)
        own_redis.stop()
        time.sleep(6)
        assert worker.process.poll() is None, f"the worker quit:\n{worker.output()[-3000:]}"
        own_redis.start()

        def reviewed():
            db.session.rollback()
            return db.session.get(Application, application.id).state == DOCUMENT_REVIEW

        wait_until(reviewed, timeout=90, message=f"the checks to finish\n{worker.output()[-3000:]}")
        later = queue_one("later@northwind.example")
        wait_until(lambda: sent(later), timeout=60, message=f"a later e-mail\n{worker.output()[-3000:]}")
        assert worker.process.poll() is None
    finally:
        worker.stop()
