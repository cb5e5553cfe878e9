"""The keys pages through the Flask test client: create (shown once), bad input at the field with nothing
saved, rotate, revoke, agree to newer rules, another institution's keys out of reach, and the staff view."""

from __future__ import annotations

import base64
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from onboarding.agreements.models import API_USAGE
from onboarding.agreements.operations import has_agreed_to_current, publish_rules
from onboarding.db import db
from onboarding.keys.models import ApiKey

from .conftest import csrf_token_from, submit_form
from .factories import PASSWORD, granted_institution
from .test_dashboard import sign_in_staff
from .test_keys import NEWER_RULES, hmac_key

KEYS = "/institution/keys"


def sign_in(client, email="desk@evergreen.example"):
    assert submit_form(client, "/login", {"email": email, "password": PASSWORD}).status_code == 302


def key_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ApiKey)) or 0


def create(client, **fields):
    data = {"kind": "hmac", "label": "quoting engine", "scopes": ["market:read", "spot:trade"],
            "ip_allowlist": "203.0.113.10\n203.0.113.64/26", **fields}
    return submit_form(client, KEYS, data)


def field_error(html: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', html, re.S)
    assert match, f"no error at {field}"
    return match.group(1)


def test_an_hmac_key_is_created_and_shown_once(app):
    granted_institution()
    client = app.test_client()
    sign_in(client)
    page = client.get(KEYS).get_data(as_text=True)
    assert "0 of 5 keys in use" in page and "Create the key" in page and "X-MEXC-APIKEY" in page
    assert 'value="margin:trade"' not in page, "only granted scopes are offered"
    response = create(client)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    api_key = re.search(r'id="api-key">(mxk_\w+)<', html).group(1)
    secret = re.search(r'id="api-secret">([0-9a-f]{64})<', html).group(1)
    assert "shown only once" in html
    listing = client.get(KEYS).get_data(as_text=True)
    assert api_key not in listing and secret not in listing and api_key[:12] in listing
    assert "1 of 5 keys in use" in listing


def test_an_ed25519_key_is_registered_from_pem(app):
    granted_institution()
    client = app.test_client()
    sign_in(client)
    pem = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    html = create(client, kind="ed25519", public_key=pem.decode()).get_data(as_text=True)
    assert 'id="api-key">mxk_' in html and 'id="api-secret"' not in html and "never see it" in html
    assert db.session.scalar(select(ApiKey)).public_key is not None


def test_bad_input_is_refused_at_the_field_and_nothing_is_saved(app):
    granted_institution()
    client = app.test_client()
    sign_in(client)
    cases = [
        ({"ip_allowlist": "0.0.0.0/0"}, "ip_allowlist", "whole internet"),
        ({"ip_allowlist": "198.51.100.1"}, "ip_allowlist", "outside the addresses granted"),
        ({"ip_allowlist": "nonsense"}, "ip_allowlist", "not an IPv4 or IPv6 address"),
        ({"ip_allowlist": ""}, "ip_allowlist", "Trading scopes need an IP allow-list"),
        ({"scopes": ["margin:trade"]}, "scopes", "is not a valid choice"),
        ({"label": ""}, "label", "Give the key a label"),
        ({"kind": "ed25519", "public_key": ""}, "public_key", "Paste the public key"),
        ({"kind": "ed25519", "public_key": "AAAA"}, "public_key", "not an Ed25519 public key"),
        ({"expires_on": "2001-01-01"}, "expires_on", "in the future"),
        ({"expires_on": "next week"}, "expires_on", "Not a valid date"),
    ]
    for fields, field, message in cases:
        response = create(client, **fields)
        assert response.status_code == 422, fields
        assert message in field_error(response.get_data(as_text=True), field), fields
    assert key_count() == 0


def test_the_limit_a_frozen_or_prospect_institution_and_newer_rules_stop_creation(app):
    granted_institution(max_keys=1)
    client = app.test_client()
    sign_in(client)
    create(client)
    page = client.get(KEYS).get_data(as_text=True)
    assert "The institution has its 1 keys" in page and 'action="/institution/keys"' not in page
    assert create(client).status_code == 422 and key_count() == 1

    publish_rules(API_USAGE, "2099-01", NEWER_RULES)
    db.session.commit()
    page = client.get(KEYS).get_data(as_text=True)
    assert "New API usage rules: agree before creating keys" in page and "2099 edition" in page
    refused = submit_form(client, "/institution/keys/agree", {"signer_name": "Morgan Maker", "signer_title": ""},
                          form_url=KEYS)
    assert refused.status_code == 422 and not has_agreed_to_current(1, API_USAGE)
    agreed = submit_form(client, "/institution/keys/agree",
                         {"signer_name": "Morgan Maker", "signer_title": "CEO", "agree": "y",
                          "rules_version_id": re.search(r'name="rules_version_id" type="hidden" value="(\d+)"',
                                                        client.get(KEYS).get_data(as_text=True)).group(1),
                          "rules_sha256": re.search(r'name="rules_sha256" type="hidden" value="(\w+)"',
                                                    client.get(KEYS).get_data(as_text=True)).group(1)},
                         form_url=KEYS)
    assert agreed.status_code == 302
    user_institution = db.session.scalar(select(ApiKey.institution_id))
    assert has_agreed_to_current(user_institution, API_USAGE)


def test_rotate_and_revoke_from_the_page(app):
    user = granted_institution()
    issued = hmac_key(user)
    client = app.test_client()
    sign_in(client)
    token = csrf_token_from(client.get(KEYS).get_data(as_text=True))
    rotated = client.post(f"{KEYS}/{issued.key.public_id}/rotate", data={"csrf_token": token, "overlap_hours": "2"})
    html = rotated.get_data(as_text=True)
    assert rotated.status_code == 200 and "Key rotated" in html and "stays valid until" in html
    too_long = client.post(f"{KEYS}/{issued.key.public_id}/rotate", data={"csrf_token": token, "overlap_hours": "999"})
    assert too_long.status_code == 302 and key_count() == 2
    revoked = client.post(f"{KEYS}/{issued.key.public_id}/revoke", data={"csrf_token": token}, follow_redirects=True)
    assert "revoked: requests signed with it are refused" in revoked.get_data(as_text=True)
    assert db.session.get(ApiKey, issued.key.id).status == "revoked"


def test_another_institutions_keys_are_out_of_reach(app):
    owner = granted_institution()
    issued = hmac_key(owner)
    granted_institution("ops@other.example", "Other Desk Ltd")
    client = app.test_client()
    sign_in(client, "ops@other.example")
    token = csrf_token_from(client.get(KEYS).get_data(as_text=True))
    assert issued.key.public_id not in client.get(KEYS).get_data(as_text=True)
    assert client.post(f"{KEYS}/{issued.key.public_id}/revoke", data={"csrf_token": token}).status_code == 404
    assert client.post(f"{KEYS}/{issued.key.public_id}/rotate", data={"csrf_token": token}).status_code == 404
    assert client.get(f"/staff/institutions/{owner.institution_id}/keys").status_code == 403
    assert db.session.get(ApiKey, issued.key.id).status == "active"


def test_staff_see_the_keys_and_compliance_revokes_with_a_reason(app):
    owner = granted_institution()
    issued = hmac_key(owner)
    reviewer, officer = app.test_client(), app.test_client()
    sign_in_staff(reviewer, ["document_reviewer"], email="dana@exchange.example")
    page = reviewer.get(f"/staff/institutions/{owner.institution_id}/keys").get_data(as_text=True)
    assert issued.key.public_id in page and "quoting engine" in page and "Revoke the key" not in page
    token = csrf_token_from(page)
    url = f"/staff/institutions/{owner.institution_id}/keys/{issued.key.public_id}/revoke"
    assert reviewer.post(url, data={"csrf_token": token, "reason": "x"}).status_code == 403
    sign_in_staff(officer, ["compliance"], email="cora@exchange.example", name="Cora Compliance")
    token = csrf_token_from(officer.get(f"/staff/institutions/{owner.institution_id}/keys").get_data(as_text=True))
    no_reason = officer.post(url, data={"csrf_token": token, "reason": " "}, follow_redirects=True)
    assert "Give the reason for revoking" in no_reason.get_data(as_text=True)
    assert db.session.get(ApiKey, issued.key.id).status == "active"
    done = officer.post(url, data={"csrf_token": token, "reason": "Key seen in a public repository."},
                        follow_redirects=True)
    assert "the institution is told by e-mail" in done.get_data(as_text=True)
    key = db.session.get(ApiKey, issued.key.id)
    assert key.status == "revoked" and key.status_reason == "Key seen in a public repository."


def test_the_raw_base64_public_key_is_accepted(app):
    granted_institution()
    client = app.test_client()
    sign_in(client)
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    response = create(client, kind="ed25519", public_key=base64.b64encode(raw).decode())
    assert response.status_code == 200 and key_count() == 1
