"""Admin pages about the machinery: the job outbox and the RQ queues behind it."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..db import db, utcnow
from ..errors import OperationRefused
from ..jobs import DONE, FAILED, OutboxJob, dispatch
from ..security import roles_required
from .forms import RetryJobForm
from .operations import retry_failed_job
from .outbox import (
    FAILED_PAGE_SIZE,
    JOB_STATE_LABELS,
    JOB_STATES,
    args_summary,
    failed_jobs,
    job_counts,
    late_jobs,
    rq_status,
    waiting_grace,
)

bp = Blueprint("dashboard", __name__, url_prefix="/staff")


@bp.route("/jobs")
@roles_required("admin")
def jobs():
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    failed, failed_total = failed_jobs(page)
    pages = max((failed_total + FAILED_PAGE_SIZE - 1) // FAILED_PAGE_SIZE, 1)
    if page > pages:
        abort(404)
    now = utcnow()
    return render_template(
        "dashboard/jobs.html", counts=job_counts(), failed=failed, failed_total=failed_total, page=page,
        pages=pages, late=late_jobs(now), now=now, rq=rq_status(), retry_form=RetryJobForm(),
        states=JOB_STATES, state_labels=JOB_STATE_LABELS, args_summary=args_summary,
        grace_seconds=int(waiting_grace().total_seconds()),
    )


@bp.route("/jobs/<int(max=2147483647):job_id>/retry", methods=["POST"])
@roles_required("admin")
def retry_job(job_id: int):
    form = RetryJobForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        job = retry_failed_job(job_id)
    except OperationRefused as refused:
        db.session.rollback()
        flash(refused.message, "error")
        return redirect(url_for("dashboard.jobs"))
    name = job.name
    db.session.commit()
    # Handed over like any committed job: to RQ, or run here when there is no Redis. When Redis
    # is down the row stays pending and the sweeper pushes it later.
    dispatch([job_id])
    db.session.expire_all()
    state = db.session.get(OutboxJob, job_id).state
    if state == DONE:
        flash(f"Job #{job_id} ({name}) ran again and finished.", "success")
    elif state == FAILED:
        flash(f"Job #{job_id} ({name}) ran again and failed; its error is below.", "error")
    else:
        flash(f"Job #{job_id} ({name}) was put back in the queue.", "success")
    return redirect(url_for("dashboard.jobs"))
