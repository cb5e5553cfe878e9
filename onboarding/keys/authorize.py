"""The authorize decision the exchange's gateway asks for on every signed trading request.

Checks run in an order that never tells an unsigned caller anything about a key beyond whether it
exists: format and checksum, key exists, signature, timestamp window, replay, key status and expiry,
institution status, current rules agreement, IP allow-list, scope. The answer carries ONE stable reason.

Key material (the opened HMAC secret, the Ed25519 public key) is cached per process. The key's row with its
institution's status, grant and rules agreement is read in one statement, and kept as a copy that is only
used while Redis's shared generation is the one it was read under (keys.freshness): the replay guard's round
trip checks it, so a revocation or a freeze committed through any process refuses the very next request on
every process, while a steady stream of requests costs no database statement."""

from __future__ import annotations

import fnmatch
import itertools
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, select

from ..agreements.models import API_USAGE, Agreement, RuleVersion
from ..agreements.queries import agreed_to_current
from ..db import db, utcnow
from ..institutions.access import RATE_TIERS
from ..institutions.models import ACTIVE as INSTITUTION_ACTIVE
from ..institutions.models import FROZEN as INSTITUTION_FROZEN
from ..institutions.models import AccessGrant, Institution
from ..ipaddresses import address_allowed
from .credentials import ed25519_valid, open_secret
from .freshness import copied, current_generation, forget_copy, keep_copy, watch
from .models import ACTIVE, ED25519, FROZEN, REVOKED, ApiKey
from .signing import ed25519_signature, hmac_valid, on_time, read_request, replay_digest
from .tokens import API_KEY_PREFIX, token_hash, well_formed
from .usage import REPLAYED, STALE, begin_use, count_decision

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


# A decision id is unique, not secret (it names a decision in logs): a random prefix per process, drawn again
# in a forked child, and a counter. Cheaper than drawing random bytes from the kernel on every request.
_id_prefix = ["dec_" + secrets.token_hex(6)]
_id_serial = itertools.count(1)


def _new_process_ids() -> None:
    global _id_serial
    _id_prefix[0], _id_serial = "dec_" + secrets.token_hex(6), itertools.count(1)


os.register_at_fork(after_in_child=_new_process_ids)


def new_decision_id() -> str:
    return f"{_id_prefix[0]}{next(_id_serial):x}"


@dataclass
class Decision:
    allowed: bool
    reason: str
    decision_id: str = field(default_factory=new_decision_id)
    institution: dict[str, Any] | None = None
    key: dict[str, Any] | None = None
    rate_tier: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "reason": self.reason, "decision_id": self.decision_id,
                "institution": self.institution, "key": self.key, "rate_tier": self.rate_tier}


def required_scope(method: str, path: str) -> str | None:
    rules = current_app.config.get("AUTHORIZE_SCOPE_RULES") or DEFAULT_SCOPE_RULES
    if not isinstance(rules, tuple):  # a list given to create_app: made hashable for the cache below
        rules = tuple(tuple(rule) for rule in rules)
    return _scope_by_rules(rules, method.upper(), path)


# A market maker's software calls a handful of paths: each is matched against the rules once per process.
@lru_cache(maxsize=4096)
def _scope_by_rules(rules: tuple[tuple[str, str, str], ...], method: str, path: str) -> str | None:
    for rule_method, pattern, scope in rules:
        if rule_method in ("*", method) and fnmatch.fnmatchcase(path, pattern):
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
# What that row is made of: a committed change to any of these replaces the shared generation, which makes
# every process's copies stale (keys.freshness). Last-used times do not change a decision.
for _model, _ignoring in ((ApiKey, ("last_used_at",)), (Institution, ()), (AccessGrant, ()), (RuleVersion, ()),
                          (Agreement, ())):
    watch(_model, ignoring=_ignoring)


def _key_row(key_hash: str):
    # Core on the session's connection: the same transaction, without the ORM's per-statement bookkeeping.
    return db.session.connection().execute(_DECISION_ROW, {"key_hash": key_hash}).first()


def _signature_valid(row, request) -> bool:
    if row.kind == ED25519:
        signature = ed25519_signature(request)
        return signature is not None and ed25519_valid(row.public_key, signature, request.total_params)
    return hmac_valid(open_secret(row.secret_sealed, row.public_id), request)


class CopiesOutdated(Exception):
    """The caller's copies (read under the generation it passed to `decide`) are no longer current: it
    reads them afresh and asks again without a generation."""


def decide(call: AuthorizeCall, *, generation: str | None = None) -> Decision:
    """The decision for one signed request. `generation` is the one the caller's own copies (the gateway's
    service token) were read under: the key's copy is used only when it matches, the answer is given only
    when the generation is still current (one check in Redis vouches for both), else CopiesOutdated."""
    api_key = (call.api_key or "").strip()
    if not well_formed(api_key, API_KEY_PREFIX):
        return _confirmed(generation, Decision(False, "malformed_key"))
    key_hash = token_hash(api_key)
    copy = copied(COPY_KIND, key_hash)
    if copy is not None and (generation is None or copy[0] == generation):
        decision, checked = _decided(call, copy[1], copy[0])
        if decision is not None:
            return decision if checked else _confirmed(generation, decision)
        forget_copy(COPY_KIND, key_hash)  # the generation moved on
        if generation is not None:
            raise CopiesOutdated
    read_under = generation or current_generation()
    row = _key_row(key_hash)
    if row is None:
        return _confirmed(generation, Decision(False, "unknown_key"))
    keep_copy(COPY_KIND, key_hash, read_under, row)
    # Read from the database in this very call: as fresh as a read can be; only the caller's copies, if
    # any, need the generation check.
    decision, checked = _decided(call, row, generation)
    if decision is None:
        raise CopiesOutdated
    return decision if checked else _confirmed(generation, decision)


COPY_KIND = "authorize-key"


def _confirmed(generation: str | None, decision: Decision) -> Decision:
    """A refusal made without the replay guard's round trip, when the caller's copies still need checking."""
    if generation is not None and current_generation() != generation:
        raise CopiesOutdated
    return decision


def _decided(call: AuthorizeCall, row, copied_under: str | None) -> tuple[Decision | None, bool]:
    """(decision, whether Redis checked `copied_under`); (None, True) when it was no longer current and
    nothing was recorded."""
    request = read_request(call.query, call.body)
    checked = copied_under is None
    if not _signature_valid(row, request):
        # Key material never changes for a key, so a copy judges a signature as well as the database.
        decision = Decision(False, "bad_signature")
        count_decision(row.id, decision.reason, call.client_ip)
    else:
        decision, registered = _checked(row, request, call, copied_under)
        checked = checked or registered
        if decision is None:
            return None, True
    # Refusals one by one; allowed decisions are counted, and named in the gateway's access log (a line per
    # allowed request here cost about a tenth of the endpoint's throughput).
    if (not decision.allowed or current_app.config["AUTHORIZE_LOG_ALLOWED"]) and log.isEnabledFor(logging.INFO):
        log.info("authorize %s %s key=%s ip=%s -> %s", decision.decision_id, call.path, row.public_id,
                 call.client_ip, decision.reason)
    return decision, checked


def _checked(row, request, call: AuthorizeCall, copied_under: str | None) -> tuple[Decision | None, bool]:
    """After a valid signature: the answer may say who the caller is. The flag says whether the replay guard
    ran (and with it the generation check)."""
    institution = {"id": row.institution_id, "name": row.legal_name}
    key = {"id": row.public_id, "scopes": list(row.scopes or [])}

    def refuse(reason: str) -> Decision:
        return Decision(False, reason, institution=institution, key=key)

    now_ms = int(time.time() * 1000)
    if not on_time(request, now_ms):
        count_decision(row.id, "stale_timestamp", call.client_ip)
        return refuse("stale_timestamp"), False
    # The replay guard's round trip starts here; the checks after it read only the row, so they are decided
    # while Redis works. A replay overrides whatever they found, as if it had been checked first.
    use = begin_use(replay_digest(row.public_id, request), request.recv_window + 1000, copied_under=copied_under)
    decision = _standing(row, call, refuse)
    outcome = use.outcome()
    if outcome == STALE:
        return None, True
    if outcome == REPLAYED:
        decision = refuse("replayed")
    count_decision(row.id, decision.reason, call.client_ip)
    return decision, True


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
