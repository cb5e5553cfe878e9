"""Compliance's decisions on an investigation, each with a required reason, and the institution's
reinstatement. The only writer of `Investigation.status`. Keys and the institution's status change
through their own parts.

- dismiss: the report was unfounded; keys and institution unfreeze.
- reinstatable: a first, non-malicious violation without significant impact; the institution must agree
  to the current risk-control rules, then everything unfreezes.
- restrict: every key revoked, the institution restricted for good; optionally extended to institutions
  linked to it by confirmed signals, each restricted through institutions/status.py.

Four eyes: the default outcome is restriction when there is an earlier confirmed violation (by the
institution or one linked to it), else the outcome the policy allows (reinstatement for a first, minor,
non-malicious case; restriction otherwise). A decision against the default, or a restriction extended to
linked institutions, is recorded as a proposal and takes effect only when a different compliance officer
confirms it."""

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
from ..templating import plural
from .models import (
    AWAITING_AGREEMENT,
    CONFIRMED,
    DISMISSED,
    OPEN,
    OUTCOMES,
    PENDING,
    REINSTATED,
    RESTRICTED,
    SENT_BACK,
    UNRESOLVED,
    DecisionProposal,
    Investigation,
)
from .notices import reinstatement_notice, restriction_notice
from .queries import earlier_confirmed_violations, linked_institution_ids, pending_proposal, violations_of

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


def reopen_for_new_report(investigation: Investigation, *, violation_id: int, due_at) -> None:
    """A report joining a case that waits for the institution's agreement sends it back to compliance: the
    institution's own agreement to the risk-control rules must never clear a report no officer decided on
    (it may be malicious or significant, which rules the first-offence outcome out)."""
    if investigation.status != AWAITING_AGREEMENT:
        return
    investigation.status, investigation.due_at = OPEN, due_at
    investigation.version += 1
    record("investigation.reopened", "institution", investigation.institution_id,
           {"investigation_id": investigation.id, "violation_id": violation_id, "from": AWAITING_AGREEMENT,
            "to": OPEN})


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
        return (f"{plural(len(earlier), 'earlier confirmed violation')} by this institution or one linked to it: the "
                "default outcome is permanent restriction.")
    return None


DISMISS, REINSTATABLE, RESTRICT = "dismiss", "reinstatable", "restrict"
# What each outcome does once decided; the proposal is shown with the same words.
PROPOSED = "proposed"


def default_outcome(investigation: Investigation) -> str:
    """Restriction after an earlier confirmed violation (or where the first-offence outcome is ruled
    out), else reinstatement: deciding anything else needs a second officer."""
    return REINSTATABLE if reinstatement_refusal(investigation) is None else RESTRICT


def restrictable_linked(investigation: Investigation) -> list[Institution]:
    """Institutions linked to this one by a confirmed signal that a restriction may be extended to (those
    holding access; a prospect has nothing to restrict, a restricted one is already final)."""
    ids = linked_institution_ids(investigation.institution_id)
    if not ids:
        return []
    return list(db.session.scalars(select(Institution).where(Institution.id.in_(ids),
                                                             Institution.status.in_((ACTIVE, FROZEN)))
                                   .order_by(Institution.legal_name, Institution.id)))


def why_four_eyes(investigation: Investigation, outcome: str, extend_to: list[int]) -> str | None:
    """Why this decision needs a second compliance officer, or None when the deciding officer's word is
    enough."""
    reasons = []
    default = default_outcome(investigation)
    if outcome != default:
        reasons.append(f"it departs from the default outcome ({OUTCOMES[default].split(' (')[0].lower()})")
    if extend_to:
        reasons.append(f"it extends the restriction to {len(extend_to)} linked institution"
                       f"{'' if len(extend_to) == 1 else 's'}")
    return " and ".join(reasons) or None


def _no_pending(investigation: Investigation) -> None:
    if pending_proposal(investigation.id) is not None:
        raise DecisionRefused("A decision on this case is waiting for a second compliance officer's confirmation: "
                              "it must be confirmed or sent back first.")


def _extension(investigation: Investigation, extend_to) -> list[int]:
    """The linked institutions named on the form, each checked to be restrictable now."""
    wanted = sorted({int(i) for i in extend_to or ()})
    allowed = {i.id for i in restrictable_linked(investigation)}
    for ident in wanted:
        if ident not in allowed:
            raise DecisionRefused("The restriction can be extended only to institutions linked by a confirmed "
                                  "signal that still hold access: reload the case and choose again.",
                                  field="extend_to")
    return wanted


def _settle(investigation: Investigation, outcome: str, reason: str, user: User, extend_to: list[int]) -> str:
    """Carry out the decision, or record it as proposed when it needs a second officer. Returns the
    outcome, or PROPOSED."""
    why = why_four_eyes(investigation, outcome, extend_to)
    if why is None:
        APPLY[outcome](investigation, reason, user, extend_to)
        return outcome
    proposal = DecisionProposal(investigation_id=investigation.id, outcome=outcome, reason=reason,
                                extend_to=extend_to, why_four_eyes=why, proposed_by_id=user.id, status=PENDING)
    db.session.add(proposal)
    investigation.version += 1
    db.session.flush()
    record("investigation.proposed", "institution", investigation.institution_id,
           {"investigation_id": investigation.id, "proposal_id": proposal.id, "outcome": outcome,
            "reason": reason, "extend_to": extend_to, "why_four_eyes": why})
    return PROPOSED


def confirm_proposal(investigation: Investigation, user: User) -> str:
    """A second compliance officer confirms the pending proposal; it takes effect now."""
    _require_officer(investigation, user, assigned=False)
    proposal = pending_proposal(investigation.id)
    if proposal is None:
        raise DecisionRefused("No decision on this case is waiting for confirmation.")
    if proposal.proposed_by_id == user.id:
        raise DecisionRefused("You proposed this decision: a different compliance officer must confirm it.")
    # The case may have moved on since the proposal (the policy is checked again as it is now).
    if proposal.outcome == REINSTATABLE and (refusal := reinstatement_refusal(investigation)):
        raise DecisionRefused(refusal)
    extend_to = _extension(investigation, proposal.extend_to) if proposal.outcome == RESTRICT else []
    proposal.status, proposal.answered_by_id, proposal.answered_at = CONFIRMED, user.id, utcnow()
    record("investigation.confirmed", "institution", investigation.institution_id,
           {"investigation_id": investigation.id, "proposal_id": proposal.id, "outcome": proposal.outcome,
            "proposed_by_id": proposal.proposed_by_id})
    proposer = db.session.get(User, proposal.proposed_by_id)
    APPLY[proposal.outcome](investigation, proposal.reason, proposer, extend_to)
    return proposal.outcome


def send_back(investigation: Investigation, reason: str | None, user: User) -> None:
    """A second compliance officer refuses the proposal; the case is open for a new decision."""
    _require_officer(investigation, user, assigned=False)
    proposal = pending_proposal(investigation.id)
    if proposal is None:
        raise DecisionRefused("No decision on this case is waiting for confirmation.")
    if proposal.proposed_by_id == user.id:
        raise DecisionRefused("You proposed this decision: a different compliance officer must answer it.")
    reason = _reason(reason)
    proposal.status, proposal.answered_by_id, proposal.answered_at = SENT_BACK, user.id, utcnow()
    proposal.answer_reason = reason
    investigation.version += 1
    record("investigation.sent_back", "institution", investigation.institution_id,
           {"investigation_id": investigation.id, "proposal_id": proposal.id, "outcome": proposal.outcome,
            "reason": reason})


def _decide(investigation: Investigation, status: str, reason: str, user: User) -> None:
    investigation.status = status
    investigation.decided_at, investigation.decided_by_id, investigation.decision_reason = utcnow(), user.id, reason
    investigation.version += 1
    record(f"investigation.{status}", "institution", investigation.institution_id,
           {"investigation_id": investigation.id, "reason": reason})


def dismiss(investigation: Investigation, reason: str | None, user: User) -> str:
    _require_officer(investigation, user)
    if investigation.status != OPEN:
        raise DecisionRefused("Only an open investigation can be dismissed.")
    _no_pending(investigation)
    return _settle(investigation, DISMISS, _reason(reason), user, [])


def offer_reinstatement(investigation: Investigation, reason: str | None, user: User) -> str:
    _require_officer(investigation, user)
    if investigation.status != OPEN:
        raise DecisionRefused("Only an open investigation can be decided.")
    _no_pending(investigation)
    refusal = reinstatement_refusal(investigation)
    if refusal:
        raise DecisionRefused(refusal)
    if current_rules(RISK_CONTROL) is None:
        raise DecisionRefused("No risk-control rules are published: publish them before offering reinstatement.")
    return _settle(investigation, REINSTATABLE, _reason(reason), user, [])


def restrict(investigation: Investigation, reason: str | None, user: User, extend_to=()) -> str:
    _require_officer(investigation, user)
    if investigation.status not in UNRESOLVED:
        raise DecisionRefused("This investigation is already decided.")
    _no_pending(investigation)
    reason = _reason(reason)
    return _settle(investigation, RESTRICT, reason, user, _extension(investigation, extend_to))


def _apply_dismiss(investigation: Investigation, reason: str, user: User, _extend_to: list[int]) -> None:
    _decide(investigation, DISMISSED, reason, user)
    _unfreeze(investigation, f"Investigation {investigation.id} dismissed", user)
    _tell(investigation, "The report about your API access was dismissed",
          "After review, the report was found unfounded. Your API access and keys work again.")


def _apply_reinstatable(investigation: Investigation, reason: str, user: User, _extend_to: list[int]) -> None:
    _decide(investigation, AWAITING_AGREEMENT, reason, user)
    _tell(investigation, "Your API access can be restored",
          "This is treated as a first violation. Sign in, read the current risk-control rules and agree to "
          "them: your API access and keys are restored as soon as you do.")


def _apply_restrict(investigation: Investigation, reason: str, user: User, extend_to: list[int]) -> None:
    _decide(investigation, RESTRICTED, reason, user)
    institution = db.session.get(Institution, investigation.institution_id)
    # The keys' reason is seen by the institution on its keys page: never the officer's internal reason.
    _restrict_institution(institution, reason=reason, user=user, details={"investigation_id": investigation.id},
                          key_reason=f"Investigation {investigation.id}: permanent restriction")
    restriction_notice(institution.id, investigation)
    for ident in extend_to:
        other = db.session.scalar(select(Institution).where(Institution.id == ident).with_for_update())
        _restrict_institution(
            other, reason=f"Restriction of {institution.legal_name} (investigation {investigation.id}) extended to "
                          f"a linked institution: {reason}", user=user,
            details={"investigation_id": investigation.id, "extended_from_institution_id": institution.id},
            key_reason="Permanent restriction extended from a linked institution")
        restriction_notice(other.id, investigation, extended_from=institution.legal_name)
    if extend_to:
        record("investigation.restriction_extended", "institution", institution.id,
               {"investigation_id": investigation.id, "institution_ids": extend_to})


def _restrict_institution(institution: Institution, *, reason: str, user: User, details: dict,
                          key_reason: str) -> None:
    revoke_institution_keys(institution.id, reason=key_reason, actor_id=user.id)
    if institution.status != INSTITUTION_RESTRICTED:
        change_status(institution, INSTITUTION_RESTRICTED, reason=reason, details=details)


APPLY = {DISMISS: _apply_dismiss, REINSTATABLE: _apply_reinstatable, RESTRICT: _apply_restrict}


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
    reinstatement_notice(investigation, agreement, rules)


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
