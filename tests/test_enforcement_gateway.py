"""The freeze is effective on the very next call through the real nginx gateway: market surveillance
reports over the real violations API, the next signed order is refused at the gateway with key_frozen and
never reaches the trading upstream; once compliance dismisses the report (confirmed by a second officer)
the same key trades again."""

from __future__ import annotations

import json
import urllib.request

from onboarding.db import db
from onboarding.enforcement import decisions
from onboarding.enforcement.models import Investigation

from .test_api import service_token
from .test_enforcement import claimed, confirmed, officer
from .test_gateway_authorize import order, stack  # noqa: F401 (the fixture)
from .test_keys import hmac_key


def test_a_report_over_the_api_freezes_the_next_gateway_call(stack):  # noqa: F811
    issued = hmac_key(stack.user)
    client = stack.client(issued)
    assert order(client)[0] == 200
    token = service_token("violations:write")
    db.session.commit()
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{stack.app_server.url}/api/v1/violations", method="POST", headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        data=json.dumps({"key_id": issued.key.public_id, "category": "unauthorized_bot_trading",
                         "observed_at": "2026-12-01T09:30:00Z", "market_impact": "minor", "malicious": False,
                         "evidence": {"orders": 1200}, "reference": "GW-1"}).encode())
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
        assert response.status == 201
        investigation_id = json.loads(response.read())["investigation_id"]

    status, _, reply = order(client)
    assert (status, reply["code"]) == (403, "key_frozen"), reply
    assert len(stack.upstream_requests) == 1, "the refused order never reached the trading system"

    db.session.rollback()
    cora = officer()
    investigation = claimed(db.session.get(Investigation, investigation_id), cora)
    decisions.dismiss(investigation, "Surveillance mixed up two accounts.", cora)
    db.session.commit()
    assert order(client)[0] == 403, "a proposed dismissal changes nothing yet"
    confirmed(db.session.get(Investigation, investigation_id))
    assert order(client)[0] == 200
    assert len(stack.upstream_requests) == 2
