"""Read-only questions about violations and investigations."""

from __future__ import annotations

from sqlalchemy import select

from ..applications.models import Application
from ..db import db
from ..institutions.models import Institution
from ..screening.models import CONFIRMED, LinkSignal
from ..textsearch import containing
from .models import CONFIRMED_OUTCOMES, PENDING, UNRESOLVED, DecisionProposal, Investigation, Violation


def violations_of(investigation: Investigation) -> list[Violation]:
    return list(db.session.scalars(select(Violation).where(Violation.investigation_id == investigation.id)
                                   .order_by(Violation.id)))


def linked_institution_ids(institution_id: int) -> set[int]:
    """Institutions linked to this one by a confirmed signal, in either direction."""
    outgoing = select(LinkSignal.other_institution_id).join(Application, Application.id == LinkSignal.application_id)\
        .where(Application.institution_id == institution_id, LinkSignal.status == CONFIRMED)
    incoming = select(Application.institution_id).join(LinkSignal, LinkSignal.application_id == Application.id)\
        .where(LinkSignal.other_institution_id == institution_id, LinkSignal.status == CONFIRMED)
    return (set(db.session.scalars(outgoing)) | set(db.session.scalars(incoming))) - {institution_id}


def earlier_confirmed_violations(investigation: Investigation) -> list[Violation]:
    """Violations confirmed in earlier investigations of this institution or of one linked to it."""
    institutions = {investigation.institution_id} | linked_institution_ids(investigation.institution_id)
    return list(db.session.scalars(select(Violation).join(Investigation, Investigation.id == Violation.investigation_id)
                                   .where(Violation.institution_id.in_(institutions),
                                          Investigation.id != investigation.id,
                                          Investigation.status.in_(CONFIRMED_OUTCOMES)).order_by(Violation.id)))


def unresolved_investigation(institution_id: int) -> Investigation | None:
    return db.session.scalar(select(Investigation).where(Investigation.institution_id == institution_id,
                                                         Investigation.status.in_(UNRESOLVED)))


def history_of(institution_id: int) -> list[Investigation]:
    return list(db.session.scalars(select(Investigation).where(Investigation.institution_id == institution_id)
                                   .order_by(Investigation.id.desc())))


def compliance_queue(*, mine: int | None = None, search: str | None = None) -> list[tuple[Investigation, str]]:
    query = select(Investigation, Institution.legal_name).join(
        Institution, Institution.id == Investigation.institution_id).where(Investigation.status.in_(UNRESOLVED))
    if mine is not None:
        query = query.where(Investigation.assignee_id == mine)
    if search:
        query = query.where(containing(search, Institution.legal_name))
    return list(db.session.execute(query.order_by(Investigation.due_at, Investigation.id)).all())


def pending_proposal(investigation_id: int) -> DecisionProposal | None:
    return db.session.scalar(select(DecisionProposal).where(DecisionProposal.investigation_id == investigation_id,
                                                            DecisionProposal.status == PENDING))


def proposals_of(investigation_id: int) -> list[DecisionProposal]:
    return list(db.session.scalars(select(DecisionProposal).where(
        DecisionProposal.investigation_id == investigation_id).order_by(DecisionProposal.id.desc())))


def awaiting_confirmation(investigation_ids) -> set[int]:
    """Which of these investigations have a decision waiting for a second officer."""
    if not investigation_ids:
        return set()
    return set(db.session.scalars(select(DecisionProposal.investigation_id).where(
        DecisionProposal.investigation_id.in_(list(investigation_ids)), DecisionProposal.status == PENDING)))
