"""With Redis and a real RQ worker process: an upload waits as a queued job (the page says so and
refreshes itself, no JavaScript needed) and is imported once the worker runs it; the worker's
maintenance tick queues the scheduled refresh from the official addresses once per interval."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from onboarding.db import db
from onboarding.jobs import redis_connection
from onboarding.screening.lists import current_snapshot
from onboarding.screening.models import IMPORTED, ListImport

from .conftest import WorkerProcess, wait_until
from .test_dashboard import served
from .test_sanctions_pages import PAGE, ofac_zip, sign_in_staff, upload
from .test_sanctions_refresh import OFAC_SAMPLE, UN_SAMPLE, ListServer


@pytest.fixture
def list_server():
    with ListServer() as server:
        server.serve_ofac(OFAC_SAMPLE)
        server.serve_un(UN_SAMPLE)
        yield server


def settings(server: ListServer, tmp_path, hours: int) -> dict[str, str]:
    return {"SANCTIONS_DIR": str(tmp_path / "sanctions"), "SANCTIONS_OFAC_SDN_URL": f"{server.url}/ofac/",
            "SANCTIONS_UN_XML_URL": f"{server.url}/un/consolidated.xml", "SANCTIONS_FTM_URL": "",
            "SANCTIONS_REFRESH_HOURS": str(hours), "MAIL_BACKEND": "console"}


def run_of(import_id: int) -> ListImport:
    db.session.rollback()
    return db.session.get(ListImport, import_id)


def test_an_upload_runs_as_an_rq_job_and_the_page_follows_it(make_app, migrated, redis_server, list_server,
                                                             tmp_path):
    env = settings(list_server, tmp_path, 0)
    worker = WorkerProcess(migrated, redis_server.url, env)
    config = {**env, "SANCTIONS_REFRESH_HOURS": 0, "REDIS_URL": redis_server.url, "JOBS_EAGER": False}
    with served(make_app, **config) as client:
        redis_connection().flushdb()
        sign_in_staff(client)
        response = upload(client, [(ofac_zip(OFAC_SAMPLE), "sdn.zip")])
        assert response.status_code == 302
        import_id = int(response.headers["Location"].rsplit("/", 1)[1])

        waiting = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Waiting for a worker" in waiting and '<meta http-equiv="refresh" content="2">' in waiting
        assert client.get(f"{PAGE}/imports/{import_id}/progress").get_json()["finished"] is False
        assert current_snapshot("ofac-sdn") is None
        try:
            worker.start()
            wait_until(lambda: run_of(import_id).rescreen_state == "done", timeout=60,
                       message="the worker to import and re-screen")
        finally:
            worker.stop()
        run = run_of(import_id)
        assert run.state == IMPORTED and current_snapshot("ofac-sdn").id == run.snapshot_id
        done = client.get(f"{PAGE}/imports/{import_id}").get_data(as_text=True)
        assert "Version 1 is now the current list" in done and '<meta http-equiv="refresh"' not in done
        assert not list((tmp_path / "sanctions").iterdir()), "the staged upload is removed after the import"


def test_the_worker_queues_the_scheduled_refresh_once_per_interval(make_app, migrated, redis_server, list_server,
                                                                   tmp_path):
    env = settings(list_server, tmp_path, 24)
    worker = WorkerProcess(migrated, redis_server.url, env)
    with served(make_app, **{**env, "SANCTIONS_REFRESH_HOURS": 24, "REDIS_URL": redis_server.url,
                             "JOBS_EAGER": False}):
        redis_connection().flushdb()
        try:
            worker.start()

            def both_imported():
                db.session.rollback()
                return current_snapshot("ofac-sdn") is not None and current_snapshot("un-xml") is not None

            wait_until(both_imported, timeout=60, message="the scheduled refresh to import both lists")
            time.sleep(5)  # two more maintenance ticks (every 2 s here): not due again
        finally:
            worker.stop()
        db.session.rollback()
        runs = db.session.scalars(select(ListImport).order_by(ListImport.id)).all()
        assert [(run.source, run.origin, run.state) for run in runs] == [
            ("ofac-sdn", "scheduled", IMPORTED), ("un-xml", "scheduled", IMPORTED)], worker.output()[-2000:]
        assert db.session.scalar(select(func.count()).select_from(ListImport)) == 2
        assert sorted(set(list_server.requests)) == ["/ofac/add.csv", "/ofac/alt.csv", "/ofac/sdn.csv",
                                                     "/ofac/sdn_comments.csv", "/un/consolidated.xml"]
