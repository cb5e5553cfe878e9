"""`flask --app app ...` commands: create-staff, seed-demo, demo-totp."""

from __future__ import annotations

import base64
import hashlib
import hmac as hmac_lib
import os
import re
import time

import pyotp
import pytest
from sqlalchemy import func, select

from onboarding import create_app
from onboarding.accounts.models import STAFF, User
from onboarding.accounts.operations import find_user_by_email, totp_secret
from onboarding.applications.models import Application
from onboarding.db import db
from onboarding.demo import (
    APPROVED_DEMO_APPLICANT,
    DEMO_APPLICANT,
    DEMO_ENFORCEMENT,
    DEMO_INSTITUTIONS,
    DEMO_PASSWORD,
    DEMO_SELF_REFERRAL,
    DEMO_STAFF,
)
from onboarding.keys.authorize import AuthorizeCall, decide
from onboarding.keys.models import ApiKey
from onboarding.security import verify_password

from .conftest import last_email

GOOD_PASSWORD = "correct horse battery staple"


@pytest.fixture
def cli(app, monkeypatch):
    """Invoke a command in the app's own application context (as `flask --app app` does), after
    ending our own read transaction so we see what the command commits."""
    from onboarding.db import db

    monkeypatch.delenv("STAFF_PASSWORD", raising=False)
    runner = app.test_cli_runner()

    def invoke(*args: str, **kwargs):
        db.session.rollback()
        with app.app_context():
            result = runner.invoke(args=list(args), **kwargs)
        db.session.rollback()
        return result

    return invoke


def user_count() -> int:
    from onboarding.db import db

    return db.session.scalar(select(func.count()).select_from(User))


def test_create_staff_with_two_roles(cli):
    result = cli("create-staff", "--email", "Riley@Exchange.example", "--name", "Riley Reviewer",
                 "--role", "document_reviewer", "--role", "approver", "--password", GOOD_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "Created staff account riley@exchange.example with roles: approver, document_reviewer." in result.output
    assert "authenticator app at their first sign-in" in result.output

    user = find_user_by_email("riley@exchange.example")
    assert user is not None
    assert user.kind == STAFF
    assert user.full_name == "Riley Reviewer"
    assert user.role_names == ["approver", "document_reviewer"]
    assert user.email_verified_at is not None
    assert user.totp_enrolled_at is None, "TOTP is set up at first sign-in"
    assert verify_password(user.password_hash, GOOD_PASSWORD)


def test_create_staff_reads_the_password_from_the_environment(cli):
    result = cli("create-staff", "--email", "ops@exchange.example", "--role", "compliance",
                 env={"STAFF_PASSWORD": GOOD_PASSWORD})
    assert result.exit_code == 0, result.output
    user = find_user_by_email("ops@exchange.example")
    assert user.full_name == "ops", "the name defaults to the e-mail's local part"
    assert verify_password(user.password_hash, GOOD_PASSWORD)


def test_create_staff_refuses_an_unknown_role(cli):
    result = cli("create-staff", "--email", "riley@exchange.example", "--role", "superuser",
                 "--password", GOOD_PASSWORD)
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert "'superuser' is not one of" in result.output
    assert find_user_by_email("riley@exchange.example") is None


def test_create_staff_refuses_a_duplicate_email(cli):
    first = cli("create-staff", "--email", "riley@exchange.example", "--role", "approver", "--password", GOOD_PASSWORD)
    assert first.exit_code == 0, first.output
    again = cli("create-staff", "--email", "RILEY@exchange.example ", "--role", "admin", "--password", GOOD_PASSWORD)
    assert again.exit_code == 1
    assert "Error: An account with this e-mail address already exists." in again.output
    assert user_count() == 1
    assert find_user_by_email("riley@exchange.example").role_names == ["approver"], "nothing was changed"


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "Use at least 12 characters."), ("password1234", "This password is too common"),
     ("riley-secret-passphrase", "Do not use your e-mail address in your password.")],
)
def test_create_staff_refuses_a_weak_password(cli, password, message):
    result = cli("create-staff", "--email", "riley@exchange.example", "--role", "approver", "--password", password)
    assert result.exit_code == 1
    assert message in result.output
    assert find_user_by_email("riley@exchange.example") is None


def login_row(output: str, email: str) -> str:
    # E-mails printed by the console mail backend come before the table (and key e-mails after it).
    table = output.split("Demo logins", 1)[-1].split("Staff sign in with a TOTP code", 1)[0]
    rows = [line for line in table.splitlines() if re.search(rf"(^|\s){re.escape(email)}(\s|$)", line)]
    assert len(rows) == 1, f"{email} should be listed once in:\n{output}"
    return rows[0]


def test_seed_demo_is_idempotent_and_prints_the_logins(cli):
    demo_emails = [email for email, *_ in DEMO_STAFF] + [DEMO_APPLICANT[0]] + [i[0] for i in DEMO_INSTITUTIONS] + \
        [i[0] for i in DEMO_ENFORCEMENT] + [DEMO_SELF_REFERRAL[0]]
    for _ in range(2):
        result = cli("seed-demo")
        assert result.exit_code == 0, result.output
        assert user_count() == len(demo_emails) == 16
        rows = {email: login_row(result.output, email) for email in demo_emails}
        for row in rows.values():
            assert DEMO_PASSWORD in row, row
        for email, _, _, secret in DEMO_STAFF:
            assert secret in rows[email], f"{email} is listed with its TOTP secret"
        assert "flask --app app demo-totp EMAIL" in result.output

    for email, _, roles, secret in DEMO_STAFF:
        user = find_user_by_email(email)
        assert user.role_names == sorted(roles)
        assert user.mfa_enrolled
        assert totp_secret(user) == secret
        assert verify_password(user.password_hash, DEMO_PASSWORD)
    applicant = find_user_by_email(DEMO_APPLICANT[0])
    assert applicant.institution.legal_name == DEMO_APPLICANT[2]
    assert applicant.email_verified_at is not None
    assert last_email(DEMO_APPLICANT[0]) is None, "a demo applicant is not sent a verification e-mail"
    # The demo shows applications at work, each exactly once: a draft, and one in each review queue
    # (taken there by the demo staff) and approved ones (the enforcement and referral demo's too), whose
    # letters were rendered.
    states = sorted(db.session.scalars(select(Application.state)))
    approved = 1 + len(DEMO_ENFORCEMENT) + 1
    assert states == ["approved"] * approved + ["document_review", "draft", "pending_approval", "qualification_review"]
    from onboarding.letters.models import ApprovalLetter

    letters = db.session.scalars(select(ApprovalLetter)).all()
    assert len(letters) == approved and all(letter.sha256 and letter.rendered_at for letter in letters)


def test_demo_totp_prints_the_current_code(cli):
    assert cli("seed-demo").exit_code == 0
    secret = next(s for email, _, _, s in DEMO_STAFF if email == "admin@demo.example")
    totp = pyotp.TOTP(secret)

    started = time.time()
    result = cli("demo-totp", "admin@demo.example")
    assert result.exit_code == 0, result.output
    code = result.output.strip()
    assert re.fullmatch(r"\d{6}", code)
    # Either the step the command started in or the one it finished in (30 s boundary).
    assert code in {totp.at(started), totp.now(), totp.at(time.time() - 30)}


def test_demo_totp_for_an_account_without_a_secret(cli):
    assert cli("seed-demo").exit_code == 0
    for email in (DEMO_APPLICANT[0], "nobody@demo.example"):
        result = cli("demo-totp", email)
        assert result.exit_code == 1
        assert f"No TOTP secret for {email}." in result.output


def test_demo_totp_is_refused_in_production(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    for name in ("SECRET_KEY", "ENCRYPTION_KEYS", "ENCRYPTION_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({
        "APP_ENV": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}",
        "SECRET_KEY": base64.urlsafe_b64encode(os.urandom(48)).decode(),
        "ENCRYPTION_KEYS": "k1:" + base64.b64encode(os.urandom(32)).decode(),
    })
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["demo-totp", "admin@demo.example"])
    assert result.exit_code == 1
    assert "demo-totp is only available in development." in result.output


def test_seed_demo_gives_the_approved_institution_two_keys_once(cli, app, monkeypatch):
    monkeypatch.setenv("GATEWAY_PORT", "8097")  # make run's gateway on another port than the default
    first = cli("seed-demo")
    assert first.exit_code == 0, first.output
    assert first.output.count("--base-url http://127.0.0.1:8097 ") == 2, "the commands name the gateway's port"
    hmac_key = re.search(r"HMAC, trading:\s+(mxk_\w+)", first.output).group(1)
    secret = re.search(r"its secret:\s+([0-9a-f]{64})", first.output).group(1)
    keys = db.session.scalars(select(ApiKey).order_by(ApiKey.id)).all()
    assert [(k.kind, k.scopes) for k in keys] == [("hmac", ["account:read", "market:read", "spot:trade"]),
                                                  ("ed25519", ["market:read"])]
    owner = find_user_by_email(APPROVED_DEMO_APPLICANT)
    assert {k.institution_id for k in keys} == {owner.institution_id}
    again = cli("seed-demo")
    assert again.exit_code == 0 and "Demo API keys" not in again.output
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 2
    # The printed credentials sign a request the authorize decision allows.
    query = f"symbol=BTCEUR&side=BUY&quantity=1&timestamp={int(time.time() * 1000)}"
    query += "&signature=" + hmac_lib.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    decision = decide(AuthorizeCall("POST", "/api/v3/order", query, "", hmac_key, "198.51.100.1"))
    assert decision.reason == "ok"
