"""The models and the Alembic migrations agree, and the migrations go down and up again."""

from __future__ import annotations

import logging
import uuid
from contextlib import contextmanager
from pathlib import Path
from pprint import pformat

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from onboarding import create_app
from onboarding.db import db

# The newest migration, read from the migrations folder so a new migration needs no test edit.
HEAD = ScriptDirectory(str(Path(__file__).resolve().parent.parent / "migrations")).get_current_head()

EXPECTED_TABLES = {
    "audit_events", "email_messages", "institutions", "login_attempts", "outbox_jobs", "recovery_codes",
    "staff_roles", "users", "applications", "application_parties", "ownership_links", "documents",
    "rule_versions", "agreements", "check_results", "sanctions_lists", "sanctions_entries", "sanctions_aliases",
    "screening_hits", "link_signals", "case_notes", "change_requests", "qualification_reviews", "approval_letters",
}


def test_models_match_the_migrated_schema(make_app):
    app = make_app()
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
        tables = set(inspect(connection).get_table_names())
    assert diff == [], "models and migrations disagree; run `flask --app app db migrate`:\n" + pformat(diff)
    assert {t.name for t in db.metadata.sorted_tables} >= EXPECTED_TABLES
    assert tables >= EXPECTED_TABLES | {"alembic_version"}


def schema_of(app) -> tuple[set[str], str | None, bool]:
    """(tables, alembic revision, whether the audit trigger exists) of the app's database."""
    with db.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        revision = MigrationContext.configure(connection).get_current_revision()
        trigger = False
        if connection.dialect.name == "postgresql":
            trigger = bool(connection.scalar(
                text("SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_events_append_only'")
            ))
    return tables, revision, trigger


@contextmanager
def logging_left_as_it_was():
    """migrations/env.py calls logging.config.fileConfig, which disables every logger that
    already exists; put the logging state back so later tests still see their logs."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = {name: (lg.disabled, lg.level) for name, lg in logging.root.manager.loggerDict.items()
               if isinstance(lg, logging.Logger)}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lg in logging.root.manager.loggerDict.items():
            if isinstance(lg, logging.Logger) and name in loggers:
                lg.disabled, lg.level = loggers[name]


def round_trip(database_url: str) -> None:
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": database_url})
    postgresql = make_url(database_url).get_backend_name() == "postgresql"
    with app.app_context(), logging_left_as_it_was():
        try:
            upgrade()
            tables, revision, trigger = schema_of(app)
            assert tables == EXPECTED_TABLES | {"alembic_version"}
            assert revision == HEAD
            assert trigger is postgresql

            downgrade(revision="base")
            tables, revision, trigger = schema_of(app)
            assert tables <= {"alembic_version"}, f"downgrade left tables behind: {tables}"
            assert revision is None
            assert trigger is False

            upgrade()
            tables, revision, trigger = schema_of(app)
            assert tables == EXPECTED_TABLES | {"alembic_version"}
            assert revision == HEAD
            assert trigger is postgresql

            # The upgraded schema is usable: a row goes in and comes out.
            from onboarding.audit.operations import record, verify_chain

            record("schema.checked", "schema", "0001", {"ok": True})
            db.session.commit()
            assert verify_chain().checked == 1
        finally:
            db.session.remove()
            db.engine.dispose()


def test_downgrade_to_base_and_upgrade_again_on_a_fresh_sqlite_file(tmp_path):
    round_trip(f"sqlite:///{tmp_path / 'x.db'}")


def test_downgrade_and_upgrade_on_a_fresh_database_of_the_suite_kind(migrated, tmp_path):
    """On PostgreSQL, the same round trip on a new database of the test server (the trigger is
    dropped and created again); on SQLite, on another fresh file."""
    url = make_url(migrated)
    if url.get_backend_name() != "postgresql":
        round_trip(f"sqlite:///{tmp_path / 'suite-kind.db'}")
        return
    name = f"roundtrip_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            round_trip(url.set(database=name).render_as_string(hide_password=False))
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()
