"""The models and the Alembic migrations agree, and the migrations go down and up again."""

from __future__ import annotations

import json
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
from onboarding.textsearch import is_search_object

# The newest migration, read from the migrations folder so a new migration needs no test edit.
HEAD = ScriptDirectory(str(Path(__file__).resolve().parent.parent / "migrations")).get_current_head()

EXPECTED_TABLES = {
    "audit_events", "email_messages", "institutions", "login_attempts", "outbox_jobs", "recovery_codes",
    "staff_roles", "users", "applications", "application_parties", "ownership_links", "documents",
    "rule_versions", "agreements", "check_results", "sanctions_lists", "sanctions_entries", "sanctions_aliases",
    "screening_hits", "link_signals", "case_notes", "change_requests", "qualification_reviews", "approval_letters",
    "access_grants", "allowlist_changes", "api_keys", "api_key_events", "api_key_usage", "seen_signatures",
    "service_tokens", "investigations", "violations", "investigation_proposals", "notices", "referrals",
    "staff_invitations", "admin_grants", "sanctions_imports",
}


def test_models_match_the_migrated_schema(make_app):
    app = make_app()
    with app.app_context(), db.engine.connect() as connection:
        # The text-search objects of 0013 are the migration's own (tests/test_textsearch.py checks them).
        context = MigrationContext.configure(connection, opts={
            "compare_type": True,
            "include_name": lambda name, type_, parents: not (type_ in ("table", "index") and is_search_object(name))})
        diff = compare_metadata(context, db.metadata)
        tables = set(inspect(connection).get_table_names())
    assert diff == [], "models and migrations disagree; run `flask --app app db migrate`:\n" + pformat(diff)
    assert {t.name for t in db.metadata.sorted_tables} >= EXPECTED_TABLES
    assert tables >= EXPECTED_TABLES | {"alembic_version"}


def schema_of(app) -> tuple[set[str], str | None, bool]:
    """(tables, alembic revision, whether the audit trigger exists) of the app's database."""
    with db.engine.connect() as connection:
        tables = {t for t in inspect(connection).get_table_names() if not is_search_object(t)}
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


# --- 0005: the grant moves from the application to the institution -------------------------------


def fresh_database_of_the_suite_kind(migrated, tmp_path):
    """A new empty database of the kind the suite runs on, and a function that drops it."""
    url = make_url(migrated)
    if url.get_backend_name() != "postgresql":
        return f"sqlite:///{tmp_path / 'populated.db'}", lambda: None
    name = f"populated_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def populate_at_0004(connection) -> dict[str, int]:
    """Two institutions as 0004 left them: one approved twice (an old and a newer application, the
    newer one's grant copied onto it), one approved with the grant only on its qualification review."""
    now = "2026-11-30 10:00:00+00:00"
    ids = {}

    def insert(table: str, **values) -> int:
        columns = ", ".join(values)
        params = ", ".join(f":{k}" for k in values)
        statement = f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING id"  # noqa: S608 (literal names)
        return connection.execute(text(statement), values).scalar_one()

    ids["approver"] = insert("users", email="avery@exchange.example", full_name="Avery", password_hash="x",
                             kind="staff", session_version=1, is_active=True, created_at=now)
    ids["north"] = insert("institutions", legal_name="Northwind", status="active", created_at=now)
    ids["south"] = insert("institutions", legal_name="Southwind", status="active", created_at=now)

    def application(institution: str, reference: str, decided: str, **grant) -> int:
        return insert("applications", institution_id=ids[institution], created_by_id=ids["approver"],
                      state="approved", reference=reference, mm_venues="[]", pairs="[]", steps_saved="{}",
                      trading_names="[]", requested_scopes='["market:read"]',
                      ip_allowlist='["203.0.113.7"]', check_round=1, lock_version=1, created_at=now,
                      updated_at=now, state_changed_at=decided, decided_at=decided,
                      needs_compliance_signoff=False, checks_planned=0, **grant)

    ids["north_old"] = application("north", "KYB-1", "2026-01-01 09:00:00+00:00", granted_scopes='["market:read"]',
                                   rate_tier="standard", max_keys=2)
    ids["north_new"] = application("north", "KYB-2", "2026-11-01 09:00:00+00:00",
                                   granted_scopes='["market:read", "spot:trade"]', rate_tier="premier", max_keys=9)
    ids["south_app"] = application("south", "KYB-3", "2026-11-02 09:00:00+00:00", granted_scopes="[]")
    insert("qualification_reviews", application_id=ids["south_app"], round=1, reviewer_id=ids["approver"],
           scores="{}", total_score=20, granted_scopes='["account:read"]', rate_tier="professional", max_keys=4,
           created_at=now)
    insert("audit_events", occurred_at=now, actor_id=ids["approver"], actor_label="avery@exchange.example",
           action="application.approve", subject_type="application", subject_id=str(ids["north_new"]),
           details="{}", prev_hash="0" * 64, hash="1" * 64)
    return ids


def test_0005_moves_existing_grants_to_their_institutions_and_back(migrated, tmp_path):
    url, drop = fresh_database_of_the_suite_kind(migrated, tmp_path)
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": url})
    try:
        with app.app_context(), logging_left_as_it_was():
            upgrade(revision="0004")
            with db.engine.begin() as connection:
                ids = populate_at_0004(connection)

            upgrade(revision="0005")
            with db.engine.connect() as connection:
                rows = connection.execute(text(
                    "SELECT institution_id, application_id, scopes, rate_tier, max_keys, ip_allowlist, "
                    "granted_by_id, superseded_at IS NULL AS current FROM access_grants ORDER BY id")).all()
                columns = {c["name"] for c in inspect(connection).get_columns("applications")}
            grants = [(r.institution_id, r.application_id, _json(r.scopes), r.rate_tier, r.max_keys,
                       _json(r.ip_allowlist), r.granted_by_id, bool(r.current)) for r in rows]
            assert grants == [
                (ids["north"], ids["north_old"], ["market:read"], "standard", 2, ["203.0.113.7"], None, False),
                (ids["north"], ids["north_new"], ["market:read", "spot:trade"], "premier", 9, ["203.0.113.7"],
                 ids["approver"], True),
                (ids["south"], ids["south_app"], ["account:read"], "professional", 4, ["203.0.113.7"], None, True),
            ]
            assert not {"granted_scopes", "rate_tier", "max_keys"} & columns

            downgrade(revision="0004")
            with db.engine.connect() as connection:
                back = {r.id: (_json(r.granted_scopes), r.rate_tier, r.max_keys) for r in connection.execute(text(
                    "SELECT id, granted_scopes, rate_tier, max_keys FROM applications"))}
                tables = set(inspect(connection).get_table_names())
            assert back == {ids["north_old"]: (["market:read"], "standard", 2),
                            ids["north_new"]: (["market:read", "spot:trade"], "premier", 9),
                            ids["south_app"]: (["account:read"], "professional", 4)}
            assert "access_grants" not in tables
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()


def _json(value):
    return json.loads(value) if isinstance(value, str) else value
