"""Creating, listing and revoking service tokens. A token is shown once and stored hashed."""

from __future__ import annotations

from sqlalchemy import select

from ..audit.operations import record
from ..db import db, utcnow
from ..errors import OperationRefused
from ..keys.tokens import SERVICE_TOKEN_PREFIX, new_token, public_id, token_hash
from .models import SERVICE_SCOPES, ServiceToken


class TokenRefused(OperationRefused):
    code = "token_refused"


def create_service_token(name: str | None, scopes, *, created_by: str) -> tuple[ServiceToken, str]:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise TokenRefused("Name the token (at most 100 characters), e.g. the system that will use it.",
                           field="name")
    chosen = [s for s in SERVICE_SCOPES if s in set(scopes or [])]
    if not chosen or len(chosen) != len(set(scopes or [])):
        raise TokenRefused(f"Choose scopes from: {', '.join(SERVICE_SCOPES)}.", field="scopes")
    plaintext = new_token(SERVICE_TOKEN_PREFIX)
    token = ServiceToken(name=name, public_id=public_id(plaintext), token_hash=token_hash(plaintext), scopes=chosen,
                         created_by=created_by)
    db.session.add(token)
    db.session.flush()
    record("service_token.created", "service_token", token.id,
           {"name": name, "token": token.public_id, "scopes": chosen, "by": created_by})
    return token, plaintext


def revoke_service_token(token: ServiceToken, *, by: str) -> None:
    if token.revoked_at is not None:
        raise TokenRefused(f"Token {token.public_id} is already revoked.")
    token.revoked_at = utcnow()
    record("service_token.revoked", "service_token", token.id, {"token": token.public_id, "by": by})


def service_tokens() -> list[ServiceToken]:
    return list(db.session.scalars(select(ServiceToken).order_by(ServiceToken.revoked_at.is_not(None),
                                                                 ServiceToken.id.desc())))


def token_by_public_id(value: str) -> ServiceToken | None:
    return db.session.scalar(select(ServiceToken).where(ServiceToken.public_id == value))
