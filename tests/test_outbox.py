"""The transactional outbox on a real Redis with a real RQ worker process, delivering e-mail to a
real SMTP server (aiosmtpd)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from onboarding.db import db, utcnow
from onboarding.jobs import DONE, FAILED, PENDING, OutboxJob, dispatch, run_outbox_job, sweep
from onboarding.notifications.models import EmailMessage
from onboarding.notifications.operations import queue_email

from .conftest import Inbox, WorkerProcess, wait_until
from .services import free_port


@pytest.fixture
def queued_app(make_app, redis_server, smtp_server):
    """An app whose jobs go through Redis (not in-process) and whose mail goes over SMTP."""
    app = make_app(
        REDIS_URL=redis_server.url, JOBS_EAGER=False, MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp_server.port,
    )
    redis_server_flush(app)
    with app.app_context():
        yield app
        db.session.remove()


def redis_server_flush(app):
    with app.app_context():
        from onboarding.jobs import redis_connection

        redis_connection().flushdb()


@pytest.fixture
def worker(migrated, redis_server, smtp_server):
    process = WorkerProcess(
        migrated, redis_server.url,
        {"MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port)},
    )
    yield process
    process.stop()


def subjects(inbox: Inbox) -> list[str]:
    return [m["Subject"] for m in inbox.messages]


def test_a_job_asked_for_in_a_rolled_back_transaction_never_runs(queued_app, worker, smtp_server):
    queue_email("ghost@example.com", "verify_email", "Rolled back", name="Ghost", link="http://x/1", hours=1)
    db.session.rollback()
    queue_email("real@example.com", "verify_email", "Committed", name="Real", link="http://x/2", hours=1)
    db.session.commit()

    worker.start()
    wait_until(lambda: smtp_server.messages, message="the committed e-mail to arrive")
    # Give the worker time to (wrongly) run anything else, then sweep: still nothing else.
    assert sweep() == 0
    assert subjects(smtp_server) == ["Committed"]
    assert db.session.scalar(select(func.count()).select_from(OutboxJob)) == 1
    assert db.session.scalar(select(func.count()).select_from(EmailMessage)) == 1


def test_a_job_asked_for_while_redis_is_down_runs_after_redis_returns_and_the_sweeper_runs(
    queued_app, worker, redis_server, smtp_server
):
    redis_server.stop()
    message = queue_email("later@example.com", "verify_email", "Sent later", name="L", link="http://x/3", hours=1)
    message_id = message.id
    db.session.commit()  # the push to Redis fails after commit; the row stays behind
    job = db.session.scalar(select(OutboxJob))
    job_id = job.id
    assert job.state == PENDING

    redis_server.start()
    worker.start()
    assert sweep() == 1
    wait_until(lambda: smtp_server.messages, message="the e-mail to arrive after the sweep")
    assert subjects(smtp_server) == ["Sent later"]

    def recorded_as_done():
        # The worker commits after the SMTP conversation ends: wait for that commit, too.
        db.session.rollback()
        return db.session.get(OutboxJob, job_id).state == DONE

    wait_until(recorded_as_done, message="the worker to record the delivery")
    assert db.session.get(EmailMessage, message_id).sent_at is not None


def test_the_worker_sweeps_by_itself(queued_app, worker, redis_server, smtp_server):
    redis_server.stop()
    queue_email("auto@example.com", "verify_email", "Swept by the worker", name="A", link="http://x/4", hours=1)
    db.session.commit()
    redis_server.start()
    worker.start()  # sweeps every 2 s in the tests (OUTBOX_SWEEP_SECONDS)
    wait_until(lambda: smtp_server.messages, timeout=30, message="the worker's own sweeper")
    assert subjects(smtp_server) == ["Swept by the worker"]


def test_a_job_that_runs_twice_leaves_one_result(queued_app, worker, smtp_server):
    message = queue_email("twice@example.com", "verify_email", "Only once", name="T", link="http://x/5", hours=1)
    db.session.commit()
    job_id = db.session.scalar(select(OutboxJob.id))
    dispatch([job_id])  # pushed a second time, as a sweeper racing the first push would
    worker.start()
    wait_until(lambda: db.session.scalar(select(OutboxJob.state).where(OutboxJob.id == job_id)) == DONE,
               message="the job to finish")
    db.session.rollback()
    # And once more, by hand, after it is done.
    assert run_outbox_job(job_id).startswith("skipped")
    wait_until(lambda: len(smtp_server.messages) >= 1)
    time.sleep(1.0)  # room for a wrong second delivery to show up
    assert subjects(smtp_server) == ["Only once"]
    db.session.expire_all()
    assert db.session.get(EmailMessage, message.id).sent_at is not None


def test_a_failing_job_is_retried_with_backoff(make_app, smtp_server):
    # In-process mode, SMTP pointing at a closed port: delivery fails and is scheduled for later.
    app = make_app(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_TIMEOUT=2)
    with app.app_context():
        queue_email("retry@example.com", "verify_email", "Retried", name="R", link="http://x/6", hours=1)
        db.session.commit()
        job = db.session.scalar(select(OutboxJob))
        assert job.state == PENDING and job.attempts == 1
        assert "Connection refused" in job.last_error or "Errno" in job.last_error
        assert job.run_after > utcnow() + timedelta(seconds=5)
        assert sweep() == 0  # not due yet

        app.config["SMTP_PORT"] = smtp_server.port  # the mail server is back
        db.session.execute(update(OutboxJob).values(run_after=utcnow()))  # and the backoff has passed
        db.session.commit()
        assert sweep() == 1
        db.session.expire_all()
        job = db.session.get(OutboxJob, job.id)
        assert job.state == DONE and job.attempts == 2
        assert subjects(smtp_server) == ["Retried"]


def test_a_job_gives_up_after_the_maximum_attempts(make_app):
    app = make_app(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_TIMEOUT=2,
                   OUTBOX_MAX_ATTEMPTS=2)
    with app.app_context():
        queue_email("never@example.com", "verify_email", "Never", name="N", link="http://x/7", hours=1)
        db.session.commit()
        db.session.execute(update(OutboxJob).values(run_after=utcnow()))
        db.session.commit()
        sweep()
        db.session.expire_all()
        job = db.session.scalar(select(OutboxJob))
        assert job.state == FAILED and job.attempts == 2 and job.finished_at is not None


def test_an_abandoned_job_is_picked_up_again_after_its_lease(make_app, smtp_server):
    """A worker killed mid-job leaves the row 'running'; once the lease expires it runs again."""
    app = make_app(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, JOBS_EAGER=True)
    with app.app_context():
        message = EmailMessage(to_address="lease@example.com", subject="Lease", template="verify_email",
                               text_body="hello")
        db.session.add(message)
        db.session.flush()
        job = OutboxJob(name="notifications.deliver_email", args={"email_id": message.id}, state="running",
                        attempts=1, lease_until=utcnow() - timedelta(seconds=1))
        db.session.add(job)
        db.session.commit()
        assert sweep() == 1
        db.session.expire_all()
        assert db.session.get(OutboxJob, job.id).state == DONE
        assert subjects(smtp_server) == ["Lease"]


def test_smtp_delivery_reads_back_the_message(make_app, smtp_server):
    app = make_app(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port,
                   MAIL_FROM="Onboarding <onboarding@exchange.example>")
    with app.app_context():
        message = queue_email("reader@example.com", "verify_email", "Confirm your e-mail address",
                              name="Rea Der", link="http://localhost/verify-email/abc", hours=48)
        message_id = message.id
        db.session.commit()
    assert len(smtp_server.messages) == 1
    received = smtp_server.messages[0]
    assert received["To"] == "reader@example.com"
    assert received["From"] == "Onboarding <onboarding@exchange.example>"
    assert received["Subject"] == "Confirm your e-mail address"
    assert received["Message-ID"] == f"<onboarding-email-{message_id}@exchange.example>"
    body = received.get_body(("plain",)).get_content()
    assert "Hello Rea Der" in body and "http://localhost/verify-email/abc" in body and "48 hours" in body
