"""Recording a violation report: in one transaction the report is kept, every key of the institution is
frozen (through the keys part), the institution goes to `frozen`, an investigation opens (or the report
joins the unresolved one, which goes back to compliance if it was waiting for the institution's agreement)
and the institution is told. The reporter's reference makes it idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..audit.operations import record
from ..db import db, utcnow
from ..errors import Conflict, OperationRefused
from ..institutions.models import ACTIVE, FROZEN, RESTRICTED, Institution
from ..institutions.status import change_status
from ..keys.models import ApiKey
from ..keys.status import freeze_institution_keys
from .decisions import reopen_for_new_report
from .models import CATEGORIES, IMPACTS, OPEN, UNRESOLVED, Investigation, Violation
from .notices import freeze_notice

INVESTIGATION_DAYS = 3  # how long compliance has for a case before it shows as overdue


class ReportRefused(OperationRefused):
    code = "report_refused"


class InstitutionRestricted(Conflict):
    code = "institution_restricted"


class SubjectUnknown(ReportRefused):
    """The report names an institution or key that does not exist (404)."""

    code = "not_found"
    http_status = 404


@dataclass(frozen=True)
class Report:
    institution_id: int | None
    key_public_id: str | None
    category: str
    observed_at: datetime
    market_impact: str
    malicious: bool
    evidence_text: str | None
    evidence: dict[str, Any]
    reference: str


@dataclass(frozen=True)
class Recorded:
    violation: Violation
    investigation: Investigation
    frozen_keys: int
    duplicate: bool


def existing_report(reporter: str, reference: str) -> Violation | None:
    return db.session.scalar(select(Violation).where(Violation.reporter == reporter,
                                                     Violation.reference == reference))


def _subject(report: Report) -> tuple[Institution, ApiKey | None]:
    key = None
    if report.key_public_id:
        key = db.session.scalar(select(ApiKey).where(ApiKey.public_id == report.key_public_id[:12]))
        if key is None:
            raise SubjectUnknown(f"No API key {report.key_public_id}.", field="key_id")
    institution_id = report.institution_id if report.institution_id is not None else (key.institution_id if key
                                                                                        else None)
    if institution_id is None:
        raise ReportRefused("Name the institution or the API key the report is about.", field="institution_id")
    institution = db.session.scalar(select(Institution).where(Institution.id == institution_id).with_for_update())
    if institution is None:
        raise SubjectUnknown(f"No institution {institution_id}.", field="institution_id")
    if key is not None and key.institution_id != institution.id:
        raise ReportRefused("That key belongs to another institution.", field="key_id")
    return institution, key


def _check(report: Report) -> None:
    if report.category not in CATEGORIES:
        raise ReportRefused(f"The category is one of {', '.join(CATEGORIES)}.", field="category")
    if report.market_impact not in IMPACTS:
        raise ReportRefused(f"The market impact is one of {', '.join(IMPACTS)}.", field="market_impact")
    reference = report.reference.strip()
    if not reference or len(reference) > 100:
        raise ReportRefused("Give your own reference for the report (at most 100 characters).", field="reference")
    if report.evidence_text and len(report.evidence_text) > 20000:
        raise ReportRefused("Keep the evidence text under 20,000 characters.", field="evidence_text")


def report_violation(report: Report, *, reporter: str) -> Recorded:
    """Record the report, or return the first result for a reference already used by this reporter."""
    _check(report)
    earlier = existing_report(reporter, report.reference.strip())
    if earlier is not None:
        return Recorded(earlier, db.session.get(Investigation, earlier.investigation_id), 0, True)
    institution, key = _subject(report)
    if institution.status == RESTRICTED:
        raise InstitutionRestricted(f"{institution.legal_name} is already permanently restricted.")
    investigation = db.session.scalar(select(Investigation).where(
        Investigation.institution_id == institution.id, Investigation.status.in_(UNRESOLVED)))
    if investigation is None:
        investigation = Investigation(institution_id=institution.id, status=OPEN,
                                      due_at=utcnow() + timedelta(days=INVESTIGATION_DAYS))
        db.session.add(investigation)
        db.session.flush()
    else:
        investigation.version += 1
    violation = Violation(
        institution_id=institution.id, key_id=key.id if key else None, investigation_id=investigation.id,
        category=report.category, observed_at=report.observed_at, market_impact=report.market_impact,
        malicious=report.malicious, evidence_text=(report.evidence_text or "").strip() or None,
        evidence=report.evidence or {}, reporter=reporter, reference=report.reference.strip())
    try:
        with db.session.begin_nested():
            db.session.add(violation)
    except IntegrityError:
        # The same reference arrived at the same moment from another process: theirs is the first.
        db.session.rollback()
        earlier = existing_report(reporter, report.reference.strip())
        return Recorded(earlier, db.session.get(Investigation, earlier.investigation_id), 0, True)
    reopen_for_new_report(investigation, violation_id=violation.id,
                          due_at=utcnow() + timedelta(days=INVESTIGATION_DAYS))
    reason = f"Violation report {violation.id}: {CATEGORIES[report.category]}"
    frozen = freeze_institution_keys(institution.id, reason=reason)
    if institution.status == ACTIVE:
        change_status(institution, FROZEN, reason=reason, details={"violation_id": violation.id})
        freeze_notice(investigation, [violation])
    record("violation.reported", "institution", institution.id, {
        "violation_id": violation.id, "investigation_id": investigation.id, "category": report.category,
        "market_impact": report.market_impact, "malicious": report.malicious, "reporter": reporter,
        "reference": violation.reference, "key": key.public_id if key else None, "frozen_keys": len(frozen)})
    return Recorded(violation, investigation, len(frozen), False)
