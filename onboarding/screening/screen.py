"""Screening the names of an application against the current sanctions lists, and re-screening
every institution under review or active after a list update (ongoing monitoring).

Hits are unique per institution, subject and list entry: screening again refreshes a pending hit's
score and explanation but never duplicates it, and never reopens one a reviewer has decided."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ..applications.models import (
    CHECKING,
    DOCUMENT_REVIEW,
    PENDING_APPROVAL,
    QUALIFICATION_REVIEW,
    Application,
)
from ..audit.operations import record
from ..db import db, utcnow
from ..institutions.queries import institution_ids_with_status
from ..institutions.status import HOLDS_ACCESS
from ..templating import plural
from .current import current_matcher
from .models import PENDING, ScreeningHit

log = logging.getLogger(__name__)

REVIEW_STATES = (CHECKING, DOCUMENT_REVIEW, QUALIFICATION_REVIEW, PENDING_APPROVAL)


@dataclass(frozen=True)
class Subject:
    key: str
    name: str
    kind: str  # person or entity
    birth_date: date | None = None
    nationality: str | None = None
    jurisdiction: str | None = None
    registration_number: str | None = None


def subjects_of(application: Application) -> list[Subject]:
    """The company, each trading name, and every person and company named in the application."""
    subjects = []
    if application.legal_name:
        subjects.append(Subject("company", application.legal_name, "entity", jurisdiction=application.jurisdiction,
                                registration_number=application.registration_number))
    for name in application.trading_names or []:
        subjects.append(Subject(f"trading_name:{name.lower()}"[:320], name, "entity",
                                jurisdiction=application.jurisdiction))
    for party in application.parties:
        if party.is_person:
            subjects.append(Subject(f"party:{party.id}", party.name, "person", birth_date=party.date_of_birth,
                                    nationality=party.nationality or party.residence))
        else:
            subjects.append(Subject(f"party:{party.id}", party.name, "entity", jurisdiction=party.jurisdiction,
                                    registration_number=party.registration_number))
    return subjects


@dataclass(frozen=True)
class ScreeningOutcome:
    pending: list[ScreeningHit]  # the application's hits still waiting for a reviewer
    new: list[ScreeningHit]  # found by this screening
    screened: list[str]  # names screened


def screen_application(application: Application, *, found_by: str = "application",
                       matcher=None) -> ScreeningOutcome:
    """Screen every subject of the application against the current lists."""
    matcher = matcher or current_matcher()
    existing = {(h.subject_key, h.source, h.external_id): h for h in db.session.scalars(
        select(ScreeningHit).where(ScreeningHit.institution_id == application.institution_id))}
    new_hits = []
    subjects = subjects_of(application)
    for subject in subjects:
        for match in matcher.screen(subject.name, kind=subject.kind, birth_date=subject.birth_date,
                                    nationality=subject.nationality, jurisdiction=subject.jurisdiction,
                                    registration_number=subject.registration_number):
            key = (subject.key, match.source, match.external_id)
            hit = existing.get(key)
            if hit is None:
                hit = ScreeningHit(
                    institution_id=application.institution_id, application_id=application.id,
                    subject_key=subject.key, subject_name=subject.name, snapshot_id=match.snapshot_id,
                    entry_id=match.entry_id, source=match.source, external_id=match.external_id,
                    entry_name=match.entry_name, matched_alias=match.matched_alias, score=match.score,
                    explanation=match.explanation, found_by=found_by,
                )
                db.session.add(hit)
                existing[key] = hit
                new_hits.append(hit)
            elif hit.disposition == PENDING:
                hit.score, hit.explanation, hit.matched_alias = match.score, match.explanation, match.matched_alias
                hit.snapshot_id, hit.entry_id = match.snapshot_id, match.entry_id
    if new_hits and found_by == "monitoring":
        _hold_case_for_new_hits(application)
    db.session.flush()
    for hit in new_hits:
        record("screening.hit_found", "application", application.id, {
            "hit_id": hit.id, "subject": hit.subject_name, "source": hit.source, "external_id": hit.external_id,
            "entry": hit.entry_name, "score": round(hit.score, 3), "found_by": found_by,
        })
    subject_keys = {s.key for s in subjects}
    pending = [h for h in existing.values() if h.disposition == PENDING and h.subject_key in subject_keys]
    return ScreeningOutcome(pending, new_hits, [s.name for s in subjects])


def _hold_case_for_new_hits(application: Application) -> None:
    """New hits for a case in review: lock its row until they are committed (an approval running at the
    same moment waits, then sees them) and bump its version (a decision form opened before them is stale)."""
    db.session.refresh(application, with_for_update=True)
    if application.state in (DOCUMENT_REVIEW, QUALIFICATION_REVIEW, PENDING_APPROVAL):  # not while checks run
        application.updated_at = utcnow()


def institutions_to_monitor() -> list[int]:
    """Active institutions and those with an application under review."""
    active = institution_ids_with_status(*HOLDS_ACCESS)
    reviewing = set(db.session.scalars(select(Application.institution_id).where(Application.state.in_(REVIEW_STATES))))
    return sorted(active | reviewing)


def latest_screenable_application(institution_id: int) -> Application | None:
    return db.session.scalar(
        select(Application).where(Application.institution_id == institution_id,
                                  Application.submitted_at.is_not(None))
        .order_by(Application.id.desc()).limit(1)
    )


def rescreen_all(batch_size: int = 100,
                 on_batch: Callable[[int, int, list[int]], None] | None = None) -> dict[str, int]:
    """Ongoing monitoring after a list update: screen every monitored institution again. New hits
    are review tasks (pending hits found by monitoring). Commits per batch; safe to run twice.
    `on_batch(total, done, new_hit_ids)` runs before each batch's commit (progress for the lists page)."""
    matcher = current_matcher()
    ids = institutions_to_monitor()
    new_total = 0
    for start in range(0, len(ids), batch_size):
        batch_hits: list[int] = []
        for institution_id in ids[start:start + batch_size]:
            application = latest_screenable_application(institution_id)
            if application is None:
                continue
            new = screen_application(application, found_by="monitoring", matcher=matcher).new
            new_total += len(new)
            batch_hits += [hit.id for hit in new]
        if on_batch is not None:
            on_batch(len(ids), min(start + batch_size, len(ids)), batch_hits)
        db.session.commit()
    log.info("re-screened %s, %s", plural(len(ids), "institution"), plural(new_total, "new hit"))
    return {"institutions": len(ids), "new_hits": new_total}
