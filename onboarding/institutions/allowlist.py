"""Changing the IP addresses granted to an institution: it asks from the portal, staff decide. The only
writer of `AllowlistChange`; an approval goes through `grant_access` like every grant."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from ..audit.operations import record
from ..db import db, utcnow
from ..errors import OperationRefused
from ..ipaddresses import AllowlistError, parse_allowlist
from ..notifications.operations import queue_email
from .access import has_trade_scope
from .models import ACTIVE, APPROVED, DECLINED, PENDING, AllowlistChange, Institution
from .operations import grant_access
from .queries import current_grant


class AllowlistChangeRefused(OperationRefused):
    code = "allowlist_change_refused"


def pending_change(institution_id: int) -> AllowlistChange | None:
    return db.session.scalar(select(AllowlistChange).where(AllowlistChange.institution_id == institution_id,
                                                           AllowlistChange.status == PENDING))


def pending_changes() -> list[AllowlistChange]:
    return list(db.session.scalars(select(AllowlistChange).where(AllowlistChange.status == PENDING)
                                   .order_by(AllowlistChange.requested_at)))


def request_allowlist_change(institution: Institution, *, addresses, reason: str | None,
                             user_id: int) -> AllowlistChange:
    if institution.status != ACTIVE:
        raise AllowlistChangeRefused("The granted addresses can be changed while the institution's access is active.")
    grant = current_grant(institution.id)
    if grant is None:
        raise AllowlistChangeRefused("The institution has no grant of access yet.")
    if pending_change(institution.id) is not None:
        raise AllowlistChangeRefused("A request to change the addresses is already waiting for our decision.")
    try:
        wanted = parse_allowlist(addresses or [], allow_private=current_app.config["APP_ENV"] == "development")
    except AllowlistError as error:
        raise AllowlistChangeRefused(str(error), field="addresses") from error
    if not wanted and has_trade_scope(grant.scopes):
        raise AllowlistChangeRefused("Trading access needs at least one address.", field="addresses")
    if wanted == list(grant.ip_allowlist or []):
        raise AllowlistChangeRefused("These are the addresses already granted.", field="addresses")
    reason = (reason or "").strip()
    if not reason or len(reason) > 2000:
        raise AllowlistChangeRefused("Say why the addresses change (at most 2000 characters).", field="reason")
    change = AllowlistChange(institution_id=institution.id, addresses=wanted, reason=reason, requested_by_id=user_id)
    db.session.add(change)
    db.session.flush()
    record("institution.allowlist_change_requested", "institution", institution.id,
           {"change_id": change.id, "from": list(grant.ip_allowlist or []), "to": wanted, "reason": reason})
    return change


def decide_allowlist_change(change: AllowlistChange, *, approve: bool, note: str | None,
                            user_id: int) -> None:
    if change.status != PENDING:
        raise AllowlistChangeRefused(f"This request was already {change.status}.")
    note = (note or "").strip()
    if not note or len(note) > 2000:
        raise AllowlistChangeRefused("Give the reason for the decision (the institution is told).", field="note")
    institution = db.session.get(Institution, change.institution_id)
    grant = current_grant(institution.id)
    if approve:
        if grant is None or institution.status != ACTIVE:
            raise AllowlistChangeRefused("The institution's access is not active: the request can only be declined.")
        grant_access(institution, scopes=grant.scopes, rate_tier=grant.rate_tier, max_keys=grant.max_keys,
                     ip_allowlist=change.addresses, granted_by_id=user_id,
                     reason=f"IP addresses changed at the institution's request: {note}")
    change.status = APPROVED if approve else DECLINED
    change.decided_by_id, change.decided_at, change.decision_note = user_id, utcnow(), note
    record(f"institution.allowlist_change_{change.status}", "institution", institution.id,
           {"change_id": change.id, "to": change.addresses, "note": note})
    outcome = "approved: keys are now checked against the new addresses" if approve else "declined"
    for user in institution.users:
        if user.is_active and user.email_verified_at is not None:
            queue_email(user.email, "allowlist_change", f"Your request to change the granted IP addresses was "
                        f"{change.status}", name=user.full_name, outcome=outcome, addresses=change.addresses,
                        note=note)
