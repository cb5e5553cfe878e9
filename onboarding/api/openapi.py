"""The OpenAPI 3.1 description of every JSON endpoint, errors included. Tests hold it true: every
/api/v1 route is described, and schemathesis checks the answers against it."""

from __future__ import annotations

from typing import Any

from ..enforcement.models import CATEGORIES, IMPACTS
from ..institutions.access import SCOPES
from ..keys.authorize import REASONS

ERROR = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["code", "message", "fields"], "additionalProperties": False,
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}},
}


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Error"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


AUTH_ERRORS = {
    "401": _error("No service token, or an unknown, malformed or revoked one."),
    "403": _error("The service token lacks the endpoint's scope."),
}

AUTHORIZE_CALL = {
    "type": "object", "required": ["method", "path", "client_ip"],
    "properties": {
        "method": {"type": "string", "maxLength": 10, "pattern": "^[A-Za-z]+$", "examples": ["POST"]},
        "path": {"type": "string", "maxLength": 2048, "pattern": "^/", "examples": ["/api/v3/order"]},
        "query": {"type": "string", "maxLength": 16384,
                  "description": "The raw query string as sent, without the leading “?”."},
        "body": {"type": "string", "maxLength": 1000000, "description": "The raw request body."},
        "headers": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "The headers that carry the API key (by default X-MEXC-APIKEY)."},
        "client_ip": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
                      "description": "The client address as the gateway saw it.", "examples": ["203.0.113.10"]},
        "scope": {"type": ["string", "null"], "enum": [*SCOPES, None],
                  "description": "The scope the request needs; derived from method and path when absent or null."},
    },
}

DECISION = {
    "type": "object", "required": ["allowed", "reason", "decision_id", "institution", "key", "rate_tier"],
    "properties": {
        "allowed": {"type": "boolean"},
        "reason": {"type": "string", "enum": list(REASONS)},
        "decision_id": {"type": "string"},
        "institution": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["id", "name"],
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}]},
        "key": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["id", "scopes"],
            "properties": {"id": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string"}}}}]},
        "rate_tier": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["code", "requests_per_second", "orders_per_second"],
            "properties": {"code": {"type": "string"}, "requests_per_second": {"type": "integer"},
                           "orders_per_second": {"type": "integer"}}}]},
    },
}

NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
INSTITUTION = {
    "type": "object", "required": ["id", "name", "status", "grant", "keys", "open_cases"],
    "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "status": {"type": "string", "enum": ["prospect", "active", "frozen", "restricted"]},
        "grant": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["scopes", "rate_tier", "max_keys", "ip_allowlist"],
            "properties": {"scopes": {"type": "array", "items": {"type": "string"}}, "rate_tier": {"type": "string"},
                           "max_keys": {"type": "integer"},
                           "ip_allowlist": {"type": "array", "items": {"type": "string"}}}}]},
        "keys": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "kind", "label", "status", "scopes", "ip_allowlist", "created_at", "expires_at",
                         "last_used_at"],
            "properties": {"id": {"type": "string"}, "kind": {"type": "string", "enum": ["hmac", "ed25519"]},
                           "label": {"type": "string"},
                           "status": {"type": "string", "enum": ["active", "frozen", "revoked", "expired"]},
                           "scopes": {"type": "array", "items": {"type": "string"}},
                           "ip_allowlist": {"type": "array", "items": {"type": "string"}},
                           "created_at": {"type": "string", "format": "date-time"},
                           "expires_at": NULLABLE_TIME, "last_used_at": NULLABLE_TIME}}},
        "open_cases": {"type": "array", "items": {
            "type": "object", "required": ["type", "reference", "state"],
            "properties": {"type": {"type": "string"}, "reference": {"type": ["string", "null"]},
                           "state": {"type": "string"}}}},
    },
}


VIOLATION_REPORT = {
    "type": "object", "required": ["category", "observed_at", "market_impact", "reference"],
    "properties": {
        "institution_id": {"type": "integer", "minimum": 1, "maximum": 2147483647},
        "key_id": {"type": "string", "minLength": 12, "maxLength": 60,
                   "description": "The key's id as shown (mxk_ and eight characters) or the whole key."},
        "category": {"type": "string", "enum": list(CATEGORIES)},
        "observed_at": {"type": "string", "format": "date-time", "pattern": "^(19|20)[0-9]{2}-",
                        "description": "When surveillance observed it, with its offset (years 1900–2099)."},
        "market_impact": {"type": "string", "enum": list(IMPACTS)},
        "malicious": {"type": "boolean", "default": False},
        "evidence_text": {"type": "string", "maxLength": 20000},
        "evidence": {"type": "object"},
        # At least one character that is not white space, as Python counts it: ECMA-262's \\s (which JSON
        # Schema uses) leaves out U+001C-U+001F and U+0085, so the class names them.
        "reference": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "[^\\s\\u001c-\\u001f\\u0085]",
                      "description": "Your own reference: the same one twice returns the first result."},
    },
    "anyOf": [{"required": ["institution_id"]}, {"required": ["key_id"]}],
}
VIOLATION_RECORDED = {
    "type": "object",
    "required": ["violation_id", "investigation_id", "institution_id", "institution_status", "frozen_keys",
                 "duplicate"],
    "properties": {"violation_id": {"type": "integer"}, "investigation_id": {"type": "integer"},
                   "institution_id": {"type": "integer"},
                   "institution_status": {"type": "string", "enum": ["prospect", "active", "frozen", "restricted"]},
                   "frozen_keys": {"type": "integer"}, "duplicate": {"type": "boolean"}},
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Institutional API access: machine API", "version": "1.0.0",
                 "description": "Called by the exchange's gateway and market surveillance with service tokens."},
        "servers": [{"url": "/"}],
        "security": [{"serviceToken": []}],
        "paths": {
            "/api/v1/authorize": {"post": {
                "operationId": "authorize",
                "summary": "May this signed trading request pass?",
                "description": "Scope `authorize`. Always 200 with a decision when the call is well formed; "
                               "the decision's `reason` is one stable code.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/AuthorizeCall"}}}},
                "responses": {
                    "200": {"description": "The decision.", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Decision"}}}},
                    "400": _error("The body is not a JSON object."),
                    "415": _error("The body is not JSON."),
                    "422": _error("A field of the call is missing or malformed (named in `fields`)."),
                    "503": _error("The replay guard is unreachable: nothing is allowed."),
                    **AUTH_ERRORS,
                },
            }},
            "/api/v1/violations": {"post": {
                "operationId": "reportViolation",
                "summary": "Report a violation: the institution and its keys are frozen at once.",
                "description": "Scope `violations:write`. Idempotent on `reference`.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ViolationReport"}}}},
                "responses": {
                    "201": {"description": "Recorded; an investigation is open.", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ViolationRecorded"}}}},
                    "200": {"description": "This reference was reported before: its first result.",
                            "content": {"application/json": {
                                "schema": {"$ref": "#/components/schemas/ViolationRecorded"}}}},
                    "400": _error("The body is not a JSON object."),
                    "404": _error("No such institution or key."),
                    "409": _error("The institution is already permanently restricted."),
                    "415": _error("The body is not JSON."),
                    "422": _error("A field is missing or malformed (named in `fields`)."),
                    **AUTH_ERRORS,
                },
            }},
            "/api/v1/institutions/{institution_id}": {"get": {
                "operationId": "getInstitution",
                "summary": "An institution's status, grant, keys (never secrets) and open cases.",
                "description": "Scope `institutions:read`.",
                "parameters": [{"name": "institution_id", "in": "path", "required": True,
                                "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647}}],
                "responses": {
                    "200": {"description": "The institution.", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Institution"}}}},
                    "404": _error("No such institution."),
                    **AUTH_ERRORS,
                },
            }},
            "/api/v1/openapi.json": {"get": {
                "operationId": "openapi", "summary": "This document.", "security": [],
                "responses": {"200": {"description": "The OpenAPI document.",
                                      "content": {"application/json": {"schema": {"type": "object"}}}}},
            }},
        },
        "components": {
            "securitySchemes": {"serviceToken": {"type": "http", "scheme": "bearer",
                                                 "description": "A service token (mxs_…) created by an admin."}},
            "schemas": {"Error": ERROR, "AuthorizeCall": AUTHORIZE_CALL, "Decision": DECISION,
                        "Institution": INSTITUTION, "ViolationReport": VIOLATION_REPORT,
                        "ViolationRecorded": VIOLATION_RECORDED},
        },
    }
