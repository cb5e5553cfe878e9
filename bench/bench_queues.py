"""Queue benchmark: the document-review queue page with 50,000 applications against the same page
with 100, measured in the same run. Server time per request (median and p95 over repeated GETs
through the WSGI app, as a signed-in reviewer) and the number of SQL statements per request.

    python -m bench.bench_queues          (from the project folder)

Targets: at most 3 times the baseline's server time, and the same number of statements.
Figures go to bench/results.json under "queues" (other keys are kept)."""

from __future__ import annotations

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


def build(size: int):
    """A fresh database with `size` submitted applications and a signed-in document reviewer."""
    import pyotp
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from onboarding import create_app
    from onboarding.accounts.models import User
    from onboarding.accounts.operations import create_staff, set_totp_secret
    from onboarding.applications.models import Application
    from onboarding.db import db, utcnow
    from onboarding.institutions.models import Institution

    workdir = Path(tempfile.mkdtemp(prefix=f"bench-queues-{size}-"))
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{workdir}/bench.db", "JOBS_EAGER": True,
                      "DOCUMENTS_DIR": str(workdir / "documents"), "MAIL_BACKEND": "console",
                      "WTF_CSRF_ENABLED": False})
    rng = random.Random(size)
    now = utcnow()
    with app.app_context():
        upgrade()
        reviewer = create_staff(email="bench@exchange.example", full_name="Bench Reviewer", password=PASSWORD,
                                roles=["document_reviewer"])
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
            db.session.commit()
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


def main() -> dict:
    logging.disable(logging.INFO)
    sys.path.insert(0, str(ROOT))
    pages = {
        "document queue": "/staff/queues/documents",
        "document queue, page 3 sorted by risk": "/staff/queues/documents?sort=risk&page=3",
        "document queue, search by a name fragment": "/staff/queues/documents?q=markets+00004",
        "all applications, newest first": "/staff/applications",
        "all applications, filtered by jurisdiction and risk": "/staff/applications?jurisdiction=DE&risk=high",
    }
    figures: dict = {"requests_per_page": REQUESTS, "target_time_ratio": 3.0, "pages": {}}
    small_app, small_client = build(100)
    big_app, big_client = build(50_000)
    print("\nQueue benchmark (server time through the WSGI app, SQLite)")
    for label, url in pages.items():
        baseline = measure(small_app, small_client, url)
        large = measure(big_app, big_client, url)
        ratio = round(large["median_ms"] / baseline["median_ms"], 2)
        figures["pages"][label] = {"url": url, "applications_100": baseline, "applications_50000": large,
                                   "time_ratio": ratio,
                                   "same_statements": baseline["statements_per_request"] ==
                                   large["statements_per_request"]}
        print(f"  {label:52s}: 100 → median {baseline['median_ms']} ms, 50,000 → median {large['median_ms']} ms "
              f"(× {ratio}, target ≤ 3); statements {baseline['statements_per_request']} vs "
              f"{large['statements_per_request']}")
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["queues"] = figures
    RESULTS.write_text(json.dumps(existing, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main()
