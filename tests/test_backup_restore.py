"""The restore drill: scripts/backup.sh backs up a PostgreSQL database with real data (an approved
application with its documents and approval letter) and its document storage; scripts/restore.sh restores
them into a new database and directory and checks them. Then the audit chain verifies, every document and
the letter open to their SHA-256, and every table has the rows it had. Runs on a throwaway PostgreSQL of its
own, whatever TEST_DATABASE says."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select

from onboarding import create_app
from onboarding.audit.operations import verify_chain
from onboarding.db import db
from onboarding.documents.models import Document
from onboarding.documents.operations import associated_data
from onboarding.letters.models import ApprovalLetter
from onboarding.letters.operations import verified_pdf
from onboarding.storage import document_store

from .conftest import ROOT, base_config
from .services import PostgresServer
from .test_letters import approved_application, issue

KEYS = "k2026:" + base64.b64encode(b"backup-drill-key-32-bytes-long!!").decode()


@pytest.fixture(scope="module")
def postgres():
    server = PostgresServer()
    server.start()
    yield server
    server.cleanup()


def new_database(server: PostgresServer, name: str) -> str:
    server._run(server.bin / "createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", server.user, name)
    return server.url.rsplit("/", 1)[0] + "/" + name


def app_on(url: str, documents) -> object:
    return create_app({**base_config(url), "DOCUMENTS_DIR": str(documents), "ENCRYPTION_KEYS": KEYS})


def row_counts() -> dict[str, int]:
    return {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def script(name: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "scripts" / name), *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "APP_ENV": "testing", "ENCRYPTION_KEYS": KEYS, "PYTHON": sys.executable,
                               **env}, timeout=300)


def test_backup_then_restore_into_a_new_database_gives_back_everything(postgres, tmp_path):
    source_url = new_database(postgres, "onboarding_live")
    live_documents = tmp_path / "live-documents"
    live = app_on(source_url, live_documents)
    with live.app_context():
        upgrade()
        application, approver = approved_application()
        letter = issue(application, approver)
        documents = {d.storage_key: (d.application_id, d.sha256) for d in db.session.scalars(select(Document))}
        letter_sha256 = letter.sha256
        before = row_counts()
        db.session.remove()
        db.engine.dispose()
    assert len(documents) >= 5 and before["audit_events"] > 0 and before["approval_letters"] == 1

    backup_dir = tmp_path / "backups" / "2026-12-05"
    backed_up = script("backup.sh", str(backup_dir), DATABASE_URL=source_url, DOCUMENTS_DIR=str(live_documents),
                       PG_DUMP=str(postgres.bin / "pg_dump"))
    assert backed_up.returncode == 0, backed_up.stderr
    assert f"{len(documents) + 1} stored files" in backed_up.stdout  # the documents and the letter
    assert not (tmp_path / "backups" / "2026-12-05.partial").exists()

    restored_url = new_database(postgres, "onboarding_restored")
    restored_documents = tmp_path / "restored-documents"
    restored = script("restore.sh", str(backup_dir), DATABASE_URL=restored_url,
                      DOCUMENTS_DIR=str(restored_documents), PG_RESTORE=str(postgres.bin / "pg_restore"))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "Audit log intact" in restored.stdout
    assert f"documents: k2026: {len(documents)}" in restored.stdout

    with app_on(restored_url, restored_documents).app_context():
        assert row_counts() == before
        assert verify_chain().ok
        store = document_store()
        for storage_key, (application_id, sha256) in documents.items():
            data = store.read_all(storage_key, associated_data=associated_data(application_id))
            assert hashlib.sha256(data).hexdigest() == sha256
        letter = db.session.scalars(select(ApprovalLetter)).one()
        assert hashlib.sha256(verified_pdf(letter)).hexdigest() == letter_sha256
        db.session.remove()
        db.engine.dispose()

    # Restoring over a database that is not empty fails and changes nothing.
    again = script("restore.sh", str(backup_dir), DATABASE_URL=restored_url,
                   DOCUMENTS_DIR=str(tmp_path / "other-documents"), PG_RESTORE=str(postgres.bin / "pg_restore"))
    assert again.returncode != 0
    with app_on(restored_url, restored_documents).app_context():
        assert row_counts() == before
        db.engine.dispose()


def test_a_damaged_backup_is_refused_before_anything_is_restored(postgres, tmp_path):
    source_url = new_database(postgres, "onboarding_small")
    documents = tmp_path / "documents"
    with app_on(source_url, documents).app_context():
        upgrade()
        approved_application()
        db.session.remove()
        db.engine.dispose()
    backup_dir = tmp_path / "backup"
    assert script("backup.sh", str(backup_dir), DATABASE_URL=source_url, DOCUMENTS_DIR=str(documents),
                  PG_DUMP=str(postgres.bin / "pg_dump")).returncode == 0
    stored = next(path for path in (backup_dir / "documents").rglob("*") if path.is_file())
    stored.write_bytes(stored.read_bytes()[:-1])  # one byte lost in transit

    target = new_database(postgres, "onboarding_target")
    refused = script("restore.sh", str(backup_dir), DATABASE_URL=target, DOCUMENTS_DIR=str(tmp_path / "out"),
                     PG_RESTORE=str(postgres.bin / "pg_restore"))
    assert refused.returncode != 0
    assert "FAILED" in refused.stdout + refused.stderr
    assert not (tmp_path / "out").exists()
