"""List imports as runs people can follow: an upload or a download from the official address becomes a
`ListImport`, run by a job (or at once by `flask --app app sanctions refresh`), which records its
progress, what changed, why it failed, and the re-screening it triggered.

A run never half-imports: the download is complete or refused (sources.py), and the import itself is
one transaction (lists.import_list). On any failure the previous snapshot stays current and the run
carries the reason, for the sanctions-lists page."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from ..audit.operations import record
from ..db import db, utcnow
from ..jobs import request_job
from .changes import snapshot_changes
from .lists import ListImportError, current_snapshot, import_list
from .models import (
    COMMAND,
    FAILED,
    IMPORTED,
    OFFICIAL,
    QUEUED,
    RESCREEN_DONE,
    RUNNING,
    SCHEDULED,
    SOURCES,
    UNCHANGED,
    UPLOAD,
    ListImport,
    ListSnapshot,
)
from .screen import rescreen_all
from .sources import DownloadError, download, official_address, official_files, remove_folder

log = logging.getLogger(__name__)


def sanctions_dir() -> Path:
    """Where uploads wait for their import job and downloads are unpacked (shared by web and worker)."""
    folder = Path(current_app.config.get("SANCTIONS_DIR") or os.path.join(current_app.instance_path, "sanctions"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def work_folder(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=sanctions_dir()))


def configured_sources() -> list[str]:
    """The lists that have an official address configured, in the order of SOURCES."""
    return [source for source in SOURCES if official_files(source, current_app.config)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------
# Asking for an import (in the caller's transaction; the job runs once it commits).


def request_upload_import(source: str, staged: Path, filename: str, *, user_id: int | None,
                          requested_by: str, entries: int) -> ListImport:
    """An uploaded, already checked list file waiting in `staged` (its own folder) for the import job."""
    run = ListImport(source=source, origin=UPLOAD, state=QUEUED, stage="Waiting for a worker",
                     filename=filename[:500], staged_path=str(staged), requested_by_id=user_id,
                     requested_by=requested_by, new_hit_ids=[])
    db.session.add(run)
    db.session.flush()
    record("sanctions.import_requested", "sanctions_import", run.id,
           {"source": source, "origin": UPLOAD, "file": filename, "entries_checked": entries})
    request_job("screening.import_list", import_id=run.id)
    return run


def request_official_import(source: str, *, user_id: int | None, requested_by: str,
                            origin: str = OFFICIAL) -> ListImport:
    """A download from the configured official address of `source`, then an import."""
    address = official_address(source, current_app.config)
    if address is None:
        raise ListImportError(f"No official address is configured for the {SOURCES[source]} list.")
    run = ListImport(source=source, origin=origin, state=QUEUED, stage="Waiting for a worker",
                     filename=address[:500], requested_by_id=user_id, requested_by=requested_by, new_hit_ids=[])
    db.session.add(run)
    db.session.flush()
    record("sanctions.import_requested", "sanctions_import", run.id,
           {"source": source, "origin": origin, "address": address}, actor_label=None if user_id else requested_by)
    request_job("screening.import_list", import_id=run.id)
    return run


# ---------------------------------------------------------------------------
# Running an import.


def _set_stage(run: ListImport, stage: str) -> None:
    run.stage = stage
    db.session.commit()


def _fail(import_id: int, reason: str) -> ListImport:
    db.session.rollback()
    run = db.session.get(ListImport, import_id)
    run.state, run.error, run.stage, run.finished_at = FAILED, reason[:4000], None, utcnow()
    record("sanctions.import_failed", "sanctions_import", run.id,
           {"source": run.source, "origin": run.origin, "reason": reason[:500]}, actor_label=run.requested_by)
    db.session.commit()
    return run


def _readable(message: str, *folders: Path | None) -> str:
    """Error messages name files relative to our own work folders, which mean nothing to people."""
    for folder in folders:
        if folder is not None:
            message = message.replace(str(folder) + os.sep, "").replace(str(folder), "the upload")
    return message


def run_import(import_id: int, *, rescreen_now: bool = False) -> ListImport | None:
    """Run one requested import: download (official address) or take the staged upload, import it as
    the new current snapshot unless the content is already current, then ask for the re-screening.
    Commits as it goes. Failures are recorded on the run, never raised. `rescreen_now` re-screens in
    this call instead of a job (the command line)."""
    run = db.session.get(ListImport, import_id)
    if run is None or run.state not in (QUEUED, RUNNING):  # done already: a job delivered twice
        return run
    run.state, run.started_at, run.error = RUNNING, utcnow(), None
    staged = Path(run.staged_path) if run.staged_path else None
    downloaded: Path | None = None
    try:
        if staged is None:
            _set_stage(run, f"Downloading {run.filename}")
            downloaded = work_folder(f"download-{run.id}-")
            try:
                path = download(run.source, downloaded, current_app.config)
            except DownloadError as error:
                return _fail(import_id, f"Download failed, nothing was imported: {error}")
        else:
            path = staged if run.source == "ofac-sdn" else next(p for p in staged.iterdir() if p.is_file())
        _set_stage(run, "Reading and importing the list")
        previous = current_snapshot(run.source)
        previous_id = previous.id if previous is not None else None
        try:
            snapshot, created = import_list(run.source, path, actor_label=run.requested_by)
        except ListImportError as error:
            return _fail(import_id, "Import failed, the current list is unchanged: "
                         + _readable(error.message, staged, downloaded))
        run = db.session.get(ListImport, import_id)
        run.snapshot_id, run.file_sha256, run.finished_at, run.stage = snapshot.id, snapshot.file_sha256, utcnow(), None
        if created:
            run.previous_snapshot_id = previous_id
            changes = snapshot_changes(snapshot, db.session.get(ListSnapshot, previous_id) if previous_id else None)
            run.entries_added, run.entries_removed = len(changes.added), len(changes.removed)
            run.state, run.rescreen_state, run.rescreen_done = IMPORTED, QUEUED, 0
            if not rescreen_now:
                # Ongoing monitoring, in the same transaction as the import that makes it necessary.
                request_job("screening.rescreen_all", snapshot_id=snapshot.id, import_id=run.id)
        else:
            run.state = UNCHANGED
            run.previous_snapshot_id = previous_id
            run.entries_added = run.entries_removed = 0
        db.session.commit()
    except Exception as error:  # a bug or the database: the run must not stay "running" for ever
        log.exception("sanctions import %s failed", import_id)
        return _fail(import_id, f"Import failed, the current list is unchanged: internal error "
                                f"({error.__class__.__name__}); see the worker's log")
    finally:
        remove_folder(downloaded)
        if staged is not None:
            remove_folder(staged)
    if rescreen_now and run.rescreen_state == QUEUED:
        rescreen_for_import(run.id)
    return db.session.get(ListImport, import_id)


def rescreen_for_import(import_id: int | None) -> dict[str, int]:
    """Re-screen every monitored institution, recording the progress and the new hits on the run."""
    run = db.session.get(ListImport, import_id) if import_id is not None else None
    if run is None:
        return rescreen_all()
    run.rescreen_state, run.rescreen_done, run.new_hit_ids = RUNNING, 0, []
    db.session.commit()

    def progress(total: int, done: int, new_hit_ids: list[int]) -> None:
        current = db.session.get(ListImport, import_id)
        current.rescreen_total, current.rescreen_done = total, done
        current.new_hit_ids = sorted(set(current.new_hit_ids or []) | set(new_hit_ids))

    outcome = rescreen_all(on_batch=progress)
    run = db.session.get(ListImport, import_id)
    run.rescreen_state = RESCREEN_DONE
    run.rescreen_total = run.rescreen_done = outcome["institutions"]
    record("sanctions.rescreened", "sanctions_import", run.id,
           {"institutions": outcome["institutions"], "new_hits": len(run.new_hit_ids or [])})
    db.session.commit()
    return outcome


# ---------------------------------------------------------------------------
# `flask --app app sanctions refresh` and the worker's daily schedule.


def refresh(sources: Iterable[str] | None = None, *, requested_by: str = "sanctions refresh",
            origin: str = COMMAND, rescreen_now: bool = True) -> list[ListImport]:
    """Download and import every configured list (or `sources`) now, one run each."""
    runs = []
    for source in sources or configured_sources():
        run = request_official_import_now(source, requested_by=requested_by, origin=origin)
        runs.append(run_import(run.id, rescreen_now=rescreen_now))
    return runs


def request_official_import_now(source: str, *, requested_by: str, origin: str) -> ListImport:
    """A run for the command line: recorded and committed, then run in this process (no job)."""
    address = official_address(source, current_app.config)
    if address is None:
        raise ListImportError(f"No official address is configured for the {SOURCES[source]} list.")
    run = ListImport(source=source, origin=origin, state=QUEUED, stage="Starting", filename=address[:500],
                     requested_by=requested_by, new_hit_ids=[])
    db.session.add(run)
    db.session.flush()
    record("sanctions.import_requested", "sanctions_import", run.id,
           {"source": source, "origin": origin, "address": address}, actor_label=requested_by)
    db.session.commit()
    return run


def refresh_due(now: datetime | None = None) -> bool:
    """Whether the scheduled refresh should run: SANCTIONS_REFRESH_HOURS (0: never) since the last one."""
    hours = float(current_app.config.get("SANCTIONS_REFRESH_HOURS") or 0)
    if hours <= 0 or not configured_sources():
        return False
    last = db.session.scalar(select(ListImport.requested_at).where(ListImport.origin.in_((SCHEDULED, COMMAND)))
                             .order_by(ListImport.requested_at.desc()).limit(1))
    now = now or utcnow()
    return last is None or _aware(last) <= now - timedelta(hours=hours)


def schedule_refresh_if_due(now: datetime | None = None) -> list[ListImport]:
    """On the worker's maintenance tick: when due, one import job per configured list. Commits."""
    if not refresh_due(now):
        db.session.rollback()
        return []
    runs = [request_official_import(source, user_id=None, requested_by="scheduled refresh", origin=SCHEDULED)
            for source in configured_sources()]
    db.session.commit()
    return runs


def latest_runs(limit: int = 50) -> list[ListImport]:
    return list(db.session.scalars(select(ListImport).order_by(ListImport.id.desc()).limit(limit)))


def progress_of(run: ListImport) -> dict[str, object]:
    """What the page's progress line and its JSON endpoint show."""
    finished = run.state in (FAILED, UNCHANGED) or (
        run.state == IMPORTED and run.rescreen_state in (None, RESCREEN_DONE))
    return {
        "id": run.id,
        "state": run.state,
        "stage": run.stage,
        "error": run.error,
        "snapshot_id": run.snapshot_id,
        "entries_added": run.entries_added,
        "entries_removed": run.entries_removed,
        "rescreen_state": run.rescreen_state,
        "rescreen_done": run.rescreen_done,
        "rescreen_total": run.rescreen_total,
        "new_hits": len(run.new_hit_ids or []),
        "finished": finished,
    }

