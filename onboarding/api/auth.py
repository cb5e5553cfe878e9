"""Machine callers authenticate with a service token: `Authorization: Bearer mxs_...`. A missing,
malformed, unknown or revoked token is 401; a token without the endpoint's scope is 403."""

from __future__ import annotations

import functools
from datetime import timedelta

from flask import g, request
from sqlalchemy import select, update

from ..db import db, utcnow
from ..keys.tokens import SERVICE_TOKEN_PREFIX, token_hash, well_formed
from .errors import json_error
from .models import ServiceToken

# last_used_at is refreshed at most this often: no database write on every call.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def service_token_required(scope: str):
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            presented = _bearer()
            if presented is None:
                return json_error(401, "token_missing", "Send a service token: Authorization: Bearer <token>.")
            if not well_formed(presented, SERVICE_TOKEN_PREFIX):
                return json_error(401, "token_malformed", "This is not a service token (prefix or checksum).")
            token = db.session.scalar(select(ServiceToken).where(ServiceToken.token_hash == token_hash(presented)))
            if token is None or token.revoked_at is not None:
                return json_error(401, "token_invalid", "This service token is unknown or revoked.")
            if scope not in (token.scopes or []):
                return json_error(403, "token_scope", f"This service token lacks the “{scope}” scope.")
            now = utcnow()
            if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
                db.session.execute(update(ServiceToken).where(ServiceToken.id == token.id).values(last_used_at=now))
                db.session.commit()
            g.service_token = token.public_id
            return view(*args, **kwargs)

        return wrapper

    return decorator
