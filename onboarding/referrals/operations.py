"""Settling a referral when the referred institution is approved, and compliance's decision on a held
one. Runs as an effect of the application's `approve` transition (registered by the app factory), in
the approval's transaction."""

from __future__ import annotations

from sqlalchemy import or_, select

from ..accounts.models import User
from ..applications.models import Application
from ..applications.states import Actor, register_effect
from ..audit.operations import record
from ..db import db, utcnow
from ..errors import OperationRefused
from ..institutions.models import Institution
from ..notifications.operations import queue_email
from ..screening.models import DISMISSED, LINK_SIGNALS, LinkSignal
from .models import CREDITED, HELD, VOIDED, Referral

COMPLIANCE = "compliance"
VERDICTS = {"void": VOIDED, "credit": CREDITED}


class ReferralRefused(OperationRefused):
    code = "referral_refused"


def signals_between(first_id: int, second_id: int) -> list[LinkSignal]:
    """Link signals (not dismissed by a reviewer) between two institutions, in either direction: one's
    application found to share owners, registration, documents, domain, IPs or allow-lists with the other."""
    pairs = or_((Application.institution_id == first_id) & (LinkSignal.other_institution_id == second_id),
                (Application.institution_id == second_id) & (LinkSignal.other_institution_id == first_id))
    return list(db.session.scalars(select(LinkSignal).join(Application, Application.id == LinkSignal.application_id)
                                   .where(pairs, LinkSignal.status != DISMISSED).order_by(LinkSignal.id)))


def settle_referral(application: Application, action: str = "approve", actor: Actor | None = None) -> Referral | None:
    """Credit the referral of an approved application, or hold it when the two institutions are linked."""
    referrer_id = application.referred_by_institution_id
    if referrer_id is None or referrer_id == application.institution_id:
        return None
    existing = db.session.scalar(select(Referral).where(Referral.application_id == application.id))
    if existing is not None:
        return existing
    signals = signals_between(referrer_id, application.institution_id)
    referral = Referral(application_id=application.id, referrer_institution_id=referrer_id,
                        referred_institution_id=application.institution_id, status=HELD if signals else CREDITED,
                        signals=[{"signal": s.signal, "label": LINK_SIGNALS.get(s.signal, s.signal),
                                  "evidence_key": s.evidence_key, "status": s.status} for s in signals])
    db.session.add(referral)
    db.session.flush()
    details = {"referral_id": referral.id, "application": application.reference, "status": referral.status,
               "referrer_institution_id": referrer_id, "referred_institution_id": application.institution_id}
    record(f"referral.{referral.status}", "institution", referrer_id, details)
    return referral


def decide_referral(referral: Referral, verdict: str | None, reason: str | None, user: User) -> None:
    """Compliance on a held referral: `void` (a self-referral: no credit, both institutions told) or
    `credit` (the signals do not make it one)."""
    if not user.has_role(COMPLIANCE):
        raise ReferralRefused("Only compliance officers decide on held referrals.")
    if referral.status != HELD:
        raise ReferralRefused("This referral is already decided: reload the page to see the outcome.")
    if verdict not in VERDICTS:
        raise ReferralRefused("Choose whether to void the referral or credit it.", field="verdict")
    reason = (reason or "").strip()
    if not reason:
        raise ReferralRefused("Give the reason for the decision.", field="reason")
    if len(reason) > 4000:
        raise ReferralRefused("Keep the reason under 4000 characters.", field="reason")
    referral.status = VERDICTS[verdict]
    referral.decided_at, referral.decided_by_id, referral.decision_reason = utcnow(), user.id, reason
    record(f"referral.{referral.status}", "institution", referral.referrer_institution_id,
           {"referral_id": referral.id, "reason": reason, "referred_institution_id": referral.referred_institution_id})
    if referral.status == VOIDED:
        _tell_voided(referral)


def _tell_voided(referral: Referral) -> None:
    referrer = db.session.get(Institution, referral.referrer_institution_id)
    referred = db.session.get(Institution, referral.referred_institution_id)
    for institution in (referrer, referred):
        for person in institution.users:
            if person.is_active and person.email_verified_at is not None:
                queue_email(person.email, "institution_status", "A referral was voided under the self-referral rule",
                            name=person.full_name,
                            headline=f"The referral between {referrer.legal_name} and {referred.legal_name} was "
                                     "voided: the two institutions are linked, and a referral between linked "
                                     "institutions earns no credit.",
                            next_steps="No referral reward is credited. If you believe this is wrong, contact us.")


def register_referral_rules() -> None:
    register_effect("approve", settle_referral)
