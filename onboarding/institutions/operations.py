"""Creating institutions and granting them access. `grant_access` is the only writer of grants."""

from __future__ import annotations

from sqlalchemy import select

from ..audit.operations import record
from ..db import db, utcnow
from ..errors import OperationRefused
from .access import MAX_KEYS_LIMIT, RATE_TIERS, SCOPES, has_trade_scope, ordered_scopes
from .models import AccessGrant, Institution


class GrantRefused(OperationRefused):
    code = "grant_refused"


def register_institution(legal_name: str, *, signup_ip: str | None) -> Institution:
    """A new prospect institution (at sign-up); it holds no access until an application is approved."""
    institution = Institution(legal_name=legal_name, signup_ip=signup_ip)
    db.session.add(institution)
    db.session.flush()
    record("institution.registered", "institution", institution.id, {"legal_name": institution.legal_name})
    return institution


def grant_access(institution: Institution, *, scopes, rate_tier: str, max_keys: int, ip_allowlist,
                 granted_by_id: int | None, application_id: int | None = None,
                 reason: str | None = None) -> AccessGrant:
    """Record what the institution may do with API keys, superseding its current grant (kept as history).
    Validated against the one vocabulary, whoever calls."""
    chosen = ordered_scopes(scopes)
    if not chosen or len(chosen) != len(set(scopes)):
        raise GrantRefused(f"Grant scopes from the list: {', '.join(SCOPES)}.", field="granted_scopes")
    allowlist = list(ip_allowlist or [])
    if has_trade_scope(chosen) and not allowlist:
        raise GrantRefused("Trading scopes are granted only with an IP allow-list.", field="granted_scopes")
    if rate_tier not in RATE_TIERS:
        raise GrantRefused("Choose a rate tier.", field="rate_tier")
    if not isinstance(max_keys, int) or not 1 <= max_keys <= MAX_KEYS_LIMIT:
        raise GrantRefused(f"The maximum number of keys must be between 1 and {MAX_KEYS_LIMIT}.", field="max_keys")
    now = utcnow()
    previous = db.session.scalar(select(AccessGrant).where(
        AccessGrant.institution_id == institution.id, AccessGrant.superseded_at.is_(None)).with_for_update())
    if previous is not None:
        previous.superseded_at = now
    grant = AccessGrant(institution_id=institution.id, application_id=application_id, scopes=chosen,
                        rate_tier=rate_tier, max_keys=max_keys, ip_allowlist=allowlist, granted_by_id=granted_by_id,
                        granted_at=now, reason=reason)
    db.session.add(grant)
    db.session.flush()
    record("institution.access_granted", "institution", institution.id, {
        "grant_id": grant.id, "application_id": application_id, "scopes": chosen, "rate_tier": rate_tier,
        "max_keys": max_keys, "ip_allowlist": allowlist, "replaces": previous.id if previous else None})
    return grant
