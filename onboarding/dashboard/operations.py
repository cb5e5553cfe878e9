"""Admin use cases on the job outbox. The route commits, then hands the job to
onboarding.jobs.dispatch like any other committed job."""

from __future__ import annotations

from sqlalchemy import update

from ..audit.operations import record
from ..db import db, utcnow
from ..errors import OperationRefused
from ..jobs import FAILED, PENDING, OutboxJob


def retry_failed_job(job_id: int) -> OutboxJob:
    """Put a failed job back in the queue with a fresh set of attempts. The update is conditional,
    so two admins pressing Retry at once queue it once."""
    job = db.session.get(OutboxJob, job_id)
    if job is None:
        raise OperationRefused("There is no such job.")
    if job.state != FAILED:
        raise OperationRefused(f"Job #{job.id} is not failed any more (it is {job.state}); nothing was changed.")
    name, previous_attempts, previous_error = job.name, job.attempts, job.last_error
    result = db.session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.state == FAILED)
        .values(state=PENDING, attempts=0, run_after=utcnow(), lease_until=None, finished_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise OperationRefused(f"Job #{job_id} was retried by someone else a moment ago; nothing was changed.")
    db.session.expire(job)
    record("job.retried", "outbox_job", job_id, {
        "name": name, "previous_attempts": previous_attempts, "last_error": (previous_error or "")[:500],
    })
    return job
