"""Runs every automated check of an application in `checking`, records each result, and moves the
application on to document review when all are done.

Results are committed subject by subject, so the status page shows progress and a run that is
killed half-way resumes where it stopped: subjects already recorded for this round are skipped,
which is also what makes running the job twice leave one set of results."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from flask import current_app
from sqlalchemy import func, select

from ..applications.completeness import find_problems
from ..applications.models import CHECKING, Application
from ..applications.states import Actor, transition
from ..audit.operations import record
from ..db import db, utcnow
from ..documents.models import Document
from ..screening.linked import detect_links
from ..screening.lists import current_snapshots
from ..screening.risk import assess
from ..screening.screen import screen_application
from ..templating import plural
from .documents import VERSION as DOCUMENT_CHECKS_VERSION
from .documents import Finding, check_document, planned_checks_per_document
from .models import FAIL, FLAG, PASS, CheckResult

log = logging.getLogger(__name__)


def _completeness(application: Application) -> Finding:
    problems = find_problems(application)
    if problems:
        return Finding("application.completeness", FAIL, f"{plural(len(problems), 'item')} missing or invalid.",
                       {"problems": [p.message for p in problems]})
    return Finding("application.completeness", PASS, "Every required item and document is present.", {})


def _sanctions(application: Application) -> Finding:
    outcome = screen_application(application, found_by="application")
    hits, screened = outcome.pending, outcome.screened
    if hits:
        names = sorted({h.subject_name for h in hits})
        return Finding("screening.sanctions", FLAG,
                       f"{plural(len(hits), 'possible match', 'possible matches')} for {', '.join(names)}: "
                       "a reviewer must decide each.",
                       {"hits": [h.id for h in hits], "screened": screened})
    if not current_snapshots():
        # Screening against no list finds nothing: that is not a clean result, and must not look like one
        # (a new deployment before its first `sanctions import` or refresh).
        return Finding("screening.sanctions", FLAG,
                       f"No sanctions list is loaded, so {plural(len(screened), 'name was', 'names were')} not "
                       "screened: import the lists before deciding this case.",
                       {"screened": [], "not_screened": screened})
    return Finding("screening.sanctions", PASS, f"No matches for {plural(len(screened), 'name')} screened.",
                   {"screened": screened})


def _linked(application: Application) -> Finding:
    signals = [s for s in detect_links(application) if s.status != "dismissed"]
    if signals:
        others = len({s.other_institution_id for s in signals})
        verb = "links" if len(signals) == 1 else "link"
        return Finding("linked.signals", FLAG, f"{plural(len(signals), 'signal')} {verb} this application to "
                       f"{plural(others, 'other institution')}.", {"signals": [s.id for s in signals]})
    return Finding("linked.signals", PASS, "No links to other institutions found.", {})


def _risk(application: Application) -> Finding:
    outcomes = db.session.scalars(select(CheckResult.outcome).where(
        CheckResult.application_id == application.id, CheckResult.round == application.check_round,
        CheckResult.subject_type == "document")).all()
    score, band, reasons = assess(application, failed_document_checks=outcomes.count(FAIL),
                                  flagged_document_checks=outcomes.count(FLAG))
    application.risk_score, application.risk_band = score, band
    application.risk_reasons = [{"code": r.code, "points": r.points, "text": r.text} for r in reasons]
    outcome = FLAG if band == "high" else PASS
    return Finding("risk.score", outcome, f"Risk score {score} ({band}).",
                   {"score": score, "band": band, "reasons": application.risk_reasons})


# Run in this order: the risk score reads the results of all the others.
APPLICATION_CHECKS: list[tuple[str, Callable[[Application], Finding]]] = [
    ("application.completeness", _completeness),
    ("screening.sanctions", _sanctions),
    ("linked.signals", _linked),
    ("risk.score", _risk),
]
APPLICATION_CHECKS_VERSION = "1"


def planned_count(application: Application, document_count: int) -> int:
    return document_count * planned_checks_per_document() + len(APPLICATION_CHECKS)


def done_count(application: Application) -> int:
    return db.session.scalar(select(func.count()).select_from(CheckResult).where(
        CheckResult.application_id == application.id, CheckResult.round == application.check_round)) or 0


def _save(application: Application, subject_type: str, subject_id: str, findings: list[Finding],
          version: str) -> None:
    for finding in findings:
        db.session.add(CheckResult(
            application_id=application.id, round=application.check_round, check_name=finding.check_name,
            check_version=version, subject_type=subject_type, subject_id=subject_id, outcome=finding.outcome,
            detail=finding.detail, evidence=finding.evidence, advice=finding.advice,
        ))


def run_application_checks(application_id: int) -> None:
    application = db.session.get(Application, application_id)
    if application is None or application.state != CHECKING:
        return
    documents = db.session.scalars(select(Document).where(Document.application_id == application.id)
                                   .order_by(Document.id)).all()
    application.checks_planned = planned_count(application, len(documents))
    db.session.commit()
    recorded = {(t, s, n) for t, s, n in db.session.execute(
        select(CheckResult.subject_type, CheckResult.subject_id, CheckResult.check_name).where(
            CheckResult.application_id == application.id, CheckResult.round == application.check_round))}
    subjects_done = {(t, s) for t, s, _ in recorded}

    pause = current_app.config.get("CHECKS_PAUSE_SECONDS", 0)
    for document in documents:
        if ("document", str(document.id)) in subjects_done:
            continue
        if pause:  # only for crash tests and demonstrations: widens the window between commits
            time.sleep(pause)
        findings = check_document(document, application)
        _save(application, "document", str(document.id), findings, DOCUMENT_CHECKS_VERSION)
        if any(f.check_name == "document.malware" and f.outcome == FAIL for f in findings):
            _quarantine(document, findings)
        db.session.commit()

    for name, check in APPLICATION_CHECKS:
        if ("application", str(application.id), name) in recorded:
            continue
        finding = check(application)
        _save(application, "application", str(application.id), [finding], APPLICATION_CHECKS_VERSION)
        db.session.commit()

    application = db.session.get(Application, application_id)
    if application.state == CHECKING:
        transition(application, "checks_done", Actor.system(), details={
            "round": application.check_round, "results": done_count(application),
            "risk_score": application.risk_score, "risk_band": application.risk_band,
        })
        db.session.commit()


def _quarantine(document: Document, findings: list[Finding]) -> None:
    """Malware: the file can no longer be downloaded; reviewers see the finding."""
    signature = next(f.evidence.get("signature") for f in findings if f.check_name == "document.malware")
    document.quarantined_at = utcnow()
    record("document.quarantined", "application", document.application_id,
           {"document_id": document.id, "signature": signature, "sha256": document.sha256})
