"""What an institution does with its keys: create (HMAC or Ed25519), rotate and revoke; and staff
revocation. Each checks the institution's standing and grant, records a history row and an audit
event, and confirms by e-mail, all in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from ..agreements.models import API_USAGE
from ..agreements.operations import has_agreed_to_current
from ..audit.operations import record
from ..db import db, utcnow
from ..institutions.access import SCOPES, has_trade_scope, ordered_scopes
from ..institutions.models import ACTIVE as INSTITUTION_ACTIVE
from ..institutions.models import AccessGrant, Institution
from ..institutions.queries import current_grant
from ..institutions.status import STATUS_LABELS as INSTITUTION_STATUS_LABELS
from ..ipaddresses import AllowlistError, network_within, parse_allowlist
from ..notifications.operations import queue_email
from .credentials import new_hmac_secret, parse_ed25519_public_key, seal_secret
from .history import remember
from .models import ED25519, HMAC, KINDS, REVOKED, ApiKey
from .refusals import KeyRefused
from .status import LIVE, change_key_status
from .tokens import API_KEY_PREFIX, new_token, public_id, token_hash

READ_ONLY_MAX_DAYS = 90
MAX_EXPIRY_DAYS = 730
DEFAULT_OVERLAP_HOURS = 24
MAX_OVERLAP_HOURS = 7 * 24


@dataclass(frozen=True)
class IssuedKey:
    """A new key and what is shown once: the API key, and for HMAC keys the secret."""

    key: ApiKey
    api_key: str
    secret: str | None


def live_key_count(institution_id: int) -> int:
    """Keys that count against the limit: active or frozen, not counting a key already replaced by a
    successor (it lives only for its overlap)."""
    replaced = select(ApiKey.replaces_id).where(ApiKey.replaces_id.is_not(None), ApiKey.status.in_(LIVE))
    return db.session.scalar(select(func.count()).select_from(ApiKey).where(
        ApiKey.institution_id == institution_id, ApiKey.status.in_(LIVE), ApiKey.id.not_in(replaced))) or 0


def may_create_keys(institution: Institution) -> tuple[AccessGrant | None, str | None]:
    """The grant, and why keys cannot be created now (None when they can)."""
    if institution.status != INSTITUTION_ACTIVE:
        label = INSTITUTION_STATUS_LABELS.get(institution.status, institution.status).lower()
        return None, f"Keys can be created only while the institution's access is active (it is {label})."
    grant = current_grant(institution.id)
    if grant is None:
        return None, "The institution has no grant of access yet."
    if not has_agreed_to_current(institution.id, API_USAGE):
        return grant, "Agree to the current API usage rules before creating a key."
    return grant, None


def _allowlist(entries, grant: AccessGrant) -> list[str]:
    try:
        allowlist = parse_allowlist(entries or [], allow_private=current_app.config["APP_ENV"] == "development")
    except AllowlistError as error:
        raise KeyRefused(str(error), field="ip_allowlist") from error
    outside = [entry for entry in allowlist if not network_within(entry, grant.ip_allowlist or [])]
    if outside:
        granted = ", ".join(grant.ip_allowlist) or "none"
        raise KeyRefused(f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} outside the addresses "
                         f"granted to the institution ({granted}). Ask us to change the granted list first.",
                         field="ip_allowlist")
    return allowlist


def _expiry(expires_on, *, read_only_without_list: bool) -> datetime | None:
    now = utcnow()
    limit_days = READ_ONLY_MAX_DAYS if read_only_without_list else MAX_EXPIRY_DAYS
    if expires_on is None:
        return now + timedelta(days=READ_ONLY_MAX_DAYS) if read_only_without_list else None
    expires_at = datetime.combine(expires_on, datetime.min.time(), tzinfo=now.tzinfo) + timedelta(days=1)
    if expires_at <= now:
        raise KeyRefused("The expiry date must be in the future.", field="expires_on")
    if expires_at > now + timedelta(days=limit_days + 1):
        why = " for a key without an IP allow-list" if read_only_without_list else ""
        raise KeyRefused(f"The expiry can be at most {limit_days} days ahead{why}.", field="expires_on")
    return expires_at


def create_key(institution: Institution, *, kind: str, label: str | None, scopes, ip_allowlist, expires_on=None,
               public_key: str | None = None, user_id: int, replaces: ApiKey | None = None) -> IssuedKey:
    # Lock the institution and read its status afresh: a violation report arriving now (which locks it
    # too) either waits and then freezes this key with the others, or is seen here and the key refused.
    db.session.refresh(institution, with_for_update=True)
    grant, problem = may_create_keys(institution)
    if problem:
        raise KeyRefused(problem)
    if kind not in KINDS:
        raise KeyRefused("Choose HMAC or Ed25519.", field="kind")
    label = (label or "").strip()
    if not label:
        raise KeyRefused("Give the key a label, for example the system that will use it.", field="label")
    if len(label) > 100:
        raise KeyRefused("Keep the label under 100 characters.", field="label")
    chosen = ordered_scopes(scopes)
    if not chosen or len(chosen) != len(set(scopes or [])):
        raise KeyRefused("Choose at least one scope.", field="scopes")
    beyond = [s for s in chosen if s not in grant.scopes]
    if beyond:
        raise KeyRefused(f"Not granted to the institution: {', '.join(SCOPES[s] for s in beyond)}.", field="scopes")
    allowlist = _allowlist(ip_allowlist, grant)
    if has_trade_scope(chosen) and not allowlist:
        raise KeyRefused("Trading scopes need an IP allow-list: list the addresses your systems trade from.",
                         field="ip_allowlist")
    # A successor keeps the expiry of the key it replaces to the microsecond: going through a date again
    # would push it to the end of that day, a little further at every rotation, until the 90-day limit of a
    # read-only key refused the rotation itself.
    expires_at = replaces.expires_at if replaces is not None else _expiry(expires_on,
                                                                          read_only_without_list=not allowlist)
    registered = parse_ed25519_public_key(public_key) if kind == ED25519 else None
    if replaces is None and live_key_count(institution.id) >= grant.max_keys:
        raise KeyRefused(f"The institution already has its {grant.max_keys} keys. Revoke one first.")

    api_key = new_token(API_KEY_PREFIX)
    shown_id = public_id(api_key)
    secret = new_hmac_secret() if kind == HMAC else None
    key = ApiKey(institution_id=institution.id, public_id=shown_id, key_hash=token_hash(api_key), kind=kind,
                 label=label, scopes=chosen, ip_allowlist=allowlist, expires_at=expires_at, created_by_id=user_id,
                 secret_sealed=seal_secret(secret, shown_id) if secret else None, public_key=registered,
                 replaces_id=replaces.id if replaces else None)
    db.session.add(key)
    remember(key, "created", actor_id=user_id)
    record("key.created", "institution", institution.id, {
        "key": shown_id, "kind": kind, "label": label, "scopes": chosen, "ip_allowlist": allowlist,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "replaces": replaces.public_id if replaces else None})
    _confirm(institution, f"API key {shown_id} created",
             f"A new {kind.upper()} API key {shown_id} (“{label}”) was created for {institution.legal_name} with "
             f"the scopes {', '.join(chosen)}.")
    return IssuedKey(key, api_key, secret)


def rotate_key(key: ApiKey, *, user_id: int, overlap_hours: int | None = DEFAULT_OVERLAP_HOURS,
               public_key: str | None = None) -> IssuedKey:
    """A successor with the same label, scopes, allow-list and expiry; the old key stays valid for the
    overlap, then expires."""
    if key.status not in LIVE or (key.expires_at is not None and key.expires_at <= utcnow()):
        raise KeyRefused(f"Key {key.public_id} is no longer valid: create a new key instead.")
    if db.session.scalar(select(ApiKey.id).where(ApiKey.replaces_id == key.id, ApiKey.status.in_(LIVE))):
        raise KeyRefused(f"Key {key.public_id} was already rotated.")
    if overlap_hours is None or not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise KeyRefused(f"The overlap is between 0 and {MAX_OVERLAP_HOURS} hours (7 days).", field="overlap_hours")
    institution = db.session.get(Institution, key.institution_id)
    old_expiry = key.expires_at
    issued = create_key(institution, kind=key.kind, label=key.label, scopes=key.scopes, ip_allowlist=key.ip_allowlist,
                        public_key=public_key, user_id=user_id, replaces=key)
    overlap_end = utcnow() + timedelta(hours=overlap_hours)
    key.expires_at = min(overlap_end, old_expiry) if old_expiry else overlap_end
    remember(key, "rotated", actor_id=user_id, reason=f"replaced by {issued.key.public_id}")
    record("key.rotated", "institution", institution.id, {
        "key": key.public_id, "successor": issued.key.public_id, "old_key_valid_until": key.expires_at.isoformat()})
    return issued


def revoke_key(key: ApiKey, *, user_id: int, reason: str | None, by_staff: bool = False) -> None:
    reason = (reason or "").strip()
    if by_staff and not reason:
        raise KeyRefused("Give the reason for revoking this key (the institution is told).", field="reason")
    if len(reason) > 1000:
        raise KeyRefused("Keep the reason under 1000 characters.", field="reason")
    if key.status == REVOKED:
        raise KeyRefused(f"Key {key.public_id} is already revoked.")
    change_key_status(key, REVOKED, reason=reason or "revoked by the institution", actor_id=user_id)
    institution = db.session.get(Institution, key.institution_id)
    who = "by our team" if by_staff else "at your request"
    _confirm(institution, f"API key {key.public_id} revoked",
             f"API key {key.public_id} (“{key.label}”) of {institution.legal_name} was revoked {who}"
             + (f": {reason}" if by_staff else ".") + " Requests signed with it are refused from now on.")


def _confirm(institution: Institution, subject: str, headline: str) -> None:
    for user in institution.users:
        if user.is_active and user.email_verified_at is not None:
            queue_email(user.email, "key_changed", subject, name=user.full_name, headline=headline)
