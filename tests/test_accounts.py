"""Registration, verification, sign-in, throttling, password reset and staff TOTP through the
test client, CSRF included."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from onboarding.accounts.models import User
from onboarding.accounts.operations import create_staff, find_user_by_email, totp_secret
from onboarding.db import db
from onboarding.institutions.models import Institution

from .conftest import last_email, link_in, path_of, submit_form

GOOD_PASSWORD = "correct horse battery staple"


def register(client, email="mm@northwind.example", password=GOOD_PASSWORD, confirm=None, **extra):
    data = {
        "full_name": "Morgan Maker",
        "email": email,
        "legal_name": "Northwind Liquidity Ltd",
        "password": password,
        "confirm": confirm if confirm is not None else password,
        **extra,
    }
    return submit_form(client, "/register", data)


def login(client, email, password=GOOD_PASSWORD):
    return submit_form(client, "/login", {"email": email, "password": password})


def verify(client, email):
    link = link_in(last_email(email).text_body)
    return client.get(path_of(link), follow_redirects=True)


def test_register_verify_login_logout(client):
    response = register(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/check-inbox")
    user = find_user_by_email("mm@northwind.example")
    assert user.institution.legal_name == "Northwind Liquidity Ltd"
    assert user.email_verified_at is None
    assert user.password_hash.startswith("$argon2id$")

    # Not verified yet: sign-in explains what to do.
    page = login(client, "mm@northwind.example").get_data(as_text=True)
    assert "Confirm your e-mail address first" in page

    email = last_email("mm@northwind.example")
    assert email.sent_at is not None, "the outbox delivered the verification e-mail"
    page = verify(client, "mm@northwind.example").get_data(as_text=True)
    assert "Your e-mail address is confirmed" in page

    response = login(client, "mm@northwind.example")
    assert response.status_code == 302
    home = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Northwind Liquidity Ltd" in home and "Your path to API access" in home
    assert client.get("/staff").status_code == 403

    logout = submit_form(client, "/logout", {}, form_url="/portal")
    assert logout.status_code == 302
    assert client.get("/portal").status_code == 302  # back to sign-in


def test_a_second_registration_with_the_same_address_creates_nothing(client):
    # The answer is the same as for a new address (tests/test_enumeration.py); the owner is told by e-mail.
    register(client)
    response = register(client, email="MM@Northwind.example")
    assert response.status_code == 302 and response.headers["Location"].endswith("/register/check-inbox")
    assert last_email("mm@northwind.example").template == "account_exists"
    assert db.session.scalar(select(db.func.count()).select_from(User)) == 1
    assert db.session.scalar(select(db.func.count()).select_from(Institution)) == 1


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 12 characters"), ("aaaaaaaaaaaaaaaa", "repeats too few characters"),
     ("password1234", "too common")],
)
def test_weak_password_is_refused(client, password, message):
    page = register(client, password=password).get_data(as_text=True)
    assert message in page
    assert find_user_by_email("mm@northwind.example") is None


def test_mismatched_confirmation(client):
    page = register(client, confirm="something else entirely").get_data(as_text=True)
    assert "The two passwords do not match." in page


def test_missing_csrf_token_gets_a_clear_message(client):
    response = client.post("/register", data={"email": "x@y.example", "password": GOOD_PASSWORD})
    assert response.status_code == 400
    assert "nothing was saved" in response.get_data(as_text=True)
    assert find_user_by_email("x@y.example") is None


def test_tampered_and_expired_verification_links(client, app):
    register(client)
    link = path_of(link_in(last_email("mm@northwind.example").text_body))
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    response = client.get(tampered)
    assert response.status_code == 400
    assert "not valid" in response.get_data(as_text=True)

    app.config["EMAIL_TOKEN_MAX_AGE_HOURS"] = -1  # every token is now past its age
    response = client.get(link)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert find_user_by_email("mm@northwind.example").email_verified_at is None


def test_wrong_password_then_throttled_per_account(client, app):
    register(client)
    verify(client, "mm@northwind.example")
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]):
        page = login(client, "mm@northwind.example", "wrong password here").get_data(as_text=True)
        assert "e-mail address or password is not right" in page
    # Even the right password is refused while throttled, with a clear message.
    page = login(client, "mm@northwind.example").get_data(as_text=True)
    assert "Too many failed sign-in attempts for this account" in page
    assert client.get("/portal").status_code == 302


def test_throttled_per_ip_across_accounts(client, app):
    app.config["LOGIN_MAX_FAILURES_PER_IP"] = 3
    for i in range(3):
        login(client, f"nobody{i}@example.com", "wrong password here")
    page = login(client, "someone-else@example.com", "wrong password here").get_data(as_text=True)
    assert "Too many failed sign-in attempts from your network" in page


def test_session_is_renewed_at_login(client):
    register(client)
    verify(client, "mm@northwind.example")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, "mm@northwind.example")
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("_user_id", "").startswith(str(find_user_by_email("mm@northwind.example").id))


def test_password_reset_is_single_use_and_signs_out_elsewhere(client, app):
    register(client)
    verify(client, "mm@northwind.example")
    other_browser = app.test_client()
    login(other_browser, "mm@northwind.example")
    assert other_browser.get("/portal").status_code == 200

    page = submit_form(client, "/forgot-password", {"email": "mm@northwind.example"}).get_data(as_text=True)
    assert "If <strong>mm@northwind.example</strong> has an account" in page
    link = path_of(link_in(last_email("mm@northwind.example").text_body))
    assert "/reset-password/" in link

    weak = submit_form(client, link, {"password": "short", "confirm": "short"}).get_data(as_text=True)
    assert "at least 12 characters" in weak

    new_password = "a completely new passphrase"
    response = submit_form(client, link, {"password": new_password, "confirm": new_password})
    assert response.status_code == 302
    assert other_browser.get("/portal").status_code == 302, "the other session was signed out"
    assert login(client, "mm@northwind.example", new_password).status_code == 302
    again = client.get(link)
    assert again.status_code in (302, 400)


def test_forgot_password_does_not_reveal_accounts(client):
    page = submit_form(client, "/forgot-password", {"email": "ghost@example.com"}).get_data(as_text=True)
    assert "If <strong>ghost@example.com</strong> has an account" in page
    assert last_email("ghost@example.com") is None


def make_staff(roles=("document_reviewer",), email="reviewer@exchange.example"):
    user = create_staff(email=email, full_name="Riley Reviewer", password=GOOD_PASSWORD, roles=roles)
    db.session.commit()
    return user


def test_staff_enrols_totp_then_needs_it_at_every_login(client, app):
    make_staff(roles=("document_reviewer", "approver"))
    response = login(client, "reviewer@exchange.example")
    assert response.headers["Location"].endswith("/login/set-up-two-factor")
    page = client.get("/login/set-up-two-factor").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page and "xmlns" in page
    # Not signed in yet: the password alone opens nothing.
    assert client.get("/staff").status_code == 302

    user = find_user_by_email("reviewer@exchange.example")
    db.session.refresh(user)
    secret = totp_secret(user)
    assert " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)) in page

    wrong = submit_form(client, "/login/set-up-two-factor", {"code": "000000"}).get_data(as_text=True)
    assert "That code is not right" in wrong

    first_code = pyotp.TOTP(secret).now()
    response = submit_form(client, "/login/set-up-two-factor", {"code": first_code})
    assert response.headers["Location"].endswith("/account/recovery-codes")
    codes_page = client.get("/account/recovery-codes").get_data(as_text=True)
    assert codes_page.count("<code>") == 10
    home = client.get("/staff").get_data(as_text=True)
    assert "Document reviewer" in home and "Approver" in home
    assert client.get("/portal").status_code == 403

    # Next sign-in: password, then a code; a replayed code is refused.
    submit_form(client, "/logout", {}, form_url="/staff")
    assert login(client, "reviewer@exchange.example").headers["Location"].endswith("/login/code")
    replay = submit_form(client, "/login/code", {"code": first_code}).get_data(as_text=True)
    assert "That code is not right" in replay
    assert client.get("/staff").status_code == 302


def enrol(client, email="reviewer@exchange.example") -> str:
    """Sign in for the first time and set up TOTP; returns the secret."""
    login(client, email)
    client.get("/login/set-up-two-factor")
    secret = totp_secret(find_user_by_email(email))
    submit_form(client, "/login/set-up-two-factor", {"code": pyotp.TOTP(secret).now()})
    return secret


def test_staff_signs_in_with_a_recovery_code_once(client):
    make_staff()
    enrol(client)
    code = client.get("/account/recovery-codes").get_data(as_text=True).split("<code>")[1].split("</code>")[0]
    submit_form(client, "/logout", {}, form_url="/staff")

    login(client, "reviewer@exchange.example")
    assert submit_form(client, "/login/code", {"code": code}).status_code == 302
    assert client.get("/staff").status_code == 200
    submit_form(client, "/logout", {}, form_url="/staff")
    login(client, "reviewer@exchange.example")
    assert "That code is not right" in submit_form(client, "/login/code", {"code": code}).get_data(as_text=True)


def test_role_checks(client):
    make_staff(roles=("document_reviewer",))
    enrol(client)
    assert client.get("/staff").status_code == 200
    forbidden = client.get("/staff/audit")
    assert forbidden.status_code == 403
    assert "You do not have access to this page" in forbidden.get_data(as_text=True)


def test_security_headers_and_cookie_flags(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_secure_cookie_outside_development(make_app):
    app = make_app(SESSION_COOKIE_SECURE=True)
    response = app.test_client().get("/login")
    assert "Secure" in response.headers["Set-Cookie"]


def test_error_pages_share_the_layout(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Page not found" in page and "Skip to content" in page
