"""A violation reported while the institution is creating a key leaves no active key behind, whichever
gets there first: the key creation locks the institution and reads its status afresh, and the report
locks it too before freezing every key. Two threads (own application contexts, own sessions and
connections) start together at a barrier; meaningful on PostgreSQL (TEST_DATABASE=postgresql), where
both really run at once."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from onboarding.db import db
from onboarding.enforcement.intake import report_violation
from onboarding.errors import OperationRefused
from onboarding.institutions.models import Institution
from onboarding.keys.models import ApiKey
from onboarding.keys.operations import create_key

from .factories import GRANTED_IPS, granted_institution
from .test_enforcement import report


def run_together(*steps) -> list:
    """Run each step in its own thread and application context, released together by a barrier;
    returns what each returned or raised."""
    barrier, results = threading.Barrier(len(steps)), [None] * len(steps)

    def runner(index, step, app):
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                results[index] = step()
                db.session.commit()
            except Exception as error:  # noqa: BLE001 (reported to the test)
                db.session.rollback()
                results[index] = error
            finally:
                db.session.remove()

    from flask import current_app
    app = current_app._get_current_object()
    threads = [threading.Thread(target=runner, args=(i, step, app)) for i, step in enumerate(steps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def new_key(user_id: int, institution_id: int, *, loaded: threading.Event | None = None,
            go: threading.Event | None = None, hold: float = 0.0):
    def step():
        institution = db.session.get(Institution, institution_id)  # as the keys page loads it
        if loaded:
            loaded.set()
        if go:
            go.wait(30)
        issued = create_key(institution, kind="hmac", label="Quoting engine", scopes=["spot:trade"],
                            ip_allowlist=[GRANTED_IPS[0]], user_id=user_id)
        db.session.flush()
        time.sleep(hold)  # the key's transaction stays open while the report arrives
        return issued
    return step


def report_step(institution_id: int, *, wait: threading.Event | None = None, then: threading.Event | None = None):
    def step():
        if wait:
            wait.wait(30)
        recorded = report_violation(report(institution_id), reporter="token:race")
        db.session.commit()
        if then:
            then.set()
        return recorded
    return step


def live_keys(institution_id: int) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(ApiKey.status).where(ApiKey.institution_id == institution_id)))


@pytest.mark.parametrize("first", ["report", "key"])
def test_a_report_during_key_creation_leaves_no_active_key(app, first):
    if first == "key" and db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite takes no row locks: the report reads the keys before the open key transaction "
                    "commits (PostgreSQL is the production database)")
    user = granted_institution()
    institution_id = user.institution_id
    loaded, frozen = threading.Event(), threading.Event()
    if first == "report":
        # The keys page loaded the institution (active) before the report froze it; the key is asked
        # for after the freeze committed, from that stale object.
        key_result, report_result = run_together(
            new_key(user.id, institution_id, loaded=loaded, go=frozen),
            report_step(institution_id, wait=loaded, then=frozen))
        assert isinstance(key_result, OperationRefused) and "frozen" in key_result.message
    else:
        # The key is created first and its transaction is still open when the report arrives.
        key_result, report_result = run_together(
            new_key(user.id, institution_id, hold=0.5, loaded=loaded),
            report_step(institution_id, wait=loaded))
        assert not isinstance(key_result, Exception), key_result
    assert not isinstance(report_result, Exception), report_result
    assert "active" not in live_keys(institution_id)
    assert db.session.get(Institution, institution_id).status == "frozen"
