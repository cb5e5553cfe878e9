"""The audit log: a hash chain that reveals altered or removed history, refused changes through
the ORM (and, on PostgreSQL, by a database trigger), and `flask audit verify`."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import bindparam, exc, func, select, text

from onboarding.audit.models import GENESIS_HASH, AuditEvent, AuditLogIsAppendOnly
from onboarding.audit.operations import compute_hash, record, verify_chain
from onboarding.db import db

DETAILS_TYPE = AuditEvent.__table__.c.details.type


def record_three() -> list[AuditEvent]:
    events = [
        record("institution.registered", "institution", 1, {"legal_name": "Northwind Liquidity Ltd"}),
        record("user.registered", "user", 7, {"email": "mm@northwind.example", "institution_id": 1},
               actor_id=7, actor_label="mm@northwind.example"),
        record("staff.created", "user", 8, {"email": "rr@exchange.example", "roles": ["approver"]}),
    ]
    db.session.commit()
    return events


def stored_events() -> list[AuditEvent]:
    db.session.expire_all()
    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


@contextmanager
def as_table_owner_bypassing_trigger():
    """Simulate an attacker with owner rights: on PostgreSQL switch the append-only trigger off
    for the duration, in the same transaction, and back on before committing."""
    if is_postgresql():
        db.session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    yield
    if is_postgresql():
        db.session.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    db.session.commit()


def run_verify_cli(app):
    db.session.rollback()  # no read transaction of ours stays open while the command runs
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def test_events_form_a_hash_chain_from_the_genesis_hash(app):
    record_three()
    events = stored_events()

    assert len(events) == 3
    assert events[0].prev_hash == GENESIS_HASH == "0" * 64
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    for event in events:
        assert re.fullmatch(r"[0-9a-f]{64}", event.hash)
        assert compute_hash(event) == event.hash, "the stored hash covers what was stored"
    assert len({event.hash for event in events}) == 3
    assert events[1].actor_label == "mm@northwind.example" and events[1].actor_id == 7
    assert events[0].actor_label == "system"  # recorded outside a request, no actor given


def test_intact_log_verifies(app):
    assert verify_chain().ok and verify_chain().checked == 0  # an empty log is intact too
    record_three()

    report = verify_chain()
    assert report.ok
    assert report.checked == 3
    assert report.broken_at is None and report.problem is None

    result = run_verify_cli(app)
    assert result.exit_code == 0, result.output
    assert "Audit log intact: 3 events verified." in result.output


def test_altered_details_are_reported_at_that_event(app):
    first, second, third = record_three()
    with as_table_owner_bypassing_trigger():
        db.session.execute(
            text("UPDATE audit_events SET details = :details WHERE id = :id").bindparams(
                bindparam("details", type_=DETAILS_TYPE)
            ),
            {"details": {"email": "someone-else@evil.example", "institution_id": 1}, "id": second.id},
        )
    assert stored_events()[1].details["email"] == "someone-else@evil.example", "the tampering took effect"

    report = verify_chain()
    assert not report.ok
    assert report.broken_at == second.id
    assert report.checked == 1, "only the event before the altered one verified"
    assert f"event #{second.id} (user.registered) was altered" in report.problem

    result = run_verify_cli(app)
    assert result.exit_code == 1
    assert f"Audit log BROKEN at event #{second.id}" in result.output
    assert "was altered after it was recorded" in result.output
    assert "1 events before it verified" in result.output


def test_removed_middle_event_is_reported_at_the_following_event(app):
    first, second, third = record_three()
    with as_table_owner_bypassing_trigger():
        db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": second.id})
    assert [e.id for e in stored_events()] == [first.id, third.id]

    report = verify_chain()
    assert not report.ok
    assert report.broken_at == third.id
    assert "does not follow the event before it" in report.problem
    assert "removed or inserted" in report.problem

    result = run_verify_cli(app)
    assert result.exit_code == 1
    assert f"Audit log BROKEN at event #{third.id}" in result.output


def test_orm_refuses_to_change_or_delete_an_event(app):
    record_three()
    event = stored_events()[0]

    event.action = "nothing.happened"
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.flush()
    db.session.rollback()

    event = stored_events()[0]
    event.details = {"legal_name": "Someone Else Ltd"}
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()

    db.session.delete(stored_events()[1])
    with pytest.raises(AuditLogIsAppendOnly):
        db.session.commit()
    db.session.rollback()

    events = stored_events()
    assert [e.action for e in events] == ["institution.registered", "user.registered", "staff.created"]
    assert events[0].details == {"legal_name": "Northwind Liquidity Ltd"}
    assert verify_chain().ok


def test_database_refuses_raw_changes_to_history(app):
    first, second, third = record_three()
    if is_postgresql():
        # The migration's trigger refuses even SQL that never goes through the ORM.
        with pytest.raises(exc.DBAPIError, match="audit_events is append-only"):
            db.session.execute(
                text("UPDATE audit_events SET action = 'nothing.happened' WHERE id = :id"), {"id": second.id}
            )
        db.session.rollback()
        with pytest.raises(exc.DBAPIError, match="audit_events is append-only"):
            db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": second.id})
        db.session.rollback()
    else:
        # SQLite has no trigger from the migration; the ORM guard is the line of defence.
        db.session.delete(db.session.get(AuditEvent, second.id))
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.flush()
        db.session.rollback()

    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 3
    assert stored_events()[1].action == "user.registered"
    assert verify_chain().ok


def test_new_events_continue_the_chain_after_verification(app):
    record_three()
    assert verify_chain().ok
    fourth = record("user.logged_in", "user", 7, {})
    db.session.commit()
    events = stored_events()
    assert events[-1].id == fourth.id and events[-1].prev_hash == events[-2].hash
    assert verify_chain().checked == 4
