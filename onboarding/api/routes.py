"""/api/v1: JSON in, JSON out, service tokens, no CSRF (no cookies are read here)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from redis.exceptions import RedisError
from sqlalchemy import select

from ..applications.models import CLOSED_STATES, DRAFT, Application
from ..db import db
from ..enforcement.intake import Report, report_violation
from ..enforcement.queries import unresolved_investigation
from ..errors import OperationRefused
from ..institutions.access import SCOPES
from ..institutions.models import Institution
from ..institutions.queries import current_grant
from ..ipaddresses import client_address
from ..jobs import shared_redis
from ..keys.authorize import AuthorizeCall, CopiesOutdated, decide
from ..keys.models import ApiKey
from ..keys.usage import flush_usage, local_flush_due
from .auth import check_service_token, service_token_required
from .errors import json_error
from .instruments import AUTHORIZE_SECONDS, count_answer
from .openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_BODY_CHARS = 1_000_000
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
OBSERVED_YEARS = (1900, 2099)


def _json_body() -> tuple[dict[str, Any] | None, Any]:
    if not request.is_json:
        return None, json_error(415, "unsupported_media_type",
                                "Send the call as JSON (Content-Type: application/json).")
    try:
        payload = json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past what the parser follows
        payload = None
    if not isinstance(payload, dict):
        return None, json_error(400, "malformed_json", "The body is not a JSON object.")
    return payload, None


def _authorize_call(payload: dict[str, Any]) -> tuple[AuthorizeCall | None, dict[str, str]]:
    problems: dict[str, str] = {}

    def text(name: str, *, required: bool, limit: int) -> str:
        value = payload.get(name, None if required else "")
        if value is None or not isinstance(value, str):
            problems[name] = f"“{name}” must be a string."
            return ""
        if len(value) > limit:
            problems[name] = f"“{name}” is longer than {limit} characters."
        return value

    method = text("method", required=True, limit=10)
    if "method" not in problems and not (method.isascii() and method.isalpha()):
        problems["method"] = "“method” is an HTTP method such as GET or POST."
    path = text("path", required=True, limit=2048)
    if "path" not in problems and not path.startswith("/"):
        problems["path"] = "“path” starts with “/” (the query string goes in “query”)."
    query = text("query", required=False, limit=16384)
    body = text("body", required=False, limit=MAX_BODY_CHARS)
    client_ip = text("client_ip", required=True, limit=64)
    if "client_ip" not in problems and client_address(client_ip) is None:
        problems["client_ip"] = "“client_ip” is not an IPv4 or IPv6 address."
    headers = payload.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        problems["headers"] = "“headers” is an object of header names to string values."
        headers = {}
    scope = payload.get("scope")
    if scope is not None and (not isinstance(scope, str) or scope not in SCOPES):
        problems["scope"] = f"“scope” is one of {', '.join(SCOPES)}."
    if problems:
        return None, problems
    wanted = current_app.config["API_KEY_HEADER"].lower()
    api_key = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return AuthorizeCall(method=method.upper(), path=path, query=query.removeprefix("?"), body=body, api_key=api_key,
                         client_ip=client_ip, scope=scope), {}


@bp.post("/authorize")
@AUTHORIZE_SECONDS.time()
@service_token_required("authorize", from_copy=True)
def authorize():
    payload, error = _json_body()
    if error is not None:
        return error
    call, problems = _authorize_call(payload)
    if call is None:
        return json_error(422, "invalid_call", "The authorize call is missing or has malformed fields.", problems)
    try:
        try:
            decision = decide(call, generation=g.token_generation)
        except CopiesOutdated:  # something changed since the token was copied: everything afresh
            refused = check_service_token("authorize")
            if refused is not None:
                return refused
            decision = decide(call)
    except RedisError:
        current_app.logger.exception("authorize: Redis unavailable")
        return json_error(503, "replay_guard_unavailable", "The replay guard (Redis) is unreachable: refused.")
    if shared_redis() is None:
        # Without Redis the replay guard is a row in this transaction, and the counts live in this process.
        db.session.commit()
        if local_flush_due():
            flush_usage()
            db.session.commit()
    elif db.session.registry.has():
        db.session.rollback()  # only reads were made: end the transaction without a commit
    count_answer(decision.reason)
    # Compact JSON without the provider's key sorting: this answer is built for every signed request.
    return current_app.response_class(_COMPACT_JSON.encode(decision.as_json()), mimetype="application/json")


def _violation_report(payload: dict[str, Any]) -> tuple[Report | None, dict[str, str]]:
    problems: dict[str, str] = {}
    institution_id = payload.get("institution_id")
    if isinstance(institution_id, float) and institution_id.is_integer():  # JSON has one kind of number
        institution_id = int(institution_id)
    key_id = payload.get("key_id")
    if "institution_id" in payload and (isinstance(institution_id, bool) or not isinstance(institution_id, int)
                                        or not 0 < institution_id < 2**31):
        problems["institution_id"] = "“institution_id” is a positive whole number."
    if "key_id" in payload and (not isinstance(key_id, str) or not 12 <= len(key_id) <= 60):
        problems["key_id"] = "“key_id” is an API key's id (mxk_ and at least eight characters)."
    if "institution_id" not in payload and "key_id" not in payload:
        problems["institution_id"] = "Name the institution (“institution_id”) or the key (“key_id”)."
    for name in ("category", "market_impact", "reference", "observed_at"):
        if not isinstance(payload.get(name), str) or not payload.get(name).strip():
            problems[name] = f"“{name}” is a non-empty string."
    observed_at = None
    if "observed_at" not in problems:
        try:
            observed_at = datetime.fromisoformat(payload["observed_at"].replace("Z", "+00:00"))
            if not OBSERVED_YEARS[0] <= observed_at.year <= OBSERVED_YEARS[1]:
                raise ValueError("out of range")
            observed_at.astimezone(UTC)
        except (ValueError, OverflowError):
            problems["observed_at"] = "“observed_at” is an ISO 8601 time with its offset, e.g. 2026-12-04T10:15:00Z."
        else:
            if observed_at.tzinfo is None:
                problems["observed_at"] = "“observed_at” needs its offset (Z for UTC)."
    malicious = payload.get("malicious", False)
    if not isinstance(malicious, bool):
        problems["malicious"] = "“malicious” is true or false."
    evidence_text = payload.get("evidence_text")
    if "evidence_text" in payload and not isinstance(evidence_text, str):
        problems["evidence_text"] = "“evidence_text” is a string."
    evidence = payload.get("evidence", {})
    if not isinstance(evidence, dict):
        problems["evidence"] = "“evidence” is a JSON object."
    if problems:
        return None, problems
    return Report(institution_id=institution_id, key_public_id=key_id, category=payload["category"],
                  observed_at=observed_at.astimezone(UTC), market_impact=payload["market_impact"],
                  malicious=malicious, evidence_text=evidence_text, evidence=evidence,
                  reference=payload["reference"]), {}


@bp.post("/violations")
@service_token_required("violations:write")
def violations():
    payload, error = _json_body()
    if error is not None:
        return error
    report, problems = _violation_report(payload)
    if report is None:
        return json_error(422, "invalid_report", "The report is missing or has malformed fields.", problems)
    try:
        recorded = report_violation(report, reporter=f"token:{g.service_token}")
    except OperationRefused as refusal:
        db.session.rollback()
        fields = {refusal.field: refusal.message} if refusal.field else {}
        code = {409: "institution_restricted", 404: "not_found"}.get(refusal.http_status, "invalid_report")
        return json_error(refusal.http_status, code, refusal.message, fields)
    db.session.commit()
    institution = db.session.get(Institution, recorded.violation.institution_id)
    body = {"violation_id": recorded.violation.id, "investigation_id": recorded.investigation.id,
            "institution_id": institution.id, "institution_status": institution.status,
            "frozen_keys": recorded.frozen_keys, "duplicate": recorded.duplicate}
    return jsonify(body), 200 if recorded.duplicate else 201


@bp.get("/institutions/<int(max=2147483647):institution_id>")
@service_token_required("institutions:read")
def institution(institution_id: int):
    found = db.session.get(Institution, institution_id)
    if found is None:
        return json_error(404, "not_found", f"No institution {institution_id}.")
    grant = current_grant(found.id)
    keys = db.session.scalars(select(ApiKey).where(ApiKey.institution_id == found.id).order_by(ApiKey.id)).all()
    cases = db.session.scalars(select(Application).where(
        Application.institution_id == found.id, Application.state.not_in((*CLOSED_STATES, DRAFT)))
        .order_by(Application.id)).all()
    return jsonify({
        "id": found.id, "name": found.legal_name, "status": found.status,
        "grant": None if grant is None else {"scopes": grant.scopes, "rate_tier": grant.rate_tier,
                                             "max_keys": grant.max_keys, "ip_allowlist": grant.ip_allowlist},
        "keys": [{"id": k.public_id, "kind": k.kind, "label": k.label, "status": k.status, "scopes": k.scopes,
                  "ip_allowlist": k.ip_allowlist, "created_at": k.created_at.isoformat(),
                  "expires_at": k.expires_at.isoformat() if k.expires_at else None,
                  "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None} for k in keys],
        "open_cases": [{"type": "application", "reference": a.reference, "state": a.state} for a in cases] + (
            [{"type": "investigation", "reference": f"INV-{investigation.id}", "state": investigation.status}]
            if (investigation := unresolved_investigation(found.id)) else []),
    })


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
