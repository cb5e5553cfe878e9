"""The case page: everything a reviewer needs to decide, shown by the case route and again, with the
reviewer's input, after a refused decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import render_template
from flask_login import current_user
from sqlalchemy import func, select

from ..accounts.models import User
from ..agreements.models import RULE_KINDS, Agreement
from ..applications.changes import all_change_requests
from ..applications.models import STATE_LABELS, Application
from ..applications.queries import ownership_summary
from ..applications.states import Actor, allowed_actions, guards_for
from ..audit.models import AuditEvent
from ..checks.queries import progress_of, results_for
from ..countries import country_name
from ..db import db, utcnow
from ..documents.models import Document
from ..documents.requirements import ALL_KINDS
from ..institutions.access import DEFAULT_MAX_KEYS, MAX_KEYS_LIMIT, RATE_TIERS, SCOPES, TRADE_SCOPES
from ..institutions.models import Institution
from ..letters.queries import letter_for
from ..screening.models import LINK_SIGNALS, PENDING, TRUE_MATCH, LinkSignal, ScreeningHit
from ..templating import day, plural, written_time
from . import operations as ops
from . import permissions
from .guards import SHOWN_ELSEWHERE
from .models import CaseNote, QualificationReview
from .ownership_chart import ownership_tree
from .qualification import CRITERIA, MAX_SCORE
from .queries import latest_qualification


def render_case(application: Application, *, status: int = 200, posted: dict | None = None,
                posted_form: str = "", error=None):
    """The case page. After a refused decision it is shown again with what the reviewer typed
    (`posted`) in the form they used (`posted_form`), so nothing typed is lost."""
    results = results_for(application)
    documents = db.session.scalars(select(Document).where(Document.application_id == application.id)
                                   .order_by(Document.id)).all()
    by_document: dict[str, list] = {}
    application_results = []
    for result in results:
        if result.subject_type == "document":
            by_document.setdefault(result.subject_id, []).append(result)
        else:
            application_results.append(result)
    hits = db.session.scalars(select(ScreeningHit).where(ScreeningHit.institution_id == application.institution_id)
                              .order_by(ScreeningHit.disposition != "pending", ScreeningHit.score.desc())).all()
    signals = db.session.scalars(select(LinkSignal).where(LinkSignal.application_id == application.id)
                                 .order_by(LinkSignal.status != "open", LinkSignal.id)).all()
    others = {s.other_institution_id for s in signals}
    institutions = {i.id: i for i in db.session.scalars(select(Institution).where(Institution.id.in_(others)))} \
        if others else {}
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.subject_type == "application", AuditEvent.subject_id == str(application.id))
        .order_by(AuditEvent.id.desc()).limit(200)).all()
    notes = db.session.scalars(select(CaseNote).where(CaseNote.application_id == application.id)
                               .order_by(CaseNote.id.desc())).all()
    agreements = db.session.scalars(select(Agreement).where(Agreement.institution_id == application.institution_id)
                                    .order_by(Agreement.id.desc())).all()
    user_ids = {application.assignee_id, application.qualified_by_id, application.compliance_signoff_by_id,
                *(h.disposed_by_id for h in hits), *(s.reviewed_by_id for s in signals),
                *(d.reviewed_by_id for d in documents)} - {None}
    people = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    summary = ownership_summary(application)
    return render_template(
        "review/case.html", application=application, documents=documents, by_document=by_document,
        application_results=application_results, hits=hits, signals=signals, events=events, notes=notes,
        agreements=agreements, people=people, summary=summary, tree=ownership_tree(application, summary),
        names={p.id: p.name for p in application.parties}, kinds=ALL_KINDS, link_labels=LINK_SIGNALS,
        institutions=institutions, signal_groups=group_signals(signals, institutions),
        progress=progress_of(application), country_name=country_name,
        actions=allowed_actions(application), change_requests=all_change_requests(application),
        qualification=latest_qualification(application), assignees=ops.eligible_assignees(application),
        letter=letter_for(application.id), now=utcnow(), posted=posted or {}, posted_form=posted_form,
        error=error, ops=ops, criteria=CRITERIA, max_score=MAX_SCORE, scopes=SCOPES, trade_scopes=TRADE_SCOPES,
        can=permissions, rate_tiers=RATE_TIERS, default_max_keys=DEFAULT_MAX_KEYS, max_keys_limit=MAX_KEYS_LIMIT,
        evidence_items=evidence_items, written_date=written_date, timeline=timeline(events),
        qualification_count=qualification_rounds(application),
        state_labels=STATE_LABELS, blockers=blockers(application), rule_kinds=RULE_KINDS,
        risk_reasons=current_risk_reasons(application, hits),
        true_matches=[h for h in hits if h.disposition == TRUE_MATCH],
    ), status


# The action that moves a case forward from each review state, for the "before you can ..." list.
FORWARD = {"document_review": "documents_accepted", "qualification_review": "qualify", "pending_approval": "approve"}


def blockers(application: Application) -> list[str]:
    """What still stands between the case and its next step, as the transition guards word it.
    (Assignment and the qualification form are shown by the page itself.)"""
    action = FORWARD.get(application.state)
    if action is None:
        return []
    actor = Actor(current_user._get_current_object())
    return [reason for guard in guards_for(application.state, action) if guard not in SHOWN_ELSEWHERE
            and (reason := guard(application, actor))]


def current_risk_reasons(application: Application, hits: list[ScreeningHit]) -> list[dict]:
    """The stored risk reasons, with the sanctions reason saying where its hits stand now: the score was
    computed when the checks ran, but "to review" must not outlive the dispositions."""
    reasons = []
    for reason in application.risk_reasons or []:
        if reason.get("code") == "sanctions_hit" and hits:
            pending = sum(h.disposition == PENDING for h in hits)
            confirmed = sum(h.disposition == TRUE_MATCH for h in hits)
            names = ", ".join(sorted({h.subject_name for h in hits}))
            if confirmed:
                state = f"{confirmed} confirmed as a true match"
            elif pending:
                state = f"{plural(pending, 'hit')} to review"
            else:
                state = "all dispositioned as false positives"
            reason = {**reason, "text": f"Possible sanctions match for {names} ({state})."}
        reasons.append(reason)
    return reasons


@dataclass
class SignalGroup:
    """The signals linking the case to one other institution: one question (is it the same firm?),
    decided once."""
    institution_id: int
    institution: Institution | None
    signals: list[LinkSignal]

    @property
    def open(self) -> list[LinkSignal]:
        return [s for s in self.signals if s.status == "open"]


def group_signals(signals: list[LinkSignal], institutions: dict[int, Institution]) -> list[SignalGroup]:
    """Groups with open signals first, then by the other institution's name."""
    groups: dict[int, SignalGroup] = {}
    for signal in signals:
        groups.setdefault(signal.other_institution_id, SignalGroup(
            signal.other_institution_id, institutions.get(signal.other_institution_id), [])).signals.append(signal)
    return sorted(groups.values(), key=lambda g: (not g.open, g.institution.legal_name if g.institution else "",
                                                  g.institution_id))


EVIDENCE_LABELS = {
    "registration_number": "Registration number", "jurisdiction": "Jurisdiction",
    "other_application": "Their application", "name": "Name here", "other_name": "Name there",
    "date_of_birth": "Date of birth", "roles_here": "Roles here", "roles_there": "Roles there",
    "sha256": "File SHA-256", "filename": "File", "domain": "E-mail domain", "ip": "IP address",
    "here": "Here", "there": "There",
}
# For a shared address, "here" and "there" are when it was used.
TIME_LABELS = {"here": "Used here", "there": "Used there"}


def evidence_items(signal: LinkSignal) -> list[tuple[str, str]]:
    """A signal's evidence as a reviewer reads it: labelled, dates and times written as on every page."""
    items = []
    for key, value in sorted((signal.evidence or {}).items()):
        if key == "other_institution_restricted":
            continue
        label = EVIDENCE_LABELS.get(key, key.replace("_", " ").capitalize())
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) or "–"
        elif isinstance(value, str) and signal.signal == "ip_address" and key in TIME_LABELS:
            label = TIME_LABELS[key]
            try:
                value = written_time(datetime.fromisoformat(value))
            except ValueError:
                pass
        elif isinstance(value, str) and key == "date_of_birth":
            try:
                value = day(date.fromisoformat(value))
            except ValueError:
                pass
        items.append((label, str(value)))
    return items


@dataclass
class TimelineEntry:
    """One line of the case's timeline: an event, or a run of the same event by the same actor
    (an applicant adding eight people is one line, not eight)."""
    action: str
    detail: str
    actor: str
    occurred_at: datetime
    count: int = 1


def event_detail(event: AuditEvent) -> str:
    """What a reviewer needs from an event's details, in words: never a code or an empty value."""
    details = event.details or {}
    if event.action == "document.reviewed":
        decision = ops.DOCUMENT_DECISIONS.get(details.get("decision"), "")
        reason = ops.DOCUMENT_REASONS.get(details.get("reason") or "", "")
        kind = ALL_KINDS.get(details.get("kind") or "")
        parts = [kind.label if kind else "", decision, reason, details.get("comment") or ""]
        return " · ".join(p for p in parts if p)
    reason = details.get("reason") or details.get("note")
    if event.action == "application.note_added":
        return ""
    return str(reason) if reason else ""


def timeline(events: list[AuditEvent]) -> list[TimelineEntry]:
    """Newest first; consecutive events of the same kind by the same actor, with nothing to tell them
    apart, collapse into one line that counts them."""
    entries: list[TimelineEntry] = []
    for event in events:
        detail = event_detail(event)
        last = entries[-1] if entries else None
        if last and last.action == event.action and last.actor == event.actor_label and not detail \
                and not last.detail:
            last.count += 1
            continue
        entries.append(TimelineEntry(event.action, detail, event.actor_label, event.occurred_at))
    return entries


def qualification_rounds(application: Application) -> int:
    return db.session.scalar(select(func.count()).select_from(QualificationReview).where(
        QualificationReview.application_id == application.id)) or 0


def written_date(value: str) -> str:
    """A date from a sanctions list (ISO, or only a year or month) as dates are written on every page."""
    try:
        return day(date.fromisoformat(value))
    except (TypeError, ValueError):
        return str(value)
