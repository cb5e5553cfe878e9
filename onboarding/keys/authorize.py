"""The authorize decision the exchange's gateway asks for on every signed trading request.

Checks run in an order that never tells an unsigned caller anything about a key beyond whether it
exists: format and checksum, key exists, signature, timestamp window, replay, key status and expiry,
institution status, current rules agreement, IP allow-list, scope. The answer carries ONE stable reason.

Key material (the opened HMAC secret, the Ed25519 public key) is cached per process; the status of the
key and of its institution is read from the database on every call, so a revocation or a freeze made
through any process refuses the very next request on every process."""

from __future__ import annotations

import fnmatch
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, select

from ..agreements.models import API_USAGE
from ..agreements.queries import agreed_to_current
from ..db import db, utcnow
from ..institutions.access import RATE_TIERS
from ..institutions.models import ACTIVE as INSTITUTION_ACTIVE
from ..institutions.models import FROZEN as INSTITUTION_FROZEN
from ..institutions.models import AccessGrant, Institution
from ..ipaddresses import address_allowed
from .credentials import ed25519_valid, open_secret
from .models import ACTIVE, ED25519, FROZEN, REVOKED, ApiKey
from .signing import ed25519_signature, hmac_valid, on_time, read_request, replay_digest
from .tokens import API_KEY_PREFIX, token_hash, well_formed
from .usage import count_decision, register_use

log = logging.getLogger(__name__)

REASONS = (
    "ok", "malformed_key", "unknown_key", "bad_signature", "stale_timestamp", "replayed", "key_revoked",
    "key_expired", "key_frozen", "institution_frozen", "institution_restricted", "rules_not_agreed",
    "ip_not_allowed", "scope_not_granted",
)
# Which scope a trading request needs, by method and path (first match wins; `*` matches within the path).
# Requests no rule names are refused (scope_not_granted): the gateway fails closed.
DEFAULT_SCOPE_RULES = (
    ("GET", "/api/v3/order", "account:read"),
    ("GET", "/api/v3/openOrders", "account:read"),
    ("GET", "/api/v3/allOrders", "account:read"),
    ("GET", "/api/v3/account", "account:read"),
    ("GET", "/api/v3/myTrades", "account:read"),
    ("POST", "/api/v3/order", "spot:trade"),
    ("POST", "/api/v3/order/test", "spot:trade"),
    ("DELETE", "/api/v3/order", "spot:trade"),
    ("DELETE", "/api/v3/openOrders", "spot:trade"),
    ("POST", "/api/v3/batchOrders", "spot:trade"),
    ("*", "/api/v3/margin/*", "margin:trade"),
    ("*", "/api/v1/private/*", "futures:trade"),
    ("GET", "/api/v3/*", "market:read"),
)


@dataclass(frozen=True)
class AuthorizeCall:
    method: str
    path: str
    query: str
    body: str
    api_key: str | None
    client_ip: str
    scope: str | None = None


@dataclass
class Decision:
    allowed: bool
    reason: str
    decision_id: str = field(default_factory=lambda: "dec_" + secrets.token_urlsafe(12))
    institution: dict[str, Any] | None = None
    key: dict[str, Any] | None = None
    rate_tier: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "reason": self.reason, "decision_id": self.decision_id,
                "institution": self.institution, "key": self.key, "rate_tier": self.rate_tier}


def required_scope(method: str, path: str) -> str | None:
    for rule_method, pattern, scope in current_app.config.get("AUTHORIZE_SCOPE_RULES") or DEFAULT_SCOPE_RULES:
        if rule_method in ("*", method.upper()) and fnmatch.fnmatchcase(path, pattern):
            return scope
    return None


# Everything the decision needs about a key, in ONE statement read fresh on every call: the key, its
# institution's status, the current grant and whether the current API usage rules are agreed.
_DECISION_ROW = (
    select(ApiKey.id, ApiKey.public_id, ApiKey.kind, ApiKey.scopes, ApiKey.ip_allowlist, ApiKey.secret_sealed,
           ApiKey.public_key, ApiKey.status, ApiKey.expires_at, ApiKey.institution_id,
           Institution.status.label("institution_status"), Institution.legal_name,
           AccessGrant.id.label("grant_id"), AccessGrant.rate_tier, AccessGrant.ip_allowlist.label("grant_ips"),
           AccessGrant.scopes.label("grant_scopes"),
           agreed_to_current(ApiKey.institution_id, API_USAGE).label("rules_agreed"))
    .join(Institution, Institution.id == ApiKey.institution_id)
    .outerjoin(AccessGrant, and_(AccessGrant.institution_id == ApiKey.institution_id,
                                 AccessGrant.superseded_at.is_(None)))
    .where(ApiKey.key_hash == bindparam("key_hash"))
    .limit(1)
)


def _key_row(api_key: str):
    # Core on the session's connection: the same transaction, without the ORM's per-statement bookkeeping.
    return db.session.connection().execute(_DECISION_ROW, {"key_hash": token_hash(api_key)}).first()


def _signature_valid(row, request) -> bool:
    if row.kind == ED25519:
        signature = ed25519_signature(request)
        return signature is not None and ed25519_valid(row.public_key, signature, request.total_params)
    return hmac_valid(open_secret(row.secret_sealed, row.public_id), request)


def decide(call: AuthorizeCall) -> Decision:
    api_key = (call.api_key or "").strip()
    if not well_formed(api_key, API_KEY_PREFIX):
        return Decision(False, "malformed_key")
    row = _key_row(api_key)
    if row is None:
        return Decision(False, "unknown_key")
    request = read_request(call.query, call.body)
    if not _signature_valid(row, request):
        decision = Decision(False, "bad_signature")
        count_decision(row.id, decision.reason, call.client_ip)
    else:
        decision = _checked(row, request, call)
    log.info("authorize %s %s key=%s ip=%s -> %s", decision.decision_id, call.path, row.public_id, call.client_ip,
             decision.reason)
    return decision


def _checked(row, request, call: AuthorizeCall) -> Decision:
    """After a valid signature: the answer may say who the caller is."""
    institution = {"id": row.institution_id, "name": row.legal_name}
    key = {"id": row.public_id, "scopes": list(row.scopes or [])}

    def refuse(reason: str) -> Decision:
        return Decision(False, reason, institution=institution, key=key)

    now_ms = int(time.time() * 1000)
    if not on_time(request, now_ms):
        count_decision(row.id, "stale_timestamp", call.client_ip)
        return refuse("stale_timestamp")
    # The checks after the replay guard read only the row: decide them first, then register the use (and
    # its count) in one step; a replay overrides whatever they found, as if it had been checked first.
    decision = _standing(row, call, refuse)
    if not register_use(replay_digest(row.public_id, request), request.recv_window + 1000, row.id, decision.reason,
                        call.client_ip):
        return refuse("replayed")
    return decision


def _standing(row, call: AuthorizeCall, refuse) -> Decision:
    """Key status and expiry, institution status, rules agreement, IP allow-list, scope: in this order."""
    institution = {"id": row.institution_id, "name": row.legal_name}
    key = {"id": row.public_id, "scopes": list(row.scopes or [])}
    if row.status == REVOKED:
        return refuse("key_revoked")
    if row.status not in (ACTIVE, FROZEN) or (row.expires_at is not None and row.expires_at <= utcnow()):
        return refuse("key_expired")
    if row.status == FROZEN:
        return refuse("key_frozen")
    if row.institution_status != INSTITUTION_ACTIVE:
        return refuse("institution_frozen" if row.institution_status == INSTITUTION_FROZEN
                      else "institution_restricted")
    if not row.rules_agreed:
        return refuse("rules_not_agreed")
    if row.grant_id is None:
        return refuse("scope_not_granted")
    # A key with an allow-list is used only from addresses in it AND in the institution's current grant
    # (a narrowed grant applies at once); a read-only key without one is usable from anywhere.
    if row.ip_allowlist and not (address_allowed(call.client_ip, row.ip_allowlist)
                                 and address_allowed(call.client_ip, row.grant_ips or [])):
        return refuse("ip_not_allowed")
    scope = call.scope or required_scope(call.method, call.path)
    # Both the key's scopes and the institution's current grant: a narrowed grant applies at once.
    if scope is None or scope not in (row.scopes or []) or scope not in (row.grant_scopes or []):
        return refuse("scope_not_granted")
    tier = RATE_TIERS.get(row.rate_tier)
    rate = {"code": tier.code, "requests_per_second": tier.requests_per_second,
            "orders_per_second": tier.orders_per_second} if tier else None
    return Decision(True, "ok", institution=institution, key=key, rate_tier=rate)
