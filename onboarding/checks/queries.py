"""Read-only views of check results for the applicant's status page and staff pages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ..applications.models import CHECKING, Application
from ..db import db
from ..documents.models import Document
from ..documents.requirements import ALL_KINDS
from .models import FAIL, CheckResult


def progress_of(application: Application) -> dict:
    done = db.session.scalar(select(func.count()).select_from(CheckResult).where(
        CheckResult.application_id == application.id, CheckResult.round == application.check_round)) or 0
    planned = max(application.checks_planned, done)
    return {
        "state": application.state, "state_label": application.state_label, "done": done, "planned": planned,
        "running": application.state == CHECKING,
        "label": f"{done} of {planned} checks done" if planned else "Checks are about to start",
    }


@dataclass(frozen=True)
class DocumentProblem:
    document_id: int
    label: str
    filename: str
    detail: str
    advice: str | None


@dataclass(frozen=True)
class ApplicantCheckView:
    progress: dict
    document_problems: list[DocumentProblem]


def applicant_check_view(application: Application) -> ApplicantCheckView:
    """What the applicant may see: progress, and documents that cannot be used with what to do.
    Screening, links and risk are for reviewers only."""
    rows = db.session.execute(
        select(CheckResult, Document).join(Document, Document.id == func.cast(CheckResult.subject_id, db.Integer))
        .where(CheckResult.application_id == application.id, CheckResult.round == application.check_round,
               CheckResult.subject_type == "document", CheckResult.outcome == FAIL)
        .order_by(Document.id, CheckResult.id)
    ).all() if application.check_round else []
    problems = []
    for result, document in rows:
        kind = ALL_KINDS.get(document.kind)
        problems.append(DocumentProblem(document.id, kind.label if kind else document.kind, document.filename,
                                        result.detail, result.advice))
    return ApplicantCheckView(progress_of(application), problems)


def results_for(application: Application, round_: int | None = None) -> list[CheckResult]:
    return db.session.scalars(select(CheckResult).where(
        CheckResult.application_id == application.id,
        CheckResult.round == (round_ if round_ is not None else application.check_round),
    ).order_by(CheckResult.subject_type, CheckResult.subject_id, CheckResult.id)).all()
