"""The administrator's sanctions-lists page over HTTP: only admins reach it; a bad file, a file of the
other format or an incomplete OFAC upload is refused at the field with nothing saved; a good upload
runs as a job into a new snapshot, shows what changed and the re-screening it triggered with its new
hit on an existing application; importing from the official address, including a failed download."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from onboarding.accounts.operations import create_staff, find_user_by_email, totp_secret
from onboarding.audit.models import AuditEvent
from onboarding.db import db
from onboarding.jobs import OutboxJob
from onboarding.screening.lists import current_snapshot, import_list
from onboarding.screening.models import IMPORTED, ListImport, ListSnapshot, ScreeningHit

from .conftest import FreshStateClient, csrf_token_from, submit_form
from .factories import PASSWORD, complete_application, make_applicant, submit
from .fixtures import SANCTIONS_FIXTURES
from .test_sanctions_refresh import OFAC_SAMPLE, UN_SAMPLE, ListServer, changed_ofac

FTM_SAMPLE = SANCTIONS_FIXTURES / "ftm-sample" / "entities.ftm.json"

PAGE = "/staff/sanctions-lists"
ADMIN = "alex@exchange.example"


def sign_in_staff(client, roles=("admin",), email=ADMIN):
    create_staff(email=email, full_name="Alex Admin", password=PASSWORD, roles=list(roles))
    db.session.commit()
    submit_form(client, "/login", {"email": email, "password": PASSWORD})
    client.get("/login/set-up-two-factor")
    secret = totp_secret(find_user_by_email(email))
    response = submit_form(client, "/login/set-up-two-factor", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, "staff sign-in did not complete"


def ofac_zip(folder: Path, *, leave_out: str | None = None, inside: str = "sdn_advanced/") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.iterdir()):
            if file.name != leave_out:
                archive.write(file, inside + file.name)
    return buffer.getvalue()


def upload(client, files: list[tuple[bytes, str]], source: str = ""):
    token = csrf_token_from(client.get(PAGE).get_data(as_text=True))
    data = {"csrf_token": token, "source": source, "files": [(io.BytesIO(body), name) for body, name in files]}
    return client.post(f"{PAGE}/upload", data=data, content_type="multipart/form-data")


def ofac_files(folder: Path) -> list[tuple[bytes, str]]:
    return [(file.read_bytes(), file.name) for file in sorted(folder.iterdir())]


def nothing_saved(app) -> bool:
    staging = Path(app.config.get("SANCTIONS_DIR") or Path(app.instance_path) / "sanctions")
    leftovers = list(staging.iterdir()) if staging.exists() else []
    return (db.session.scalar(select(func.count()).select_from(ListImport)) == 0
            and db.session.scalar(select(func.count()).select_from(ListSnapshot)) == 0
            and db.session.scalar(select(func.count()).select_from(OutboxJob)) == 0
            and leftovers == [])


@pytest.fixture
def app(make_app, tmp_path):
    app = make_app(SANCTIONS_DIR=str(tmp_path / "sanctions"), SANCTIONS_OFAC_SDN_URL="", SANCTIONS_UN_XML_URL="")
    app.test_client_class = FreshStateClient
    twin = make_app(SANCTIONS_DIR=str(tmp_path / "sanctions"))
    with twin.app_context():
        yield app
        db.session.remove()


@pytest.mark.parametrize("roles", [("compliance",), ("document_reviewer", "approver")])
def test_staff_without_the_admin_role_are_refused(client, roles):
    sign_in_staff(client, roles, email="casey@exchange.example")
    assert client.get(PAGE).status_code == 403
    token = csrf_token_from(client.get("/staff").get_data(as_text=True))
    assert client.post(f"{PAGE}/upload", data={"csrf_token": token}).status_code == 403
    assert client.post(f"{PAGE}/official/ofac-sdn", data={"csrf_token": token}).status_code == 403
    assert client.get(f"{PAGE}/imports/1/progress").status_code == 403


def test_applicants_and_anonymous_visitors_are_refused(client):
    assert client.get(PAGE).status_code == 302  # to the sign-in page
    make_applicant()
    assert submit_form(client, "/login", {"email": "mm@northwind.example", "password": PASSWORD}).status_code == 302
    assert client.get(PAGE).status_code == 403


@pytest.mark.parametrize("files, source, message", [
    ([], "", "Choose the list file to upload."),
    ([(b"name,country\nAcme,GB\n", "customers.csv")], "",
     "not a list we can read"),
    ([(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "logo.png")], "", "not a list we can read"),
    ([(b"<html><body>Not found</body></html>", "consolidated.xml")], "", "not a list we can read"),
    ([(b'{"id": "x", "schema": "Person", "properties": {"name": ["A"]}}\n{broken', "entities.ftm.json")], "",
     "not a valid OpenSanctions (FtM) file: entities.ftm.json, line 2"),
    ([(b"<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><DATAID>1", "consolidated.xml")], "",
     "not a valid UN Security Council file: consolidated.xml"),
    ([(b"not a zip at all", "sdn.zip")], "ofac-sdn", "The OFAC SDN list is four CSV files"),
])
def test_a_bad_file_is_refused_at_the_field_with_nothing_saved(app, client, files, source, message):
    sign_in_staff(client)
    response = upload(client, files, source)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page.replace("&#39;", "'").replace("&#34;", '"')
    assert 'class="field-error" id="files-error"' in page
    assert nothing_saved(app)


def test_the_wrong_format_or_an_incomplete_ofac_upload_is_refused(app, client, tmp_path):
    sign_in_staff(client)
    wrong = upload(client, [(ofac_zip(OFAC_SAMPLE), "sdn.zip")], "un-xml")
    assert wrong.status_code == 422
    assert "This looks like the OFAC SDN list, not UN Security Council" in wrong.get_data(as_text=True)

    also_wrong = upload(client, [(UN_SAMPLE.read_bytes(), "consolidated.xml")], "ftm")
    assert "This looks like the UN Security Council list, not OpenSanctions (FtM)" in also_wrong.get_data(as_text=True)

    short_zip = upload(client, [(ofac_zip(OFAC_SAMPLE, leave_out="alt.csv"), "sdn.zip")])
    assert "The zip does not hold the whole OFAC SDN list; missing: alt.csv." in short_zip.get_data(as_text=True)

    three_files = upload(client, [f for f in ofac_files(OFAC_SAMPLE) if f[1] != "add.csv"])
    assert "missing: add.csv" in three_files.get_data(as_text=True)

    broken = tmp_path / "broken"
    broken.mkdir()
    for body, name in ofac_files(OFAC_SAMPLE):
        (broken / name).write_bytes(body)
    (broken / "sdn.csv").write_bytes((broken / "sdn.csv").read_bytes() + b'99002,"ONLY THREE","entity"\n')
    bad_row = upload(client, ofac_files(broken))
    assert bad_row.status_code == 422
    text = bad_row.get_data(as_text=True)
    assert "This is not a valid OFAC SDN file: sdn.csv, line 18" in text and str(broken) not in text
    assert nothing_saved(app)


def test_an_upload_imports_shows_the_changes_and_the_rescreens_new_hit(app, client, tmp_path):
    user = make_applicant()
    application = complete_application(user)
    submit(application, user)  # in document review: monitored
    sign_in_staff(client)

    # The first version, as a zip (the folder inside it does not matter).
    first = upload(client, [(ofac_zip(OFAC_SAMPLE), "sdn_csv.zip")])
    assert first.status_code == 302 and "/imports/" in first.headers["Location"]
    run = db.session.scalar(select(ListImport))
    assert run.state == IMPORTED and run.origin == "upload" and run.requested_by == ADMIN
    v1 = current_snapshot("ofac-sdn")
    assert v1.entry_count == 17 and v1.imported_by == ADMIN
    assert db.session.scalar(select(ScreeningHit)) is None

    # A changed version, as the four CSV files: the applicant's company is now listed, one entry delisted.
    second = upload(client, ofac_files(changed_ofac(tmp_path / "v2")))
    assert second.status_code == 302
    run_page = client.get(second.headers["Location"]).get_data(as_text=True)
    run = db.session.scalar(select(ListImport).order_by(ListImport.id.desc()))
    assert run.state == IMPORTED and run.previous_snapshot_id == v1.id
    assert current_snapshot("ofac-sdn").id == run.snapshot_id != v1.id
    assert "Version 2 is now the current list" in run_page
    assert "<strong>1</strong> entry added, <strong>1</strong> removed" in run_page
    assert "NORTHWIND LIQUIDITY LTD" in run_page and "GADDAFI INTERNATIONAL CHARITY" in run_page
    assert "1 institution re-screened" in run_page
    hit = db.session.scalar(select(ScreeningHit))
    assert hit.application_id == application.id and hit.external_id == "99001" and run.new_hit_ids == [hit.id]
    assert "New possible matches <span class=\"muted\">(1)</span>" in run_page
    assert f"/staff/applications/{application.id}" in run_page
    assert '<meta http-equiv="refresh"' not in run_page, "a finished import stops refreshing"

    progress = client.get(f"{PAGE}/imports/{run.id}/progress").get_json()
    assert progress["finished"] and progress["state"] == "imported" and progress["new_hits"] == 1
    assert (progress["entries_added"], progress["entries_removed"]) == (1, 1)

    lists_page = client.get(PAGE).get_data(as_text=True)
    assert "Current: version 2" in lists_page and "+1 / −1" in lists_page
    snapshot_page = client.get(f"{PAGE}/snapshots/{run.snapshot_id}").get_data(as_text=True)
    assert "NORTHWIND LIQUIDITY LTD" in snapshot_page and "GADDAFI INTERNATIONAL CHARITY" in snapshot_page

    requested = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sanctions.import_requested")).all()
    assert [event.actor_label for event in requested] == [ADMIN, ADMIN]
    assert requested[-1].details["entries_checked"] == 17
    imported = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sanctions.imported")).all()
    assert len(imported) == 2 and imported[-1].actor_label == ADMIN

    # The same file again: nothing imported, said so.
    again = upload(client, ofac_files(tmp_path / "v2"))
    again_page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "No change" in again_page and "nothing was imported" in again_page
    assert db.session.scalar(select(func.count()).select_from(ListSnapshot)) == 2


def test_un_and_ftm_uploads_are_told_apart_by_their_content(app, client):
    sign_in_staff(client)
    response = upload(client, [(UN_SAMPLE.read_bytes(), "download (3).xml")])
    assert response.status_code == 302
    assert current_snapshot("un-xml").entry_count == 35
    response = upload(client, [(FTM_SAMPLE.read_bytes(), "export.jsonl")])
    assert response.status_code == 302
    ftm = current_snapshot("ftm")
    assert ftm is not None and ftm.entry_count > 0 and ftm.imported_by == ADMIN


def test_import_from_the_official_address_and_a_failed_download_on_the_page(make_app, client, tmp_path):
    with ListServer() as server:
        server.serve_un(UN_SAMPLE)
        app = make_app(**server.config(), SANCTIONS_DIR=str(tmp_path / "sanctions"))
        app.test_client_class = FreshStateClient
        client = app.test_client()
        sign_in_staff(client)
        page = client.get(PAGE).get_data(as_text=True)
        assert f"From <code>{server.url}/un/consolidated.xml</code>" in page

        token = csrf_token_from(page)
        response = client.post(f"{PAGE}/official/un-xml", data={"csrf_token": token})
        assert response.status_code == 302
        assert current_snapshot("un-xml").entry_count == 35
        run = db.session.scalar(select(ListImport))
        assert run.origin == "official" and run.state == IMPORTED and run.requested_by == ADMIN

        server.failures["/un/consolidated.xml"] = 503
        client.post(f"{PAGE}/official/un-xml", data={"csrf_token": token})
        page = client.get(PAGE).get_data(as_text=True)
        assert "Last import failed" in page and "HTTP 503" in page
        assert current_snapshot("un-xml").id == run.snapshot_id

        # OFAC's address answers 404 for every file here: refused whole, nothing imported.
        client.post(f"{PAGE}/official/ofac-sdn", data={"csrf_token": token})
        assert current_snapshot("ofac-sdn") is None
        assert client.post(f"{PAGE}/official/nonsense", data={"csrf_token": token}).status_code == 404


def test_a_cli_import_appears_as_a_version_with_its_changes(app, client):
    import_list("ofac-sdn", OFAC_SAMPLE, actor_label="cli")
    db.session.commit()
    sign_in_staff(client)
    page = client.get(PAGE).get_data(as_text=True)
    assert "Current: version 1" in page and "First version" in page and "cli" in page


def test_a_rescreening_in_progress_is_shown_and_followed(app, client):
    snapshot, _ = import_list("ofac-sdn", OFAC_SAMPLE, actor_label=ADMIN)
    run = ListImport(source="ofac-sdn", origin="upload", state=IMPORTED, requested_by=ADMIN, filename="sdn.zip",
                     snapshot_id=snapshot.id, entries_added=17, entries_removed=0, rescreen_state="running",
                     rescreen_total=250, rescreen_done=100, new_hit_ids=[])
    db.session.add(run)
    db.session.commit()
    sign_in_staff(client)
    page = client.get(f"{PAGE}/imports/{run.id}").get_data(as_text=True)
    assert '<progress max="250" value="100"' in page and "100 of 250" in page
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "This is the first version of the list imported here" in page
    progress = client.get(f"{PAGE}/imports/{run.id}/progress").get_json()
    assert progress["finished"] is False and (progress["rescreen_done"], progress["rescreen_total"]) == (100, 250)
    lists_page = client.get(PAGE).get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="3">' in lists_page and "100 of 250" in lists_page
    assert client.get(f"{PAGE}/imports/{run.id + 1}").status_code == 404
