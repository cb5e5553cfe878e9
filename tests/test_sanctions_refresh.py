"""`flask --app app sanctions refresh` against a real HTTP server on loopback serving the fixture files:
a changed list is imported and re-screened, an unchanged one is not imported again, and a truncated
download, a server error or a broken file import nothing, leave the old snapshot current and record why.
The worker's schedule queues the refresh once per interval."""

from __future__ import annotations

import shutil
import threading
from contextlib import contextmanager
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from onboarding.audit.models import AuditEvent
from onboarding.db import db, utcnow
from onboarding.screening.lists import current_snapshot
from onboarding.screening.models import FAILED, IMPORTED, UNCHANGED, ListImport, ListSnapshot, ScreeningHit
from onboarding.screening.runs import refresh_due, schedule_refresh_if_due

from .factories import complete_application, make_applicant, submit
from .fixtures import SANCTIONS_FIXTURES

OFAC_SAMPLE = SANCTIONS_FIXTURES / "ofac-sample"
UN_SAMPLE = SANCTIONS_FIXTURES / "un-sample" / "consolidated.xml"
# A new listing naming the applicant's company, as an update of the OFAC list would.
LISTED_COMPANY = ('99001,"NORTHWIND LIQUIDITY LTD",-0- ,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
                  '"Registration Number 12345678 (United Kingdom)."\n')
DELISTED_ID = "12685"  # GADDAFI INTERNATIONAL CHARITY AND DEVELOPMENT FOUNDATION


def changed_ofac(folder: Path) -> Path:
    """The OFAC sample with one entry added and one removed: a new version of the list."""
    shutil.copytree(OFAC_SAMPLE, folder)
    sdn = folder / "sdn.csv"
    rows = [row for row in sdn.read_text(encoding="utf-8").splitlines(keepends=True)
            if not row.startswith(DELISTED_ID + ",")]
    sdn.write_text("".join(rows) + LISTED_COMPANY, encoding="utf-8")
    return folder


class ListServer:
    """http.server in a thread on 127.0.0.1. `files` maps a path to bytes; `failures` maps a path to
    an HTTP status to answer instead, or "truncate" to announce the whole file and send half of it."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.failures: dict[str, int | str] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                failure = server.failures.get(self.path)
                body = server.files.get(self.path)
                if isinstance(failure, int):
                    self.send_error(failure)
                    return
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if failure == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve_ofac(self, folder: Path) -> None:
        for file in folder.iterdir():
            self.files[f"/ofac/{file.name}"] = file.read_bytes()

    def serve_un(self, path: Path) -> None:
        self.files["/un/consolidated.xml"] = path.read_bytes()

    def config(self) -> dict:
        return {"SANCTIONS_OFAC_SDN_URL": f"{self.url}/ofac/",
                "SANCTIONS_UN_XML_URL": f"{self.url}/un/consolidated.xml",
                "SANCTIONS_FTM_URL": "", "SANCTIONS_DOWNLOAD_TIMEOUT": 5}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def list_server():
    with ListServer() as server:
        server.serve_ofac(OFAC_SAMPLE)
        server.serve_un(UN_SAMPLE)
        yield server


@contextmanager
def app_for(make_app, server: ListServer, tmp_path: Path, **overrides):
    """An app reading the lists from `server`; the test body runs in a twin's context, as in conftest."""
    config = {**server.config(), "SANCTIONS_DIR": str(tmp_path / "sanctions"), **overrides}
    app = make_app(**config)
    twin = make_app(**config)
    with twin.app_context():
        yield app
        db.session.remove()


def refresh(app, *args: str):
    result = app.test_cli_runner().invoke(args=["sanctions", "refresh", *args])
    db.session.rollback()
    return result


def snapshot_count(source: str) -> int:
    return db.session.scalar(select(func.count()).select_from(ListSnapshot).where(ListSnapshot.source == source))


def latest_run(source: str) -> ListImport:
    return db.session.scalar(select(ListImport).where(ListImport.source == source).order_by(ListImport.id.desc()))


def monitored_application():
    """A submitted application (in review, so monitored) of Northwind Liquidity Ltd."""
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)
    return application


def test_refresh_imports_both_lists_then_only_what_changed_and_rescreens(make_app, list_server, tmp_path):
    with app_for(make_app, list_server, tmp_path) as app:
        application = monitored_application()

        first = refresh(app)
        assert first.exit_code == 0, first.output
        assert "OFAC SDN: imported snapshot" in first.output
        assert "UN Security Council: imported snapshot" in first.output
        ofac_v1 = current_snapshot("ofac-sdn")
        assert ofac_v1.entry_count == 17 and ofac_v1.imported_by == "sanctions refresh"
        assert current_snapshot("un-xml").entry_count == 35
        assert db.session.scalar(select(ScreeningHit)) is None, "nothing on the lists names the applicant yet"

        # Nothing changed at the source: nothing is imported again.
        again = refresh(app)
        assert again.exit_code == 0, again.output
        assert "OFAC SDN: unchanged since snapshot" in again.output
        assert snapshot_count("ofac-sdn") == 1 and snapshot_count("un-xml") == 1
        assert latest_run("ofac-sdn").state == UNCHANGED

        # OFAC publishes a new version: one listing added (the applicant's company), one removed.
        list_server.serve_ofac(changed_ofac(tmp_path / "ofac-v2"))
        changed = refresh(app, "--source", "ofac-sdn")
        assert changed.exit_code == 0, changed.output
        run = latest_run("ofac-sdn")
        assert run.state == IMPORTED and (run.entries_added, run.entries_removed) == (1, 1)
        assert run.previous_snapshot_id == ofac_v1.id and run.snapshot_id != ofac_v1.id
        assert current_snapshot("ofac-sdn").id == run.snapshot_id
        assert run.rescreen_state == "done" and run.rescreen_total == 1 and len(run.new_hit_ids) >= 1
        hit = db.session.get(ScreeningHit, run.new_hit_ids[0])
        assert hit.application_id == application.id and hit.external_id == "99001" and hit.found_by == "monitoring"
        assert "+1 / -1 entries" in changed.output and "new hit" in changed.output and "(s)" not in changed.output
        assert list(tmp_path.joinpath("sanctions").iterdir()) == [], "downloads are cleaned up"


@pytest.mark.parametrize("failure, reason", [
    ("truncate", "truncated download"),
    (500, "HTTP 500"),
    (404, "HTTP 404"),
])
def test_a_failed_download_imports_nothing_and_keeps_the_current_list(make_app, list_server, tmp_path,
                                                                      failure, reason):
    with app_for(make_app, list_server, tmp_path) as app:
        assert refresh(app, "--source", "ofac-sdn").exit_code == 0
        before = current_snapshot("ofac-sdn")

        list_server.serve_ofac(changed_ofac(tmp_path / "ofac-v2"))
        list_server.failures["/ofac/alt.csv"] = failure  # one of the four files fails
        result = refresh(app, "--source", "ofac-sdn")

        assert result.exit_code == 1
        assert reason in result.output and "previous snapshots stay current" in result.output
        assert current_snapshot("ofac-sdn").id == before.id
        assert snapshot_count("ofac-sdn") == 1
        run = latest_run("ofac-sdn")
        assert run.state == FAILED and reason in run.error and run.error.startswith("Download failed")
        assert run.snapshot_id is None and run.finished_at is not None
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "sanctions.import_failed"))
        assert event is not None and reason in event.details["reason"]


def test_a_broken_file_imports_nothing_and_says_where(make_app, list_server, tmp_path):
    with app_for(make_app, list_server, tmp_path) as app:
        assert refresh(app, "--source", "un-xml").exit_code == 0
        before = current_snapshot("un-xml")
        xml = UN_SAMPLE.read_bytes()
        list_server.files["/un/consolidated.xml"] = xml[: len(xml) * 2 // 3]  # cut, but served whole

        result = refresh(app, "--source", "un-xml")

        assert result.exit_code == 1
        run = latest_run("un-xml")
        assert run.state == FAILED and run.error.startswith("Import failed, the current list is unchanged")
        assert "consolidated.xml" in run.error and str(tmp_path) not in run.error
        assert current_snapshot("un-xml").id == before.id and snapshot_count("un-xml") == 1


def test_refresh_without_any_address_says_so(make_app, list_server, tmp_path):
    with app_for(make_app, list_server, tmp_path, SANCTIONS_OFAC_SDN_URL="", SANCTIONS_UN_XML_URL="") as app:
        result = refresh(app)
        assert result.exit_code == 1 and "No official address is configured" in result.output


def test_the_worker_schedule_queues_one_refresh_per_interval(make_app, list_server, tmp_path):
    with app_for(make_app, list_server, tmp_path, SANCTIONS_REFRESH_HOURS=24):
        assert refresh_due()
        runs = schedule_refresh_if_due()  # jobs run in-process here (JOBS_EAGER)
        db.session.rollback()
        assert {run.source for run in runs} == {"ofac-sdn", "un-xml"}
        assert current_snapshot("ofac-sdn") is not None and current_snapshot("un-xml") is not None
        assert latest_run("ofac-sdn").origin == "scheduled" and latest_run("ofac-sdn").state == IMPORTED

        assert schedule_refresh_if_due() == [], "not again within the interval"
        assert not refresh_due(utcnow() + timedelta(hours=23))
        assert refresh_due(utcnow() + timedelta(hours=25))


def test_the_schedule_is_off_with_zero_hours(make_app, list_server, tmp_path):
    with app_for(make_app, list_server, tmp_path, SANCTIONS_REFRESH_HOURS=0):
        assert not refresh_due() and schedule_refresh_if_due() == []
        assert list_server.requests == []
