"""Rotating SECRET_KEY: with the old one in SECRET_KEY_FALLBACKS, nothing it signed breaks: a signed-in
session, a form opened before the rotation (its CSRF token), a reset link in someone's inbox, a referral
code handed out. Without the fallback each of them is refused (which is why the setting exists)."""

from __future__ import annotations

import base64

import pytest

from onboarding.config import ConfigError, build
from onboarding.institutions.referral_codes import institution_from_code, referral_code
from onboarding.security import TokenError, make_token, read_token

from .conftest import csrf_token_from, submit_form
from .factories import PASSWORD, granted_institution, make_applicant

OLD = "old-secret-" + "o" * 40
NEW = "new-secret-" + "n" * 40
EMAIL = "mm@northwind.example"


@pytest.fixture
def secrets(make_app):
    """secrets(SECRET_KEY, fallbacks..., REFERRAL_KEY=...): an app on the shared test database."""

    def build_app(key: str, *fallbacks: str, **extra):
        return make_app(SECRET_KEY=key, SECRET_KEY_FALLBACKS=list(fallbacks), **extra)

    return build_app


def carry_cookies(source, target) -> None:
    """The browser keeps its cookies while the servers restart with a new configuration."""
    for cookie in source._cookies.values():
        target.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)


def signed_in_client(app):
    client = app.test_client()
    assert submit_form(client, "/login", {"email": EMAIL, "password": PASSWORD}).status_code == 302
    assert client.get("/account").status_code == 200
    return client


@pytest.mark.parametrize("keep_old", [True, False])
def test_a_session_and_an_open_form_survive_a_rotation_only_with_the_fallback(secrets, keep_old):
    before = secrets(OLD)
    with before.app_context():
        make_applicant(EMAIL)
    # Requests outside the test's own app context, so each gets its own (and its own `g`), as in production.
    client = signed_in_client(before)
    form_token = csrf_token_from(client.get("/account").get_data(as_text=True))

    after = secrets(NEW, *([OLD] if keep_old else []))
    rotated = after.test_client()
    carry_cookies(client, rotated)
    page = rotated.get("/account")
    # The form opened before the rotation is posted after it.
    posted = rotated.post("/account/sessions/end-others", data={"csrf_token": form_token})
    if keep_old:
        assert page.status_code == 200, "still signed in"
        assert posted.status_code == 302, posted.get_data(as_text=True)[:500]
    else:
        assert page.status_code == 302 and "/login" in page.headers["Location"], "signed out"
        assert posted.status_code in (302, 400)


@pytest.mark.parametrize("keep_old", [True, False])
def test_a_reset_link_in_someones_inbox_survives_a_rotation_only_with_the_fallback(secrets, keep_old):
    with secrets(OLD).app_context():
        token = make_token("reset-password", {"uid": 1})
    with secrets(NEW, *([OLD] if keep_old else [])).app_context():
        if keep_old:
            assert read_token("reset-password", token, 3600) == {"uid": 1}
            assert make_token("reset-password", {"uid": 1}) != token  # new links are signed with the new key
        else:
            with pytest.raises(TokenError):
                read_token("reset-password", token, 3600)


def test_a_referral_code_handed_out_before_a_rotation_still_reads(secrets):
    with secrets(OLD).app_context():
        referrer = granted_institution()
        code = referral_code(referrer.institution_id)
        assert institution_from_code(code).id == referrer.institution_id

    with secrets(NEW, OLD).app_context():
        assert institution_from_code(code).id == referrer.institution_id, "old code, old key kept as a fallback"
        fresh = referral_code(referrer.institution_id)
        assert fresh != code and institution_from_code(fresh).id == referrer.institution_id

    with secrets(NEW).app_context():
        assert institution_from_code(code) is None, "the fallback is what kept the old code working"

    # A dedicated REFERRAL_KEY set to the old secret keeps the printed code itself, with no fallback at all.
    with secrets(NEW, REFERRAL_KEY=OLD).app_context():
        assert referral_code(referrer.institution_id) == code
        assert institution_from_code(code).id == referrer.institution_id


def test_production_refuses_a_short_fallback_or_referral_key(monkeypatch, tmp_path):
    monkeypatch.setenv("ENCRYPTION_KEYS", "k1:" + base64.b64encode(b"k" * 32).decode())
    base = {"APP_ENV": "production", "SECRET_KEY": NEW}
    assert build({**base, "SECRET_KEY_FALLBACKS": [OLD]}, str(tmp_path))["WTF_CSRF_SECRET_KEY"] == [OLD, NEW]
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS"):
        build({**base, "SECRET_KEY_FALLBACKS": ["short"]}, str(tmp_path))
    with pytest.raises(ConfigError, match="REFERRAL_KEY"):
        build({**base, "REFERRAL_KEY": "short"}, str(tmp_path))


def test_fallbacks_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", f" {OLD} , {'x' * 40} ")
    config = build({"APP_ENV": "testing", "SECRET_KEY": NEW}, str(tmp_path))
    assert config["SECRET_KEY_FALLBACKS"] == [OLD, "x" * 40]
