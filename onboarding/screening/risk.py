"""The risk score (DESIGN 4.6): 0-100 with the reasons that make it up, and its band.

Weights are plain constants: each reason is something a reviewer can check, and the score is
their sum, capped at 100, so the number always explains itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from ..applications.models import Application
from ..applications.queries import ownership_summary
from ..db import db
from ..templating import plural
from .models import PENDING, TRUE_MATCH, LinkSignal, ScreeningHit

WEIGHTS = {
    "high_risk_jurisdiction": 30,
    "high_risk_person": 15,
    "sanctions_hit": 40,
    "linked": 20,
    "linked_restricted": 30,
    "young_company": 10,
    "unregulated": 10,
    "no_beneficial_owner": 10,
    "failed_documents": 15,
    "flagged_documents": 5,
}
BANDS = (("high", 60), ("medium", 30), ("low", 0))


@dataclass(frozen=True)
class Reason:
    code: str
    points: int
    text: str


def band_for(score: int) -> str:
    return next(name for name, floor in BANDS if score >= floor)


def assess(application: Application, *, failed_document_checks: int,
           flagged_document_checks: int) -> tuple[int, str, list[Reason]]:
    """The score, its band and the reasons. The document-check counts come from the checks runner, which
    owns those results (this part does not read them)."""
    high_risk = set(current_app.config.get("HIGH_RISK_JURISDICTIONS", []))
    reasons: list[Reason] = []
    if application.jurisdiction in high_risk:
        reasons.append(Reason("high_risk_jurisdiction", WEIGHTS["high_risk_jurisdiction"],
                              f"Incorporated in a high-risk jurisdiction ({application.jurisdiction})."))
    risky_people = [p.name for p in application.parties if p.is_person and
                    ({p.nationality, p.residence} & high_risk)]
    if risky_people:
        reasons.append(Reason("high_risk_person", WEIGHTS["high_risk_person"],
                              "Nationality or residence in a high-risk jurisdiction: " + ", ".join(risky_people) + "."))
    hits = db.session.scalars(select(ScreeningHit).where(
        ScreeningHit.institution_id == application.institution_id,
        ScreeningHit.disposition.in_([PENDING, TRUE_MATCH]))).all()
    if hits:
        names = sorted({h.subject_name for h in hits})
        reasons.append(Reason("sanctions_hit", WEIGHTS["sanctions_hit"],
                              f"Possible sanctions match for {', '.join(names)} "
                              f"({plural(len(hits), 'hit')} to review)."))
    links = db.session.scalars(select(LinkSignal).where(LinkSignal.application_id == application.id,
                                                        LinkSignal.status != "dismissed")).all()
    if links:
        restricted = [s for s in links if s.evidence.get("other_institution_restricted")]
        others = len({s.other_institution_id for s in links})
        if restricted:
            reasons.append(Reason("linked_restricted", WEIGHTS["linked_restricted"],
                                  "Linked to a permanently restricted institution."))
        reasons.append(Reason("linked", WEIGHTS["linked"],
                              f"{plural(len(links), 'signal')} linking it to {plural(others, 'other institution')}."))
    if application.incorporation_date and application.incorporation_date > date.today() - timedelta(days=365):
        reasons.append(Reason("young_company", WEIGHTS["young_company"], "The company is less than 12 months old."))
    if application.is_regulated is False:
        reasons.append(Reason("unregulated", WEIGHTS["unregulated"], "The company is not regulated."))
    if not ownership_summary(application).beneficial_owners:
        reasons.append(Reason("no_beneficial_owner", WEIGHTS["no_beneficial_owner"],
                              "No natural person reaches the beneficial-ownership threshold."))
    failed, flagged = failed_document_checks, flagged_document_checks
    if failed:
        reasons.append(Reason("failed_documents", WEIGHTS["failed_documents"],
                              f"{plural(failed, 'document check')} failed."))
    elif flagged:
        reasons.append(Reason("flagged_documents", WEIGHTS["flagged_documents"],
                              f"{plural(flagged, 'document check')} {'needs' if flagged == 1 else 'need'} "
                              "a reviewer's look."))
    score = min(sum(r.points for r in reasons), 100)
    return score, band_for(score), reasons
