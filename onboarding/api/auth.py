"""Machine callers authenticate with a service token: `Authorization: Bearer mxs_...`. A missing,
malformed, unknown or revoked token is 401; a token without the endpoint's scope is 403.

The gateway presents its token on every authorize call, so that endpoint may use a process-local copy of
the token (keys.freshness): the copy's generation goes with the decision's own check in Redis, and a
revocation committed anywhere refuses the next call everywhere."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import g, request
from sqlalchemy import select, update

from ..db import db, utcnow
from ..keys.freshness import LEAVES_DECISIONS_UNCHANGED, copied, current_generation, keep_copy, watch
from ..keys.tokens import SERVICE_TOKEN_PREFIX, token_hash, well_formed
from .errors import json_error
from .models import ServiceToken

# last_used_at is refreshed at most this often: no database write on every call.
LAST_USED_GRANULARITY = timedelta(minutes=1)
COPY_KIND = "service-token"
watch(ServiceToken, ignoring=("last_used_at",))


@dataclass
class PresentedToken:
    id: int
    public_id: str
    scopes: tuple[str, ...]
    revoked: bool
    last_used_at: datetime | None


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _token(presented: str, *, from_copy: bool) -> tuple[PresentedToken | None, str | None]:
    """The token and the generation it was read under (None when read without copies)."""
    digest = token_hash(presented)
    generation = None
    if from_copy:
        copy = copied(COPY_KIND, digest)
        if copy is not None:
            return copy[1], copy[0]
        generation = current_generation()
    row = db.session.scalar(select(ServiceToken).where(ServiceToken.token_hash == digest))
    if row is None:
        return None, generation
    token = PresentedToken(row.id, row.public_id, tuple(row.scopes or ()), row.revoked_at is not None,
                           row.last_used_at)
    if from_copy:
        keep_copy(COPY_KIND, digest, generation, token)
    return token, generation


def check_service_token(scope: str, *, from_copy: bool = False):
    """None when the request carries a live token with `scope` (g.service_token, g.token_generation are
    set), else the JSON error to answer."""
    presented = _bearer()
    if presented is None:
        return json_error(401, "token_missing", "Send a service token: Authorization: Bearer <token>.")
    if not well_formed(presented, SERVICE_TOKEN_PREFIX):
        return json_error(401, "token_malformed", "This is not a service token (prefix or checksum).")
    token, generation = _token(presented, from_copy=from_copy)
    if token is None or token.revoked:
        return json_error(401, "token_invalid", "This service token is unknown or revoked.")
    if scope not in token.scopes:
        return json_error(403, "token_scope", f"This service token lacks the “{scope}” scope.")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
        db.session.execute(update(ServiceToken).where(ServiceToken.id == token.id).values(last_used_at=now),
                           execution_options={LEAVES_DECISIONS_UNCHANGED: True})
        db.session.commit()
        token.last_used_at = now
    g.service_token = token.public_id
    g.token_generation = generation
    return None


def service_token_required(scope: str, *, from_copy: bool = False):
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            refused = check_service_token(scope, from_copy=from_copy)
            if refused is not None:
                return refused
            return view(*args, **kwargs)

        return wrapper

    return decorator
