"""Approval letter benchmark: rendering the letter PDF with WeasyPrint, and rendering plus storing it
encrypted (what the letter job adds to an approval). Target: median render at most 1 s.

    python -m bench.bench_letters          (from the project folder)

The letter's facts come from a real submitted application (temporary SQLite database built by the
migrations) with every scope, a long allow-list and three signatories. The baseline, measured in the
same run, is WeasyPrint rendering a one-paragraph page: the floor any PDF costs. The first render
(fonts loaded, stylesheet parsed) is reported on its own. Figures go to bench/results.json under
"letters" (other keys are kept)."""

from __future__ import annotations

import io
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
RUNS = 20
TARGET_MEDIAN_SECONDS = 1.0


def timings(action: Callable[[], Any], runs: int = RUNS) -> dict[str, float]:
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    p95 = seconds[min(len(seconds) - 1, round(0.95 * (len(seconds) - 1)))]
    return {"runs": runs, "median_seconds": round(statistics.median(seconds), 3), "p95_seconds": round(p95, 3),
            "max_seconds": round(seconds[-1], 3)}


def letter_facts() -> dict[str, Any]:
    """The facts of a realistic letter: a submitted application given a generous grant."""
    from onboarding.accounts.operations import create_staff
    from onboarding.applications.models import Application
    from onboarding.db import db, utcnow
    from onboarding.institutions.models import Institution
    from onboarding.institutions.operations import grant_access
    from onboarding.letters.facts import gather_facts
    from onboarding.letters.operations import new_verification_code
    from tests.factories import PASSWORD, complete_application, make_applicant, submit

    user = make_applicant("bench@northwind.example")
    application = complete_application(user)
    submit(application, user)
    application = db.session.get(Application, application.id)
    people = [create_staff(email=f"{role}@exchange.example", full_name=name, password=PASSWORD, roles=[role])
              for role, name in (("qualification_reviewer", "Quinn Qualifier"), ("compliance", "Cora Compliance"),
                                 ("approver", "Avery Approver"))]
    application.qualified_by_id, application.compliance_signoff_by_id = people[0].id, people[1].id
    application.ip_allowlist = [f"203.0.113.{i}" for i in range(1, 9)] + ["2001:db8::/48", "198.51.100.0/24"]
    grant_access(db.session.get(Institution, application.institution_id),
                 scopes=["account:read", "market:read", "spot:trade", "margin:trade", "futures:trade"],
                 rate_tier="premier", max_keys=20, ip_allowlist=application.ip_allowlist,
                 granted_by_id=people[2].id, application_id=application.id)
    application.state = "approved"
    db.session.commit()
    return gather_facts(application, approved_by_id=people[2].id, code=new_verification_code(), issued_at=utcnow())


def main() -> dict:
    logging.disable(logging.INFO)
    sys.path.insert(0, str(ROOT))
    from flask_migrate import upgrade
    from weasyprint import HTML

    from onboarding import create_app
    from onboarding.letters.operations import MAX_LETTER_BYTES
    from onboarding.letters.render import BundledAssetFetcher, render_pdf
    from onboarding.storage import document_store

    workdir = Path(tempfile.mkdtemp(prefix="bench-letters-"))
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{workdir}/bench.db", "JOBS_EAGER": True,
                      "DOCUMENTS_DIR": str(workdir / "documents"), "MAIL_BACKEND": "console",
                      "BASE_URL": "https://onboarding.exchange.example"})
    with app.app_context():
        upgrade()
        facts = letter_facts()

        def minimal() -> bytes:
            return HTML(string="<p>Baseline: one paragraph.</p>", url_fetcher=BundledAssetFetcher()).write_pdf()

        def render_and_store() -> None:
            document_store().save(io.BytesIO(render_pdf(facts)), max_bytes=MAX_LETTER_BYTES,
                                  associated_data=b"letter:bench")

        started = time.perf_counter()
        pdf = render_pdf(facts)
        first = time.perf_counter() - started
        figures = {
            "baseline_minimal_pdf": timings(minimal),
            "first_render_seconds": round(first, 3),
            "render": timings(lambda: render_pdf(facts)),
            "render_and_store": timings(render_and_store),
            "pdf_bytes": len(pdf),
            "target_median_seconds": TARGET_MEDIAN_SECONDS,
        }

    render, stored, baseline = figures["render"], figures["render_and_store"], figures["baseline_minimal_pdf"]
    print("\nApproval letter benchmark")
    print(f"  one-paragraph PDF (baseline)     : median {baseline['median_seconds']} s, "
          f"p95 {baseline['p95_seconds']} s")
    print(f"  first letter render (cold)       : {figures['first_render_seconds']} s")
    print(f"  letter render, {RUNS} runs          : median {render['median_seconds']} s, p95 {render['p95_seconds']} s "
          f"(target median <= {TARGET_MEDIAN_SECONDS} s), {len(pdf) / 1024:.0f} KB")
    print(f"  letter render + encrypted store  : median {stored['median_seconds']} s, p95 {stored['p95_seconds']} s")

    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["letters"] = figures
    RESULTS.write_text(json.dumps(existing, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main()
