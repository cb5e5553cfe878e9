"""The administrator's sanctions-lists page: the current snapshot of each list, uploading a list file or
importing it from its official address (run by a job, its progress followed on the page), the snapshots
with what changed between them, and the re-screening each import triggered with its new hits."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..applications.models import Application
from ..db import db
from ..errors import OperationRefused
from ..forms import ConfirmForm
from ..security import roles_required
from .changes import snapshot_changes, snapshot_versions
from .forms import ListUploadForm
from .lists import current_snapshot
from .models import ORIGINS, RUN_STATES, SOURCES, ListImport, ListSnapshot, ScreeningHit
from .runs import latest_runs, progress_of, request_official_import, request_upload_import, work_folder
from .sources import official_address
from .uploads import UploadRefused, stage_upload

bp = Blueprint("sanctions", __name__, url_prefix="/staff/sanctions-lists")

CHANGES_SHOWN = 200  # entries listed per side on a page; the counts are always complete


def _lists_page(form: ListUploadForm | None = None, status_code: int = 200):
    runs = latest_runs(30)
    snapshots = list(db.session.scalars(select(ListSnapshot).order_by(ListSnapshot.id.desc()).limit(60)))
    versions = {source: snapshot_versions(source) for source in SOURCES}
    runs_by_snapshot = {}
    for run in sorted(runs, key=lambda r: r.id):
        if run.snapshot_id and run.state == "imported":
            runs_by_snapshot[run.snapshot_id] = run
    lists = [{
        "source": source, "title": title, "current": current_snapshot(source),
        "address": official_address(source, current_app.config),
        "last_run": next((run for run in runs if run.source == source), None),
    } for source, title in SOURCES.items()]
    active = any(not progress_of(run)["finished"] for run in runs)
    return render_template(
        "sanctions/lists.html", form=form or ListUploadForm(), confirm=ConfirmForm(), lists=lists, runs=runs,
        snapshots=snapshots, versions=versions, runs_by_snapshot=runs_by_snapshot, sources=SOURCES,
        origins=ORIGINS, run_states=RUN_STATES, progress_of=progress_of, active=active,
        refresh_hours=current_app.config.get("SANCTIONS_REFRESH_HOURS") or 0,
    ), status_code


@bp.route("")
@roles_required("admin")
def lists():
    return _lists_page()


@bp.route("/upload", methods=["POST"])
@roles_required("admin")
def upload():
    form = ListUploadForm()
    if not form.validate_on_submit():
        return _lists_page(form, 422)
    folder = work_folder("upload-")
    try:
        staged = stage_upload(request.files.getlist(form.files.name), form.source.data or None, folder)
    except UploadRefused as error:
        form.files.errors = [*form.files.errors, str(error)]
        return _lists_page(form, 422)
    run = request_upload_import(staged.source, staged.folder, staged.filename, user_id=current_user.id,
                                requested_by=current_user.email, entries=staged.entries)
    db.session.commit()
    flash(f"{staged.filename}: {staged.entries} {SOURCES[staged.source]} entries read and checked; the import "
          "was started. This page follows it.", "success")
    return redirect(url_for("sanctions.import_run", import_id=run.id))


@bp.route("/official/<source>", methods=["POST"])
@roles_required("admin")
def official(source: str):
    if source not in SOURCES:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
        return redirect(url_for("sanctions.lists"))
    try:
        run = request_official_import(source, user_id=current_user.id, requested_by=current_user.email)
    except OperationRefused as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("sanctions.lists"))
    db.session.commit()
    flash(f"The {SOURCES[source]} list is downloaded from {run.filename} and imported; this page follows it.",
          "success")
    return redirect(url_for("sanctions.import_run", import_id=run.id))


@bp.route("/imports/<int(max=2147483647):import_id>")
@roles_required("admin")
def import_run(import_id: int):
    run = db.session.get(ListImport, import_id) or abort(404)
    snapshot = db.session.get(ListSnapshot, run.snapshot_id) if run.snapshot_id else None
    changes = None
    progress = progress_of(run)
    # The entry lists are read once the run is finished: the page reloads every 2 s until then.
    if snapshot is not None and run.state == "imported" and progress["finished"]:
        previous = db.session.get(ListSnapshot, run.previous_snapshot_id) if run.previous_snapshot_id else None
        changes = snapshot_changes(snapshot, previous) if previous is not None else None
    hits = list(db.session.scalars(select(ScreeningHit).where(ScreeningHit.id.in_(run.new_hit_ids or []))
                                   .order_by(ScreeningHit.score.desc()))) if run.new_hit_ids else []
    references = application_references({hit.application_id for hit in hits if hit.application_id})
    return render_template(
        "sanctions/import.html", run=run, snapshot=snapshot, changes=changes, hits=hits, limit=CHANGES_SHOWN,
        references=references,
        progress=progress, sources=SOURCES, origins=ORIGINS, run_states=RUN_STATES,
        versions=snapshot_versions(run.source),
    )


@bp.route("/imports/<int(max=2147483647):import_id>/progress")
@roles_required("admin")
def import_progress(import_id: int):
    run = db.session.get(ListImport, import_id) or abort(404)
    return jsonify(progress_of(run))


@bp.route("/snapshots/<int(max=2147483647):snapshot_id>")
@roles_required("admin")
def snapshot(snapshot_id: int):
    shown = db.session.get(ListSnapshot, snapshot_id) or abort(404)
    changes = snapshot_changes(shown)
    return render_template("sanctions/snapshot.html", snapshot=shown, changes=changes, limit=CHANGES_SHOWN,
                           sources=SOURCES, versions=snapshot_versions(shown.source))


def application_references(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {row.id: row.reference for row in db.session.execute(
        select(Application.id, Application.reference).where(Application.id.in_(ids))) if row.reference}
