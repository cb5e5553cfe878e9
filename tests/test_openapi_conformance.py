"""schemathesis against /api/v1/openapi.json: every operation, every default check (no server error,
status codes, content types and bodies as documented, invalid input refused, valid input accepted),
with a real service token, over HTTP to the app on a local socket. The examples per operation are bounded so the suite
stays fast."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from onboarding.api.models import SERVICE_SCOPES
from onboarding.api.openapi import openapi_document
from onboarding.api.tokens import create_service_token
from onboarding.db import db

from .factories import granted_institution
from .gateway import AppServer
from .test_keys import hmac_key

# The document the app serves (test_api checks they are the same).
schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture
def served(app):
    """The app on a real local socket: schemathesis speaks plain HTTP to it."""
    server = AppServer(app)
    yield server.url
    server.stop()


@pytest.fixture
def bearer(app):
    """A token with every scope, and an institution with a key, so look-ups can find something."""
    hmac_key(granted_institution())
    _, token = create_service_token("schemathesis", list(SERVICE_SCOPES), created_by="pytest")
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms_to_the_document(case, served, bearer):
    case.call_and_validate(base_url=served, headers=bearer)
