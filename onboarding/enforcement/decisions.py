"""Compliance's decisions on an investigation, each with a required reason, and the institution's
reinstatement. The only writer of `Investigation.status`. Keys and the institution's status change
through their own parts.

- dismiss: the report was unfounded; keys and institution unfreeze.
- reinstatable: a first, non-malicious violation without significant impact; the institution must agree
  to the current risk-control rules, then everything unfreezes.
- restrict: every key revoked, the institution restricted for good."""

from __future__ import annotations

from sqlalchemy import select

from ..accounts.models import User
from ..agreements.models import RISK_CONTROL
from ..agreements.operations import current_rules, record_agreement
from ..audit.operations import record
from ..db import db, utcnow
from ..errors import Conflict, OperationRefused
from ..institutions.models import ACTIVE, FROZEN, Institution
from ..institutions.models import RESTRICTED as INSTITUTION_RESTRICTED
from ..institutions.status import change_status
from ..keys.status import revoke_institution_keys, unfreeze_institution_keys
from ..notifications.operations import queue_email
from .models import (
    AWAITING_AGREEMENT,
    CATEGORIES,
    DISMISSED,
    OPEN,
    REINSTATED,
    RESTRICTED,
    UNRESOLVED,
    Investigation,
    Violation,
)
from .queries import earlier_confirmed_violations, violations_of

COMPLIANCE = "compliance"
STALE = ("This investigation changed after you opened it (a new report, or another officer acted). Nothing "
         "was changed: look at the current case and decide again.")


class DecisionRefused(OperationRefused):
    code = "decision_refused"


class InvestigationChanged(Conflict):
    code = "stale"


def lock_investigation(investigation_id: int, seen_version: int | None) -> Investigation | None:
    investigation = db.session.scalar(select(Investigation).where(Investigation.id == investigation_id)
                                      .with_for_update().execution_options(populate_existing=True))
    if investigation is not None and seen_version is not None and investigation.version != seen_version:
        raise InvestigationChanged(STALE)
    return investigation


def _require_officer(investigation: Investigation, user: User, *, assigned: bool = True) -> None:
    if not user.has_role(COMPLIANCE):
        raise DecisionRefused("Only compliance officers decide investigations.")
    if assigned and investigation.assignee_id != user.id:
        if investigation.assignee_id is None:
            raise DecisionRefused("Claim this investigation before deciding on it.")
        holder = db.session.get(User, investigation.assignee_id)
        raise DecisionRefused(f"This investigation is assigned to {holder.full_name if holder else 'another officer'}.")


def _reason(text: str | None) -> str:
    reason = (text or "").strip()
    if not reason:
        raise DecisionRefused("Give the reason for the decision.", field="reason")
    if len(reason) > 4000:
        raise DecisionRefused("Keep the reason under 4000 characters.", field="reason")
    return reason


def claim_investigation(investigation: Investigation, user: User) -> None:
    _require_officer(investigation, user, assigned=False)
    if investigation.status != OPEN:
        raise DecisionRefused("Only an open investigation is claimed.")
    if investigation.assignee_id == user.id:
        raise DecisionRefused("This investigation is already yours.")
    if investigation.assignee_id is not None:
        holder = db.session.get(User, investigation.assignee_id)
        raise Conflict(f"{holder.full_name if holder else 'Another officer'} claimed this investigation first.")
    investigation.assignee_id, investigation.assigned_at = user.id, utcnow()
    investigation.version += 1
    record("investigation.claimed", "institution", investigation.institution_id,
           {"investigation_id": investigation.id, "assignee": user.full_name})


def release_investigations_of(user: User) -> list[Investigation]:
    """A compliance officer leaves (deactivation): their unresolved investigations go back to the compliance
    queue, unassigned, with an event. Returns the investigations released."""
    held = list(db.session.scalars(select(Investigation).where(Investigation.assignee_id == user.id,
                                                               Investigation.status.in_(UNRESOLVED))
                                   .order_by(Investigation.id)))
    for investigation in held:
        investigation.assignee_id = investigation.assigned_at = None
        investigation.version += 1
        record("investigation.released", "institution", investigation.institution_id,
               {"investigation_id": investigation.id, "from": user.full_name,
                "why": "the assignee was deactivated"})
    return held


def reinstatement_refusal(investigation: Investigation) -> str | None:
    """Why the first-offence outcome is not open to this case (None when it is)."""
    reports = violations_of(investigation)
    if any(v.market_impact == "significant" for v in reports):
        return "A report names a significant market impact: the first-offence outcome is not available."
    if any(v.malicious for v in reports):
        return "Surveillance judged the activity malicious: the first-offence outcome is not available."
    earlier = earlier_confirmed_violations(investigation)
    if earlier:
        return (f"{len(earlier)} earlier confirmed violation(s) by this institution or one linked to it: the "
                "default outcome is permanent restriction.")
    return None


def _decide(investigation: Investigation, status: str, reason: str, user: User) -> None:
    investigation.status = status
    investigation.decided_at, investigation.decided_by_id, investigation.decision_reason = utcnow(), user.id, reason
    investigation.version += 1
    record(f"investigation.{status}", "institution", investigation.institution_id,
           {"investigation_id": investigation.id, "reason": reason})


def dismiss(investigation: Investigation, reason: str | None, user: User) -> None:
    _require_officer(investigation, user)
    if investigation.status != OPEN:
        raise DecisionRefused("Only an open investigation can be dismissed.")
    reason = _reason(reason)
    _decide(investigation, DISMISSED, reason, user)
    _unfreeze(investigation, f"Investigation {investigation.id} dismissed", user)
    _tell(investigation, "The report about your API access was dismissed",
          "After review, the report was found unfounded. Your API access and keys work again.")


def offer_reinstatement(investigation: Investigation, reason: str | None, user: User) -> None:
    _require_officer(investigation, user)
    if investigation.status != OPEN:
        raise DecisionRefused("Only an open investigation can be decided.")
    refusal = reinstatement_refusal(investigation)
    if refusal:
        raise DecisionRefused(refusal)
    if current_rules(RISK_CONTROL) is None:
        raise DecisionRefused("No risk-control rules are published: publish them before offering reinstatement.")
    reason = _reason(reason)
    _decide(investigation, AWAITING_AGREEMENT, reason, user)
    _tell(investigation, "Your API access can be restored",
          "This is treated as a first violation. Sign in, read the current risk-control rules and agree to "
          "them: your API access and keys are restored as soon as you do.")


def restrict(investigation: Investigation, reason: str | None, user: User) -> None:
    _require_officer(investigation, user)
    if investigation.status not in UNRESOLVED:
        raise DecisionRefused("This investigation is already decided.")
    reason = _reason(reason)
    _decide(investigation, RESTRICTED, reason, user)
    institution = db.session.get(Institution, investigation.institution_id)
    revoke_institution_keys(institution.id, reason=f"Investigation {investigation.id}: permanent restriction",
                            actor_id=user.id)
    if institution.status != INSTITUTION_RESTRICTED:
        change_status(institution, INSTITUTION_RESTRICTED, reason=reason,
                      details={"investigation_id": investigation.id})


def reinstate(investigation: Investigation, *, user: User, rules_version_id: int, shown_sha256: str,
              signer_name: str, signer_title: str, ip: str, user_agent: str) -> None:
    """The institution agrees to the current risk-control rules; keys and institution unfreeze at once."""
    if investigation.status != AWAITING_AGREEMENT:
        raise DecisionRefused("Nothing is waiting for your agreement.")
    if user.institution_id != investigation.institution_id:
        raise DecisionRefused("Only the institution's own users can agree.")
    rules = current_rules(RISK_CONTROL)
    if rules is None or rules.id != rules_version_id:
        raise DecisionRefused("The risk-control rules changed while you were reading them: read the current "
                              "version and agree again.", field="agree")
    agreement = record_agreement(rules=rules, shown_sha256=shown_sha256, institution_id=user.institution_id,
                                 user_id=user.id, application_id=None, signer_name=signer_name,
                                 signer_title=signer_title, ip=ip, user_agent=user_agent)
    investigation.status, investigation.reinstated_at = REINSTATED, utcnow()
    investigation.version += 1
    record("investigation.reinstated", "institution", investigation.institution_id,
           {"investigation_id": investigation.id, "agreement_id": agreement.id, "rules_version": rules.version})
    _unfreeze(investigation, f"Investigation {investigation.id}: risk-control rules agreed", user)


def _unfreeze(investigation: Investigation, reason: str, user: User) -> None:
    institution = db.session.get(Institution, investigation.institution_id)
    if db.session.scalar(select(Investigation.id).where(Investigation.institution_id == institution.id,
                                                        Investigation.status.in_(UNRESOLVED))):
        return  # another case still holds the institution frozen
    unfreeze_institution_keys(institution.id, reason=reason, actor_id=user.id)
    if institution.status == FROZEN:
        change_status(institution, ACTIVE, reason=reason, details={"investigation_id": investigation.id})


def _tell(investigation: Investigation, subject: str, headline: str) -> None:
    institution = db.session.get(Institution, investigation.institution_id)
    for person in institution.users:
        if person.is_active and person.email_verified_at is not None:
            queue_email(person.email, "institution_status", subject, name=person.full_name, headline=headline,
                        next_steps="Your institution's page shows the case and what happens next.")


def report_summary(violation: Violation) -> str:
    """What the institution may see of a report: the category and when; never notes or evidence."""
    return f"{CATEGORIES[violation.category]}, observed {violation.observed_at:%d %b %Y %H:%M} UTC"
