"""Queue benchmark: the staff queue and search pages with 50,000 applications (and 50,000 audit events)
against the same pages with 100, measured in the same run, on SQLite and, when its server binaries are
installed, on a throwaway PostgreSQL (started the way tests/services.py does). Server time per request
(median and p95 over repeated GETs through the WSGI app, as a signed-in reviewer and compliance officer)
and the number of SQL statements per request.

    python -m bench.bench_queues          (from the project folder)
    python -m bench.bench_queues sqlite   (one engine only)

Targets: at most 3 times the baseline's server time, and the same number of statements.
Figures go to bench/results.json under "queues" (other keys are kept): one entry per page and engine,
under "pages" (held to the target) or "scans" (one or two letters: no index can answer them),
`{"<page> (<engine>)": {"value": median ms at 50,000, "baseline": median ms at 100, "ratio", "target": 3.0,
"pass", "statements", "baseline_statements", "p95_ms", "baseline_p95_ms", "url"}}`."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
PASSWORD = "correct horse battery staple"  # noqa: S105 (bench-only account)
STATES = ["document_review"] * 5 + ["qualification_review"] * 2 + ["pending_approval", "approved", "rejected"]
REQUESTS = 40


def build(size: int, database_url: str | None = None):
    """A fresh database with `size` submitted applications, as many audit events, and a signed-in
    document reviewer who is also a compliance officer (the audit log is theirs)."""
    import pyotp
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from onboarding import create_app
    from onboarding.accounts.models import User
    from onboarding.accounts.operations import create_staff, set_totp_secret
    from onboarding.applications.models import Application
    from onboarding.audit.models import AuditEvent
    from onboarding.db import db, utcnow
    from onboarding.institutions.models import Institution

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-queues-{size}-"))
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": database_url or f"sqlite:///{workdir}/bench.db",
                      "JOBS_EAGER": True,
                      "DOCUMENTS_DIR": str(workdir / "documents"), "MAIL_BACKEND": "console",
                      "WTF_CSRF_ENABLED": False})
    rng = random.Random(size)
    now = utcnow()
    with app.app_context():
        upgrade()
        reviewer = create_staff(email="bench@exchange.example", full_name="Bench Reviewer", password=PASSWORD,
                                roles=["document_reviewer", "compliance"])
        secret = pyotp.random_base32()
        set_totp_secret(reviewer, secret)
        reviewer.totp_enrolled_at = now
        db.session.commit()
        for start in range(0, size, 5000):
            count = min(5000, size - start)
            db.session.execute(insert(Institution), [
                {"legal_name": f"Institution {start + i:06d} Ltd", "status": "prospect", "created_at": now}
                for i in range(count)])
            first_id = db.session.scalar(db.select(db.func.max(Institution.id))) - count + 1
            db.session.execute(insert(User), [
                {"email": f"user{start + i}@inst{start + i}.example", "full_name": f"User {start + i}",
                 "password_hash": "x", "kind": "applicant", "institution_id": first_id + i, "session_version": 1}
                for i in range(count)])
            first_user = db.session.scalar(db.select(db.func.max(User.id))) - count + 1
            rows = []
            for i in range(count):
                n = start + i
                state = rng.choice(STATES)
                changed = now - timedelta(hours=rng.randint(1, 24 * 20))
                band = rng.choice(["low", "low", "medium", "high"])
                rows.append({
                    "reference": f"API-{n:07d}", "institution_id": first_id + i, "created_by_id": first_user + i,
                    "state": state, "created_at": changed, "updated_at": changed, "state_changed_at": changed,
                    "submitted_at": changed, "legal_name": f"{rng.choice(['Aurora', 'Boreal', 'Cobalt', 'Delta'])} "
                                                          f"Markets {n:06d} Ltd",
                    "registration_number": f"HRB{n:07d}", "jurisdiction": rng.choice(["DE", "GB", "CH", "SG"]),
                    "risk_band": band, "risk_score": {"low": 10, "medium": 40, "high": 70}[band],
                    "due_at": changed + timedelta(days=3) if state.endswith(("review", "approval")) else None,
                    "lock_version": 1, "check_round": 1, "checks_planned": 0, "needs_compliance_signoff": False,
                    "trading_names": [], "mm_venues": [], "pairs": [], "requested_scopes": [], "ip_allowlist": [],
                    "risk_reasons": [], "steps_saved": {}, "granted_scopes": [],
                })
            db.session.execute(insert(Application), rows)
            # Audit events written straight in (the chain is not verified here; only its search is read).
            db.session.execute(insert(AuditEvent), [
                {"occurred_at": now - timedelta(minutes=start + i),
                 "actor_label": f"user{start + i}@inst{start + i}.example",
                 "action": rng.choice(["application.submit", "document.accept", "key.create", "user.login"]),
                 "subject_type": "application", "subject_id": str(start + i), "details": {},
                 "prev_hash": hashlib.sha256(f"p{start + i}".encode()).hexdigest(),
                 "hash": hashlib.sha256(f"h{start + i}".encode()).hexdigest()} for i in range(count)])
            db.session.commit()
        if db.engine.dialect.name == "postgresql":
            # What autovacuum does soon after a bulk load: the planner needs row counts to pick the indexes.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
    client = app.test_client()
    client.post("/login", data={"email": "bench@exchange.example", "password": PASSWORD})
    response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, "bench reviewer could not sign in"
    return app, client


def measure(app, client, url: str) -> dict:
    from sqlalchemy import event

    from onboarding.db import db

    statements: list[int] = []
    counter = {"n": 0}

    def count(*_args, **_kwargs):
        counter["n"] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):  # warm-up: templates compiled, caches filled
            assert client.get(url).status_code == 200
        timings = []
        for _ in range(REQUESTS):
            counter["n"] = 0
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200
            statements.append(counter["n"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    timings.sort()
    return {"median_ms": round(statistics.median(timings) * 1000, 2),
            "p95_ms": round(timings[int(len(timings) * 0.95) - 1] * 1000, 2),
            "statements_per_request": sorted(set(statements))}


PAGES = {
    "document queue": "/staff/queues/documents",
    "document queue, page 3 sorted by risk": "/staff/queues/documents?sort=risk&page=3",
    "document queue, search by a name fragment": "/staff/queues/documents?q=markets+00004",
    "all applications, newest first": "/staff/applications",
    "all applications, filtered by jurisdiction and risk": "/staff/applications?jurisdiction=DE&risk=high",
    # A whole registration number, as a reviewer pastes it (one match). A fragment that matches a fixed
    # share of the table (say 2%) costs in proportion to the table by nature: its count reads every match.
    "all applications, search by registration number": "/staff/applications?q=hrb0012345",
    "audit log, newest first": "/staff/audit",
    "audit log, search by actor": "/staff/audit?q=user0004",
}
# One or two letters make no trigram: both engines answer them with a scan (textsearch.containing), so
# they grow with the table by nature. Measured and shown, without the target.
SCANS = {
    "document queue, search by one or two letters": "/staff/queues/documents?q=zz",
}
TARGET_RATIO = 3.0


def postgres_databases():
    """Two empty databases on a throwaway PostgreSQL server, and a function that stops it; None when
    the server binaries are not installed."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from tests.services import PostgresServer

    try:
        server = PostgresServer()
    except RuntimeError as missing:
        print(f"PostgreSQL skipped: {missing}")
        return None
    server.start()
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in ("bench_100", "bench_50000"):
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = make_url(server.url)
    return ({size: url.set(database=f"bench_{size}").render_as_string(hide_password=False) for size in (100, 50_000)},
            server.cleanup)


def run_engine(engine: str, urls: dict | None, figures: dict) -> None:
    small_app, small_client = build(100, urls and urls[100])
    big_app, big_client = build(50_000, urls and urls[50_000])
    print(f"\nQueue benchmark (server time through the WSGI app, {engine})")
    for label, url in [*PAGES.items(), *SCANS.items()]:
        scan = label in SCANS
        baseline = measure(small_app, small_client, url)
        large = measure(big_app, big_client, url)
        ratio = round(large["median_ms"] / baseline["median_ms"], 2)
        same = baseline["statements_per_request"] == large["statements_per_request"]
        figures["scans" if scan else "pages"][f"{label} ({engine})"] = {
            "value": large["median_ms"], "baseline": baseline["median_ms"], "ratio": ratio,
            "target": None if scan else TARGET_RATIO, "pass": same if scan else ratio <= TARGET_RATIO and same,
            "unit": "ms (median server time, 50,000 vs 100)",
            "statements": large["statements_per_request"], "baseline_statements": baseline["statements_per_request"],
            "p95_ms": large["p95_ms"], "baseline_p95_ms": baseline["p95_ms"], "url": url, "engine": engine,
            "requests": REQUESTS}
        held_to = "a scan: no target" if scan else f"target ≤ {TARGET_RATIO}"
        print(f"  {label:52s}: 100 → median {baseline['median_ms']} ms, 50,000 → median {large['median_ms']} ms "
              f"(× {ratio}, {held_to}); statements {baseline['statements_per_request']} vs "
              f"{large['statements_per_request']}")
    for app in (small_app, big_app):
        with app.app_context():
            from onboarding.db import db

            db.engine.dispose()


def main(engines: tuple[str, ...] = ("sqlite", "postgresql")) -> dict:
    logging.disable(logging.INFO)
    sys.path.insert(0, str(ROOT))
    figures: dict = {"pages": {}, "scans": {}}
    if "sqlite" in engines:
        run_engine("SQLite", None, figures)
    if "postgresql" in engines:
        started = postgres_databases()
        if started:
            urls, stop = started
            try:
                run_engine("PostgreSQL", urls, figures)
            finally:
                stop()
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["queues"] = figures
    RESULTS.write_text(json.dumps(existing, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or ("sqlite", "postgresql"))
