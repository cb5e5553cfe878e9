"""Staff text search through the engines' own indexes (onboarding/textsearch.py, migration 0013):
the same rows as a plain ILIKE scan for any fragment, rows kept in step by the triggers, the index
actually used, special characters as literal text through HTTP, and the migration up and down."""

from __future__ import annotations

import string
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, inspect, or_, select, text

from onboarding import create_app
from onboarding.applications.models import Application
from onboarding.audit.models import AuditEvent
from onboarding.audit.operations import record
from onboarding.db import db
from onboarding.enforcement.queries import compliance_queue
from onboarding.institutions.models import Institution
from onboarding.review.queues import QUEUES, SORTS, Filters, apply_filters, awaiting_signoff, base_query
from onboarding.textsearch import SEARCH_INDEXES, containing, is_search_object, like_pattern
from tests.factories import granted_institution, make_staff
from tests.test_enforcement import frozen_case
from tests.test_migrations import fresh_database_of_the_suite_kind, logging_left_as_it_was
from tests.test_review_pages import make_listed, sign_in

# Names a search must cope with: several scripts and cases, LIKE and FTS5 syntax characters, quotes.
NAMES = [
    "Northwind Liquidity Ltd", "NORTHWIND Capital", "Ärzte Handelsbank AG", "ÄRZTE Versorgung", "Straße Markets",
    "İstanbul Menkul Değerler", "Οδυσσέας Capital", "ΟΔΥΣΣΕΑΣ Trading", "北京交易所有限公司", "東京 Markets 株式会社",
    "Москва Трейд", "МОСКВА ТРЕЙД", "100% Reserve_Ltd", "1000 Reserve Ltd", 'The "Quote" Company', "O'Brien & Sons",
    "NEAR AND OR NOT Ltd", "star*power fund", "back\\slash partners", "Rocket 🚀 Fund", "  spaced  out  ",
    "a_b%c Holdings", "abc Holdings", "Ǆemal Trading", "ﬁnance ligature", "Ⅻ Roman Markets",
    "(brackets) [and] {braces}", "colon: caret^ minus- plus+", "x", "xy", "Ünïcödé Ñame", "ünïcödé ñame",
]
SPECIAL = ['%', '_', '\\', '"', "'", '*', 'NEAR', 'AND', 'OR', 'NOT', '"Quote"', 'e" OR "a', '{legal_name}:', '^',
           '-', '+', ':', '(', ')', '""', '%_', '0%', 'a_b', '\\s', 'NEAR(a b)', 'AND NOT', '*power', "O'B", ' ', '  ']

NO_SURROGATES = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


def postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def ids_where(model, condition, *, use_index: bool) -> set[int]:
    """Ids matching, with PostgreSQL made to use the trigram indexes (use_index) or to scan (not)."""
    with db.session.begin_nested():
        if postgresql():
            settings_ = ("SET LOCAL enable_seqscan = off",) if use_index else \
                ("SET LOCAL enable_bitmapscan = off", "SET LOCAL enable_indexscan = off")
            for statement in settings_:
                db.session.execute(text(statement))
        found = set(db.session.scalars(select(model.id).where(condition)))
        if postgresql():
            db.session.execute(text("RESET enable_seqscan"))
            db.session.execute(text("RESET enable_bitmapscan"))
            db.session.execute(text("RESET enable_indexscan"))
    return found


def plain_ilike(fragment: str, *columns):
    """The reference: ILIKE on the table itself, no text index involved."""
    return or_(*(c.ilike(like_pattern(fragment), escape="\\") for c in columns))


def fragments_of(names: list[str]):
    def cut(name_and_bounds):
        name, a, b, case = name_and_bounds
        piece = name[min(a, b):max(a, b)]
        return {"same": piece, "upper": piece.upper(), "lower": piece.lower(), "swap": piece.swapcase()}[case]

    return st.tuples(st.sampled_from(names), st.integers(0, 30), st.integers(0, 30),
                     st.sampled_from(["same", "upper", "lower", "swap"])).map(cut)


def fragments(names: list[str]):
    return st.one_of(fragments_of(names), st.sampled_from(SPECIAL),
                     st.text(NO_SURROGATES, min_size=1, max_size=6),
                     st.text(string.ascii_letters + string.digits + ' %_"*\\', min_size=1, max_size=6))


@pytest.fixture
def populated(app):
    applications = make_listed([{"legal_name": name} for name in NAMES])
    for application, name in zip(applications, reversed(NAMES), strict=True):
        application.reference = f"REF-{name[:12]}"
        application.registration_number = name[-10:].upper()
    for name in NAMES:
        record("search.tested", name[:40], name[-20:], actor_label=f"{name[:30]}@example.test")
    db.session.commit()
    return applications


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fragment=fragments(NAMES))
def test_every_search_finds_exactly_what_a_plain_ilike_finds(populated, fragment):
    fragment = fragment.strip() or fragment  # the pages strip; the function must cope either way
    app_columns = (Application.legal_name, Application.reference, Application.registration_number)
    assert ids_where(Application, containing(fragment, *app_columns), use_index=True) == \
        ids_where(Application, plain_ilike(fragment, *app_columns), use_index=False)
    assert ids_where(Institution, containing(fragment, Institution.legal_name), use_index=True) == \
        ids_where(Institution, plain_ilike(fragment, Institution.legal_name), use_index=False)
    audit_columns = (AuditEvent.actor_label, AuditEvent.action, AuditEvent.subject_type, AuditEvent.subject_id)
    assert ids_where(AuditEvent, containing(fragment, *audit_columns), use_index=True) == \
        ids_where(AuditEvent, plain_ilike(fragment, *audit_columns), use_index=False)


def legal_name_ids(fragment: str) -> set[int]:
    return ids_where(Application, containing(fragment, Application.legal_name), use_index=True)


def test_obvious_matches_across_scripts_and_special_characters(populated):
    by_name = {a.legal_name: a.id for a in populated}
    assert legal_name_ids("northwind") == {by_name["Northwind Liquidity Ltd"], by_name["NORTHWIND Capital"]}
    assert legal_name_ids("交易所") == {by_name["北京交易所有限公司"]}
    # PostgreSQL's ILIKE folds every script's case; SQLite's (lower()) folds ASCII only, with or without
    # the index: the index never changes what a search finds.
    assert legal_name_ids("Трейд") == {by_name["Москва Трейд"]} | ({by_name["МОСКВА ТРЕЙД"]} if postgresql() else set())
    assert legal_name_ids("0%") == {by_name["100% Reserve_Ltd"]}, "% is text, not a wildcard"
    assert legal_name_ids("a_b") == {by_name["a_b%c Holdings"]}, "_ is text, not a wildcard"
    assert legal_name_ids('"Quote"') == {by_name['The "Quote" Company']}
    assert legal_name_ids("NEAR AND") == {by_name["NEAR AND OR NOT Ltd"]}, "FTS5 operators are text"
    assert legal_name_ids("*power") == {by_name["star*power fund"]}
    assert legal_name_ids("k\\s") == {by_name["back\\slash partners"]}
    assert legal_name_ids("🚀") == {by_name["Rocket 🚀 Fund"]}
    # Shorter than a trigram: a plain scan, still correct.
    assert legal_name_ids("xy") == {by_name["xy"]}
    assert legal_name_ids("x") >= {by_name["x"], by_name["xy"]}
    assert legal_name_ids("") == {a.id for a in populated}, "nothing typed: everything, as ILIKE '%%'"


def test_rows_written_after_the_migration_are_found_and_changed_or_removed_ones_are_not(app):
    [application] = make_listed([{"legal_name": "Quillfeather Markets"}])
    institution = db.session.get(Institution, application.institution_id)
    event_ = record("case.searched", "application", "QF-77", actor_label="quill@exchange.example")
    db.session.commit()
    assert legal_name_ids("illfeath") == {application.id}
    assert ids_where(Institution, containing("QUILLFEATHER", Institution.legal_name), use_index=True) == \
        {institution.id}
    assert ids_where(AuditEvent, containing("quill@exch", AuditEvent.actor_label), use_index=True) == {event_.id}

    application.legal_name = "Brightwater Markets"
    institution.legal_name = "Brightwater Markets"
    db.session.commit()
    assert legal_name_ids("illfeath") == set()
    assert legal_name_ids("ightwat") == {application.id}
    assert ids_where(Institution, containing("quillfeather", Institution.legal_name), use_index=True) == set()
    assert ids_where(Institution, containing("brightwater", Institution.legal_name), use_index=True) == \
        {institution.id}
    # A reference changed on its own is found too (the update trigger watches every searched column).
    application.reference = "ZZQ-4242"
    db.session.commit()
    assert ids_where(Application, containing("zq-42", Application.reference), use_index=True) == {application.id}

    db.session.delete(application)
    db.session.commit()
    assert legal_name_ids("ightwat") == set()
    if not postgresql():
        # The FTS5 table holds no entry for the deleted row (an external-content index would otherwise
        # hand back a rowid whose row is gone, or a new row reusing it would match the old text).
        assert db.session.scalar(text("SELECT count(*) FROM applications_search WHERE applications_search "
                                      "MATCH '\"ightwat\"'")) == 0


def test_the_database_answers_from_its_text_index(populated):
    query = select(Application.id).where(containing("northwind", Application.legal_name, Application.reference))
    compiled = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if postgresql():
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table would be scanned anyway
        plan = "\n".join(db.session.scalars(text(f"EXPLAIN {compiled}")))
        db.session.rollback()
        assert "ix_applications_legal_name_trgm" in plan and "ix_applications_reference_trgm" in plan, plan
    else:
        plan = "\n".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert "SCAN applications_search VIRTUAL TABLE INDEX" in plan, plan
        assert "SCAN applications\n" not in plan + "\n", plan
    # Two characters have no trigram: a scan, said so in onboarding/textsearch.py.
    short = str(select(Application.id).where(containing("no", Application.legal_name)).compile(
        db.engine, compile_kwargs={"literal_binds": True}))
    assert "applications_search" not in short


def plan_of(query, *, ordered: bool = False) -> str:
    """The plan of `query`. `ordered`: on PostgreSQL, whether an index can hand the rows over in the query's
    order (a few rows left by earlier tests make a bitmap scan and a sort cheaper; 50,000 do not)."""
    compiled = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if postgresql():
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # tiny tables would be scanned anyway
        if ordered:
            db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
            db.session.execute(text("SET LOCAL enable_sort = off"))
        plan = "\n".join(db.session.scalars(text(f"EXPLAIN {compiled}")))
        db.session.rollback()
        return plan
    return "\n".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


def test_the_jurisdiction_and_risk_filter_and_the_navigation_counts_read_an_index_alone(app):
    """Why /staff/applications?jurisdiction=DE&risk=high was x3.1 (and every staff page slower at 50,000
    applications): the filter counted by visiting every submitted application, and the navigation's
    compliance count visited every case in review, SQLite preferring the (state, risk_score) index."""
    filtered = apply_filters(base_query(None), Filters(jurisdiction="DE", risk_band="high"), user_id=1)
    plan = plan_of(filtered.order_by(Application.submitted_at.desc(), Application.id.desc()).limit(25))
    assert "ix_applications_jurisdiction_risk" in plan, plan
    by_risk = plan_of(apply_filters(base_query(QUEUES["documents"]), Filters(sort="risk"), user_id=1)
                      .order_by(*SORTS["risk"][1]()).limit(25), ordered=True)
    assert "ix_applications_state_risk_score" in by_risk and "Sort" not in by_risk and "B-TREE" not in by_risk, \
        by_risk
    signoff = plan_of(select(func.count()).select_from(Application).where(*awaiting_signoff()))
    assert "ix_applications_awaiting_signoff" in signoff, signoff
    if not postgresql():
        assert "COVERING INDEX ix_applications_jurisdiction_risk" in plan and "TEMP B-TREE" not in plan, plan
        assert "COVERING INDEX ix_applications_awaiting_signoff" in signoff, signoff


def test_a_column_without_a_text_index_is_refused_by_the_programmer_not_the_user():
    with pytest.raises(ValueError, match="no text index covers applications"):
        containing("abc", Application.jurisdiction)


def count_statements():
    statements = []

    def listener(*args, **kwargs):
        statements.append(args[2])

    @contextmanager
    def counting():
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            statements.clear()
            yield statements
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)

    return counting


def test_searching_pages_cost_the_same_statements_and_take_any_text(app, client, populated):
    make_staff("dana@exchange.example", "Dana Documents", ["document_reviewer", "compliance"])
    make_staff("avery@exchange.example", "Avery Admin", ["admin"])
    sign_in(client, "dana@exchange.example")
    counting = count_statements()
    pages = ["/staff/queues/documents", "/staff/applications", "/staff/queues/compliance", "/staff/investigations"]
    for page in pages:
        client.get(page)
        with counting() as plain:
            assert client.get(page).status_code == 200
        plain_count = len(plain)
        for fragment in ["northwind", "no", "0%", "%", "_", '"', "'", "NEAR", 'a" OR "b', "*", "交易所", "\\"]:
            with counting() as searched:
                response = client.get(page, query_string={"q": fragment})
            assert response.status_code == 200, (page, fragment)
            assert len(searched) == plain_count, (page, fragment, searched)

    queue = client.get("/staff/queues/documents", query_string={"q": "0%"}).get_data(as_text=True)
    assert "100% Reserve_Ltd" in queue and "1000 Reserve Ltd" not in queue
    expected = ids_where(Application, plain_ilike("0%", Application.legal_name, Application.reference,
                                                  Application.registration_number), use_index=False)
    assert f"<strong>{len(expected)}</strong> case" in queue


def test_the_compliance_queue_searches_by_institution_name(app):
    frozen_case(granted_institution())
    frozen_case(granted_institution(email="desk@reserve.example", legal_name="100% Reserve Desk GmbH"),
                reference="SURV-2")

    def names(search: str) -> list[str]:
        return [name for _, name in compliance_queue(search=search)]

    assert names("evergreen") == ["Evergreen Liquidity BV"]
    assert names("0% res") == ["100% Reserve Desk GmbH"]
    assert names("%") == ["100% Reserve Desk GmbH"], "% is text, not a wildcard"
    assert names("_") == [] and names('" OR "') == [] and names("NEAR") == []
    assert sorted(names("li")) == ["Evergreen Liquidity BV"], "two characters: a scan, still right"


def test_the_audit_log_searches_who_what_and_which_subject(app, client):
    make_staff("avery@exchange.example", "Avery Admin", ["admin"])
    record("application.approve", "application", "4711", actor_label="rory@exchange.example")
    record("key.revoke", "api_key", "K-99", actor_label="sam@exchange.example")
    db.session.commit()
    sign_in(client, "avery@exchange.example")

    def rows(query: dict) -> str:
        response = client.get("/staff/audit", query_string=query)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    approve, revoke = "<code>application.approve</code>", "<code>key.revoke</code>"
    by_actor = rows({"q": "RORY@"})
    assert approve in by_actor and revoke not in by_actor
    by_subject = rows({"q": "api_k"})
    assert revoke in by_subject and approve not in by_subject
    assert approve in rows({"q": "4711"}) and revoke not in rows({"q": "4711"})
    assert revoke in rows({"q": "key.rev"}) and approve not in rows({"q": "key.rev"})
    assert 'value="RORY@"' in by_actor, "the search is kept in the field"

    empty = rows({"q": 'nobody" OR "x'})
    assert "No events match “nobody&#34; OR &#34;x”" in empty or "No events match “nobody&quot; OR &quot;x”" in empty
    assert 'href="/staff/audit">clear the filters</a>' in empty
    for fragment in ["%", "_", '"', "NEAR", "*", "\\", "ü", "a" * 300]:
        assert client.get("/staff/audit", query_string={"q": fragment}).status_code == 200


# --- migration 0013: backfill, and down and up again --------------------------------------------


def search_objects(connection) -> set[str]:
    if connection.dialect.name == "postgresql":
        names = set(connection.scalars(text("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")))
    else:
        names = set(connection.scalars(text("SELECT name FROM sqlite_master")))
    return {name for name in names if is_search_object(name)}


def expected_search_objects(dialect: str) -> set[str]:
    if dialect == "postgresql":
        return {index.trigram_index(c) for index in SEARCH_INDEXES.values() for c in index.columns}
    return {f"{index.fts_table}{suffix}" for index in SEARCH_INDEXES.values()
            for suffix in ("", "_data", "_idx", "_docsize", "_config", "_insert", "_update", "_delete")}


def test_the_migrated_database_has_every_search_object(app):
    """At the newest migration, not only at 0013: a later migration that rebuilds a searched table on
    SQLite (batch_alter_table copies it) drops its triggers, and searches would silently miss new rows."""
    with db.engine.connect() as connection:
        assert search_objects(connection) == expected_search_objects(connection.dialect.name)


def test_0013_indexes_existing_rows_and_goes_down_and_up_again(migrated, tmp_path):
    from flask_migrate import downgrade, upgrade  # noqa: PLC0415 (as in test_migrations)

    url, drop = fresh_database_of_the_suite_kind(migrated, tmp_path)
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": url})
    try:
        with app.app_context(), logging_left_as_it_was():
            upgrade(revision="0012")
            with db.engine.begin() as connection:
                dialect = connection.dialect.name
                assert search_objects(connection) == set()
                connection.execute(text("INSERT INTO institutions (legal_name, status, created_at) "
                                        "VALUES ('Older Hollowbrook AG', 'prospect', '2026-11-30 10:00:00+00:00')"))
            upgrade(revision="0013")
            with db.engine.connect() as connection:
                assert search_objects(connection) == expected_search_objects(dialect)
                assert "ix_applications_jurisdiction_risk" in {
                    i["name"] for i in inspect(connection).get_indexes("applications")}
            found = db.session.scalars(select(Institution.legal_name).where(
                containing("hollowbr", Institution.legal_name))).all()
            assert found == ["Older Hollowbrook AG"], "rows from before the migration are indexed (backfill)"
            db.session.rollback()

            downgrade(revision="0012")
            with db.engine.connect() as connection:
                assert search_objects(connection) == set()
                assert "ix_applications_jurisdiction_risk" not in {
                    i["name"] for i in inspect(connection).get_indexes("applications")}
            with db.engine.begin() as connection:  # without the triggers, plain writes still work
                connection.execute(text("UPDATE institutions SET legal_name = 'Older Hollowbrook SE'"))
            upgrade()
            found = db.session.scalars(select(Institution.legal_name).where(
                containing("brook SE", Institution.legal_name))).all()
            assert found == ["Older Hollowbrook SE"]
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()
