"""Checks benchmark: a 20 MB PDF through every document check (memory), and re-screening 1,000
active institutions after a list import (time on one process, as one worker would).

    python -m bench.bench_checks          (from the project folder)

Baselines are measured in the same run: a small PDF through the same checks, and re-screening 100
institutions. Figures go to bench/results.json under "checks" (other keys are kept)."""

from __future__ import annotations

import io
import json
import logging
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SANCTIONS_FIXTURES = ROOT / "tests" / "fixtures" / "sanctions"  # in the repository: see its README.md
OFAC_FULL = SANCTIONS_FIXTURES / "ofac-full"
RESULTS = Path(__file__).resolve().parent / "results.json"
MB = 1024 * 1024


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def big_pdf(target_bytes: int) -> bytes:
    """A real, valid multi-page PDF just under `target_bytes`, of incompressible scan-like pages."""
    from PIL import Image

    rng = random.Random(7)

    def render(pages: int) -> bytes:
        images = [Image.frombytes("RGB", (1240, 1754), rng.randbytes(1240 * 1754 * 3)) for _ in range(pages)]
        buffer = io.BytesIO()
        images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], quality=90, resolution=150)
        return buffer.getvalue()

    per_page = len(render(1))
    pages = max(int(target_bytes // per_page), 1)
    data = render(pages)
    while len(data) > target_bytes and pages > 1:
        pages -= 1
        data = render(pages)
    return data


def measure_document_checks(app, data: bytes) -> dict:
    from onboarding.applications import operations as ops
    from onboarding.checks.documents import check_document
    from onboarding.db import db
    from onboarding.documents.operations import upload_document
    from tests.factories import make_applicant

    with app.app_context():
        user = make_applicant(f"bench{random.randrange(10**9)}@example.com")
        application = ops.start_application(user)
        db.session.commit()
        document = upload_document(application, "company:certificate_of_incorporation", stream=io.BytesIO(data),
                                   filename="big.pdf", issue_date=date.today() - timedelta(days=5),
                                   expiry_date=None, user_id=user.id)
        db.session.commit()
        del data
        rss_before = rss_mb()
        started = time.perf_counter()
        findings = check_document(document, application)
        elapsed = time.perf_counter() - started  # timed without tracemalloc, which slows Python down
        tracemalloc.start()
        check_document(document, application)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {
            "bytes": document.size, "seconds": round(elapsed, 3), "python_peak_mb": round(peak / MB, 2),
            "rss_growth_mb": round(rss_mb() - rss_before, 2),
            "outcomes": {f.check_name: f.outcome for f in findings},
        }


def seed_institutions(app, count: int, start: int = 0) -> None:
    """`count` active institutions with a submitted application each (company and six people),
    written directly for speed; their names are ordinary, a few echo listed names."""
    from onboarding.applications.models import Application, Party
    from onboarding.db import db, utcnow
    from onboarding.institutions.models import Institution

    rng = random.Random(start + 11)
    first = ["Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemal", "Lena"]
    last = ["Keller", "Novak", "Silva", "Okafor", "Tanaka", "Larsen", "Moreau", "Rossi", "Haddad", "Kowalski"]
    with app.app_context():
        now = utcnow()
        for i in range(start, start + count):
            institution = Institution(legal_name=f"Bench Market Makers {i} Ltd", status="active")
            db.session.add(institution)
            db.session.flush()
            application = Application(
                institution_id=institution.id, created_by_id=1, state="approved", reference=f"BENCH-{i:06d}",
                legal_name=institution.legal_name, jurisdiction="GB", registration_number=f"{i:08d}",
                submitted_at=now, trading_names=[], mm_venues=[], pairs=[], requested_scopes=[], ip_allowlist=[],
                steps_saved={},
            )
            db.session.add(application)
            db.session.flush()
            for _ in range(6):
                db.session.add(Party(application_id=application.id, kind="person",
                                     name=f"{rng.choice(first)} {rng.choice(last)}",
                                     date_of_birth=date(1960 + rng.randrange(40), 1 + rng.randrange(12), 1),
                                     nationality="GB", residence="GB"))
            if i % 200 == 0:
                db.session.commit()
        db.session.commit()


def main() -> dict:
    logging.disable(logging.INFO)
    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade

    from onboarding import create_app
    from onboarding.db import db

    workdir = Path(tempfile.mkdtemp(prefix="bench-checks-"))
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{workdir}/bench.db", "JOBS_EAGER": True,
                      "DOCUMENTS_DIR": str(workdir / "documents"), "MAIL_BACKEND": "console"})
    with app.app_context():
        upgrade()
        from onboarding.accounts.operations import register_applicant

        register_applicant(email="seed@example.com", password="correct horse battery staple", full_name="Seed",  # noqa: S106
                           legal_name="Seed Ltd", ip="127.0.0.1", send_verification=False)
        db.session.commit()

    from tests.factories import pdf_bytes

    figures: dict = {}
    small = measure_document_checks(app, pdf_bytes("Baseline"))
    big = measure_document_checks(app, big_pdf(20 * MB - 4096))
    figures["document_checks"] = {"baseline_small_pdf": small, "pdf_20mb": big,
                                  "target_peak_growth_mb": 64}

    from onboarding.screening.lists import import_list
    from onboarding.screening.screen import rescreen_all

    with app.app_context():
        import_list("ofac-sdn", OFAC_FULL)
        db.session.commit()
    seed_institutions(app, 100)
    with app.app_context():
        started = time.perf_counter()
        baseline = rescreen_all()
        baseline_seconds = time.perf_counter() - started
    seed_institutions(app, 900, start=100)
    with app.app_context():
        started = time.perf_counter()
        full = rescreen_all()
        full_seconds = time.perf_counter() - started
    figures["rescreen"] = {
        "baseline_100": {"seconds": round(baseline_seconds, 2), **baseline},
        "institutions_1000": {"seconds": round(full_seconds, 2), **full},
        "names_per_institution": 7, "target_seconds": 60,
    }

    print("\nChecks benchmark")
    print(f"  small PDF through every document check : {small['seconds']} s, "
          f"python peak {small['python_peak_mb']} MB, RSS growth {small['rss_growth_mb']} MB")
    print(f"  20 MB PDF ({big['bytes'] / MB:.1f} MB) through every check  : {big['seconds']} s, "
          f"python peak {big['python_peak_mb']} MB, RSS growth {big['rss_growth_mb']} MB (target <= 64 MB)")
    print(f"  re-screen 100 institutions (baseline)  : {baseline_seconds:.2f} s, {baseline['new_hits']} new hits")
    print(f"  re-screen 1,000 institutions           : {full_seconds:.2f} s, {full['new_hits']} new hits "
          "(target <= 60 s)")

    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["checks"] = figures
    RESULTS.write_text(json.dumps(existing, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main()
