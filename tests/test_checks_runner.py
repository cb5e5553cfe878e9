"""The checks runner end to end: on a real RQ worker with real Redis, after a kill -9 in the middle,
and run twice; the application moves to document review by itself when every check is done."""

from __future__ import annotations

import os
import signal
import time

import pytest
from sqlalchemy import func, select

from onboarding.applications.models import CHECKING, DOCUMENT_REVIEW, Application
from onboarding.audit.models import AuditEvent
from onboarding.checks.models import CheckResult
from onboarding.checks.runner import run_application_checks
from onboarding.db import db
from onboarding.jobs import redis_connection, sweep

from .conftest import WorkerProcess, wait_until
from .factories import complete_application, make_applicant, submit


def _read(query):
    """Read in a short transaction of its own: polling must never hold SQLite's lock while the
    worker process wants to write."""
    db.session.rollback()
    value = db.session.scalar(query)
    db.session.rollback()
    return value


def result_count(application_id: int) -> int:
    return _read(select(func.count()).select_from(CheckResult).where(CheckResult.application_id == application_id))


def state_of(application_id: int) -> str:
    return _read(select(Application.state).where(Application.id == application_id))


def finished_events(application_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "application.checks_done", AuditEvent.subject_id == str(application_id)))


@pytest.fixture
def queued_app(make_app, redis_server):
    app = make_app(REDIS_URL=redis_server.url, JOBS_EAGER=False)
    with app.app_context():
        redis_connection().flushdb()
        yield app
        db.session.remove()


def test_checks_run_on_the_worker_and_move_the_application_on(queued_app, migrated, redis_server):
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)
    assert state_of(application.id) == CHECKING  # nothing runs until the worker takes the job
    worker = WorkerProcess(migrated, redis_server.url)
    worker.start()
    try:
        wait_until(lambda: state_of(application.id) == DOCUMENT_REVIEW, timeout=60,
                   message=f"checks to finish; worker log:\n{worker.output()[-2000:]}")
    finally:
        worker.stop()
    application = db.session.get(Application, application.id)
    assert result_count(application.id) == application.checks_planned > 0
    assert application.risk_band in {"low", "medium", "high"} and application.risk_score is not None
    assert finished_events(application.id) == 1


def test_a_worker_killed_mid_job_leaves_the_job_to_run_again_with_one_set_of_results(
    queued_app, migrated, redis_server
):
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)
    slow = {"CHECKS_PAUSE_SECONDS": "0.4", "OUTBOX_LEASE_SECONDS": "4"}
    first = WorkerProcess(migrated, redis_server.url, slow)
    first.start()
    try:
        wait_until(lambda: 0 < result_count(application.id), timeout=60, message="the first results")
        # kill -9 the worker and the work horse it forked: no chance to clean up.
        for pid in _worker_pids(first.process.pid):
            os.kill(pid, signal.SIGKILL)
        first.process.wait(10)
    finally:
        first.stop()
    partial = result_count(application.id)
    assert 0 < partial < db.session.get(Application, application.id).checks_planned
    assert state_of(application.id) == CHECKING

    time.sleep(4.5)  # the lease of the killed run expires
    second = WorkerProcess(migrated, redis_server.url, {"OUTBOX_LEASE_SECONDS": "4"})
    second.start()
    try:
        assert sweep() >= 1  # the abandoned row is handed to the new worker
        wait_until(lambda: state_of(application.id) == DOCUMENT_REVIEW, timeout=60,
                   message=f"the re-run to finish; log:\n{second.output()[-2000:]}")
    finally:
        second.stop()
    application = db.session.get(Application, application.id)
    assert result_count(application.id) == application.checks_planned
    keys = db.session.execute(select(CheckResult.check_name, CheckResult.subject_type, CheckResult.subject_id)
                              .where(CheckResult.application_id == application.id)).all()
    assert len(keys) == len(set(keys)), "no check result recorded twice"
    assert finished_events(application.id) == 1


def _worker_pids(parent: int) -> list[int]:
    """The worker and its children (the forked work horse)."""
    pids = [parent]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == parent:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def test_running_the_checks_twice_leaves_one_set_of_results(app):
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)  # in-process jobs: the checks already ran once
    first = result_count(application.id)
    assert state_of(application.id) == DOCUMENT_REVIEW
    application = db.session.get(Application, application.id)
    application.state = CHECKING  # as if a second delivery of the job arrived before the first finished
    db.session.commit()
    run_application_checks(application.id)
    assert result_count(application.id) == first
    assert state_of(application.id) == DOCUMENT_REVIEW


def test_a_resubmission_is_a_new_round_of_checks(app):
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)
    first_round = result_count(application.id)
    application = db.session.get(Application, application.id)
    application.state = "changes_requested"  # the reviewer's decision is built in the review issue
    db.session.commit()
    submit(application, user)
    application = db.session.get(Application, application.id)
    assert application.check_round == 2
    assert result_count(application.id) == 2 * first_round
    assert state_of(application.id) == DOCUMENT_REVIEW


def _sanctions_result(application_id: int) -> CheckResult:
    return db.session.scalar(select(CheckResult).where(CheckResult.application_id == application_id,
                                                       CheckResult.check_name == "screening.sanctions"))


def test_screening_with_no_list_loaded_is_flagged_not_passed(app):
    """A new deployment before its first list import screened every name against nothing and showed
    "Pass: no matches" (found by the production-stack journey): now the reviewer sees why it is no result."""
    applicant = make_applicant()
    application = complete_application(applicant)
    submit(application, applicant)
    result = _sanctions_result(application.id)
    assert result.outcome == "flag"
    assert result.detail.startswith("No sanctions list is loaded, so ")
    assert "were not screened" in result.detail

    from onboarding.demo import import_demo_lists

    import_demo_lists()
    db.session.commit()
    other = make_applicant("ops@second.example", "Second Desk Ltd")
    application = complete_application(other)
    submit(application, other)
    result = _sanctions_result(application.id)
    assert (result.outcome, result.detail.split(" for ")[0]) == ("pass", "No matches")
