"""Case page benchmark: the server time of every decision a reviewer posts on a case with 15
documents, with the RQ worker running against the same database (SQLite, as `make run`), against a
baseline measured in the same run (the GET of a small staff page). Also counts the SQL statements of
each decision, so a regression shows where it comes from.

    python -m bench.bench_case_page          (from the project folder)

Target (issue 12): every decision under 0.5 s server time. Figures go to bench/results.json under
"case_page" (other keys are kept)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
PASSWORD = "correct horse battery staple"  # noqa: S105 (bench-only accounts)
TARGET_SECONDS = 0.5
DOCUMENTS = 15
BASELINE_REQUESTS = 30
IMAGE_CONNECTIONS = 4  # a browser loads images over several connections at once


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                                "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0"


def settings(workdir: Path, redis_url: str) -> dict:
    return {"APP_ENV": "development", "DATABASE_URL": f"sqlite:///{workdir}/bench.db", "REDIS_URL": redis_url,
            "DOCUMENTS_DIR": str(workdir / "documents"), "MAIL_BACKEND": "console", "OUTBOX_SWEEP_SECONDS": 5}


def start_worker(workdir: Path, config: dict) -> subprocess.Popen:
    env = {**os.environ, **{k: str(v) for k, v in config.items()}, "FLASK_APP": "app",
           "WORKER_LOG_LEVEL": "WARNING", "MAX_DOCUMENT_MB": "20"}
    env["OUTBOX_SWEEP_SECONDS"] = "5"
    log = open(workdir / "worker.log", "w")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def sign_in(app, email: str):
    import pyotp

    from onboarding.accounts.operations import find_user_by_email, set_totp_secret
    from onboarding.db import db, utcnow

    with app.app_context():
        user = find_user_by_email(email)
        secret = pyotp.random_base32()
        set_totp_secret(user, secret)
        user.totp_enrolled_at = utcnow()
        db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": email, "password": PASSWORD})
    response = client.post("/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, f"{email} could not sign in"
    return client


def build_case(app) -> int:
    """A submitted application with 15 documents, a listed director (a sanctions hit) and an earlier
    applicant sharing its company (link signals). Returns the application id once its checks are done."""
    from onboarding.accounts.operations import create_staff, register_applicant
    from onboarding.agreements.models import API_USAGE
    from onboarding.agreements.operations import current_rules, publish_bundled_rules
    from onboarding.applications import operations as ops
    from onboarding.applications.models import COMPANY, PERSON, Application
    from onboarding.db import db, utcnow
    from onboarding.demo import import_demo_lists, upload_every_document
    from onboarding.documents.models import Document

    company = {
        "legal_name": "Northwind Liquidity Ltd", "trading_names": ["Northwind MM"], "registration_number": "12345678",
        "jurisdiction": "GB", "incorporation_date": date(2019, 3, 27), "lei": None,
        "registered_address": "1 King William Street\nLondon EC4N 7AR", "business_address": "Same as registered",
        "website": None, "is_regulated": False, "regulator": None, "licence_number": None,
    }
    profile = {
        "mm_experience_years": 6, "mm_venues": ["Venue A"], "volume_30d_usd": 2_500_000_000,
        "capital_usd": 50_000_000, "pairs": ["BTC/USDT"], "max_spread_bps": Decimal("15"), "min_depth_usd": 250_000,
        "uptime_pct": Decimal("95"), "expected_order_rate": 200, "requested_scopes": ["market:read", "spot:trade"],
        "ip_allowlist": ["203.0.113.10"],
    }

    def application_for(email: str, legal_name: str, directors: int) -> Application:
        user = register_applicant(email=email, password=PASSWORD, full_name="Morgan Maker", legal_name=legal_name,
                                  ip="198.51.100.7", send_verification=False)
        user.email_verified_at = utcnow()
        application = ops.start_application(user)
        ops.save_company(application, {**company, "legal_name": legal_name}, complete=True)
        owner = ops.add_party(application, PERSON, {"name": "Alice Founder", "date_of_birth": date(1980, 5, 1),
                                                    "nationality": "GB", "residence": "GB"})
        holdco = ops.add_party(application, COMPANY, {"name": "Holdco Ltd", "jurisdiction": "CY",
                                                      "registration_number": "HE999"})
        ops.add_holding(application, owner, None, Decimal(60))
        ops.add_holding(application, holdco, None, Decimal(40))
        investor = ops.add_party(application, PERSON, {"name": "Bob Investor", "date_of_birth": date(1975, 2, 2),
                                                       "nationality": "CY", "residence": "CY"})
        ops.add_holding(application, investor, holdco, Decimal(100))
        for n in range(directors):
            ops.add_party(application, PERSON, {"name": f"Director Number{n}", "date_of_birth": date(1970, 1, 1 + n),
                                                "nationality": "GB", "residence": "GB", "is_director": True,
                                                "is_signatory": n == 0, "title": "Director"})
        ops.add_party(application, PERSON, {"name": "Elvis Angus Logan Morey", "date_of_birth": date(1963, 7, 28),
                                            "nationality": "BZ", "residence": "BZ", "is_director": True,
                                            "title": "Non-executive director"})
        ops.mark_ownership_saved(application, True)
        ops.save_profile(application, dict(profile), complete=True)
        upload_every_document(application, user)
        ops.mark_documents_saved(application, True)
        db.session.commit()
        rules = current_rules(API_USAGE)
        ops.submit_application(application, user, signer_name="Director Number0", signer_title="Director",
                               rules_version_id=rules.id, shown_sha256=rules.sha256, ip="198.51.100.7",
                               user_agent="bench")
        db.session.commit()
        return application

    global submit_application_for
    submit_application_for = application_for
    with app.app_context():
        publish_bundled_rules()
        import_demo_lists()
        for email, name, roles in (("dana@exchange.example", "Dana Documents", ["document_reviewer"]),
                                   ("casey@exchange.example", "Casey Compliance", ["compliance"]),
                                   *((f"viewer{n}@exchange.example", f"Viewer {n}", ["document_reviewer"])
                                     for n in range(IMAGE_CONNECTIONS))):
            create_staff(email=email, full_name=name, password=PASSWORD, roles=roles)
        db.session.commit()
        application_for("ops@earlier.example", "Earlier Copy Ltd", 1)
        directors = 1
        while True:  # as many directors as make 15 documents
            application = application_for(f"mm{directors}@northwind.example", "Northwind Liquidity Ltd", directors)
            count = db.session.scalar(db.select(db.func.count()).select_from(Document)
                                      .where(Document.application_id == application.id))
            if count >= DOCUMENTS:
                break
            directors += 1
        application_id = application.id
        deadline = time.monotonic() + 120
        while db.session.get(Application, application_id).state != "document_review":
            db.session.rollback()
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not finish the checks in 2 minutes (see worker.log)")
            time.sleep(0.2)
        db.session.rollback()
        return application_id, count


submit_application_for = None  # set by build_case: (email, legal name, directors) -> submitted Application


def keep_worker_busy(app, n: int) -> None:
    """Submit another 15-document application: the worker runs its checks (a commit per document)
    while the reviewer decides, as when applicants submit during the working day."""
    with app.app_context():
        submit_application_for(f"busy{n}@elsewhere{n}.example", f"Busy Applicant {n} Ltd", 6)


def timed(app, client, method: str, url: str, data: dict | None = None) -> dict:
    from sqlalchemy import event

    from onboarding.db import db

    counter = {"n": 0, "database": 0.0}
    me = threading.get_ident()
    began: list[float] = []

    def before(*_args, **_kwargs):
        if threading.get_ident() == me:  # not the statements of the preview requests meanwhile
            counter["n"] += 1
            began.append(time.perf_counter())

    def after(*_args, **_kwargs):
        if threading.get_ident() == me and began:
            counter["database"] += time.perf_counter() - began.pop()

    def commit_began(*_args):
        if threading.get_ident() == me:
            began.append(time.perf_counter())

    def commit_ended(*_args):
        if threading.get_ident() == me and began:
            counter["database"] += time.perf_counter() - began.pop()

    with app.app_context():
        engine = db.engine
    listeners = (("before_cursor_execute", before), ("after_cursor_execute", after))
    for name, listener in listeners:
        event.listen(engine, name, listener)
    try:
        started = time.perf_counter()
        response = client.open(url, method=method, data=data)
        elapsed = time.perf_counter() - started
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)
    return {"status": response.status_code, "seconds": elapsed, "statements": counter["n"],
            "database_seconds": counter["database"], "location": response.headers.get("Location", "")}


def version_of(client, application_id: int) -> int:
    import re

    page = client.get(f"/staff/applications/{application_id}").get_data(as_text=True)
    return int(re.search(r'name="version" value="(\d+)"', page).group(1))


def decisions(app, application_id: int) -> dict:
    """Post each decision on the case page as the reviewer would, in an order that keeps each one valid."""
    from sqlalchemy import select

    from onboarding.applications.models import Application
    from onboarding.db import db
    from onboarding.documents.models import Document
    from onboarding.screening.models import LinkSignal, ScreeningHit

    reviewer = sign_in(app, "dana@exchange.example")
    with app.app_context():
        documents = db.session.scalars(select(Document.id).where(Document.application_id == application_id)
                                       .order_by(Document.id)).all()
        institution_id = db.session.get(Application, application_id).institution_id
        hits = db.session.scalars(select(ScreeningHit.id).where(ScreeningHit.institution_id == institution_id,
                                                                ScreeningHit.disposition == "pending")).all()
        others = db.session.scalars(select(LinkSignal.other_institution_id).where(
            LinkSignal.application_id == application_id).distinct()).all()
    base = f"/staff/applications/{application_id}"
    results: dict[str, list[dict]] = {}
    previews = [f"{base}/documents/{d}/preview.png" for d in documents]
    # The reviewer's browser: after each decision it loads the case page again, then its document
    # previews over several connections, while the reviewer already clicks the next button.
    image_clients = [sign_in(app, f"viewer{n}@exchange.example") for n in range(IMAGE_CONNECTIONS)]
    loading: list[threading.Thread] = []

    def load_previews() -> None:
        def fetch(client, urls):
            for url in urls:
                client.get(url)
        for thread in loading:
            thread.join()
        loading.clear()
        for n, client in enumerate(image_clients):
            thread = threading.Thread(target=fetch, args=(client, previews[n::IMAGE_CONNECTIONS]))
            thread.start()
            loading.append(thread)

    def post(label: str, path: str, data: dict) -> None:
        version = version_of(reviewer, application_id)
        load_previews()
        time.sleep(0.05)  # the reviewer's click comes while the previews load
        result = timed(app, reviewer, "POST", f"{base}/{path}", {"version": version, **data})
        assert result["status"] == 303, f"{label}: HTTP {result['status']}"
        results.setdefault(label, []).append(result)

    keep_worker_busy(app, 1)
    post("claim the case", "claim", {})
    for n, document_id in enumerate(documents[:-1]):
        if n == 7:
            keep_worker_busy(app, 2)
        post("accept a document", f"documents/{document_id}/decision", {"decision": "accepted"})
    post("ask for a new file", f"documents/{documents[-1]}/decision",
         {"decision": "reupload", "reason": "illegible", "comment": "The scan is blurred."})
    for hit_id in hits:
        post("disposition a sanctions hit", f"hits/{hit_id}/disposition",
             {"disposition": "false_positive", "reason": "Different date of birth and nationality."})
    for other in others:
        post("decide an institution's link signals", f"linked/{other}/review",
             {"status": "dismissed", "note": "Different owners."})
    post("add an internal note", "notes", {"body": "Called the applicant about the blurred scan."})
    post("release the case", "release", {})
    post("claim the case", "claim", {})
    post("send the change request", "request-changes",
         {"item_step": ["company", "", ""], "item_message": ["Confirm the registered address.", "", ""]})
    for thread in loading:
        thread.join()
    return results


def baseline(app) -> dict:
    client = sign_in(app, "casey@exchange.example")
    for _ in range(3):
        client.get("/staff/queues/compliance")
    timings = []
    for _ in range(BASELINE_REQUESTS):
        result = timed(app, client, "GET", "/staff/queues/compliance")
        assert result["status"] == 200, result
        timings.append(result["seconds"])
    return {"url": "/staff/queues/compliance", "median_ms": round(statistics.median(timings) * 1000, 1)}


def main() -> dict:
    logging.disable(logging.WARNING)
    sys.path.insert(0, str(ROOT))
    from onboarding import create_app

    workdir = Path(tempfile.mkdtemp(prefix="bench-case-page-"))
    redis, redis_url = start_redis(workdir)
    worker = None
    try:
        config = settings(workdir, redis_url)
        app = create_app({**config, "WTF_CSRF_ENABLED": False})
        with app.app_context():
            from flask_migrate import upgrade
            upgrade()
        worker = start_worker(workdir, config)
        application_id, documents = build_case(app)
        reference = baseline(app)
        results = decisions(app, application_id)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
        redis.terminate()
    figures = {"documents": documents, "target_ms": TARGET_SECONDS * 1000, "baseline": reference,
               "decisions": {}}
    print(f"\nCase page benchmark: decisions on a {documents}-document case, worker running (SQLite)")
    print(f"  baseline GET {reference['url']}: median {reference['median_ms']} ms")
    for label, runs in results.items():
        times = sorted(r["seconds"] * 1000 for r in runs)
        entry = {"posts": len(runs), "median_ms": round(statistics.median(times), 1), "max_ms": round(times[-1], 1),
                 "statements": sorted({r["statements"] for r in runs}),
                 "max_database_ms": round(max(r["database_seconds"] for r in runs) * 1000, 1),
                 "under_target": times[-1] < TARGET_SECONDS * 1000}
        figures["decisions"][label] = entry
        print(f"  {label:40s}: {entry['posts']:2d} × median {entry['median_ms']:7.1f} ms, max {entry['max_ms']:7.1f} ms"
              f" · statements {entry['statements']} (max {entry['max_database_ms']} ms in them) · "
              f"{'OK' if entry['under_target'] else 'OVER 500 ms'}")
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["case_page"] = figures
    RESULTS.write_text(json.dumps(existing, indent=2, default=str))
    shutil.rmtree(workdir, ignore_errors=True)
    return figures


if __name__ == "__main__":
    main()
