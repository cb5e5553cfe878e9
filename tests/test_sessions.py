"""Sessions end on the server: a session cookie copied before sign-out (or a password change or reset, an MFA
reset, a deactivation) is refused at once, and a user can sign out all their other sessions."""

from __future__ import annotations

import pyotp

from onboarding.accounts import staff
from onboarding.accounts.operations import create_staff, find_user_by_email, totp_secret
from onboarding.db import db

from .conftest import last_email, link_in, path_of, submit_form
from .factories import PASSWORD, make_applicant

NEW_PASSWORD = "a brand new passphrase here"


def sign_in_applicant(client, email="mm@northwind.example"):
    make_applicant(email=email)
    db.session.commit()
    assert submit_form(client, "/login", {"email": email, "password": PASSWORD}).status_code == 302
    assert client.get("/portal").status_code == 200


def sign_in_staff(client, email, roles, name="Riley Reviewer"):
    if find_user_by_email(email) is None:
        create_staff(email=email, full_name=name, password=PASSWORD, roles=roles)
        db.session.commit()
    submit_form(client, "/login", {"email": email, "password": PASSWORD})
    client.get("/login/set-up-two-factor")
    secret = totp_secret(find_user_by_email(email))
    response = submit_form(client, "/login/set-up-two-factor", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302
    assert client.get("/staff").status_code == 200


def copy_of_session(app, client):
    """A second browser holding the same session cookie (as a thief who copied it would)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def signed_in(client, page: str) -> bool:
    response = client.get(page)
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def test_a_copied_cookie_stops_working_at_sign_out(app, client):
    sign_in_applicant(client)
    thief = copy_of_session(app, client)
    assert signed_in(thief, "/portal"), "the copy works while the session lives"
    submit_form(client, "/logout", {}, form_url="/portal")
    assert not signed_in(thief, "/portal")
    assert client.get("/portal").headers["Location"].startswith("/login")


def test_changing_the_password_ends_other_sessions_and_keeps_this_one(app, client):
    sign_in_applicant(client)
    thief = copy_of_session(app, client)
    response = submit_form(client, "/account/password", {
        "current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, form_url="/account")
    assert response.status_code == 302
    assert "Every other session of yours has been signed out" in client.get("/account").get_data(as_text=True)
    assert signed_in(client, "/portal")
    assert not signed_in(thief, "/portal")
    assert submit_form(app.test_client(), "/login", {"email": "mm@northwind.example",
                                                     "password": NEW_PASSWORD}).status_code == 302


def test_a_wrong_current_password_changes_nothing(app, client):
    sign_in_applicant(client)
    thief = copy_of_session(app, client)
    response = submit_form(client, "/account/password", {
        "current_password": "not my password at all", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        form_url="/account")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "That is not your current password." in page
    assert 'aria-invalid="true"' in page
    assert signed_in(thief, "/portal"), "a refused change ends nothing"
    short = submit_form(client, "/account/password", {"current_password": PASSWORD, "password": "short",
                                                      "confirm": "short"}, form_url="/account")
    assert short.status_code == 400 and "Use at least 12 characters." in short.get_data(as_text=True)
    user = find_user_by_email("mm@northwind.example")
    assert user.session_version == 1


def test_a_password_reset_ends_every_session(app, client):
    sign_in_applicant(client)
    thief = copy_of_session(app, client)
    stranger = app.test_client()
    submit_form(stranger, "/forgot-password", {"email": "mm@northwind.example"})
    link = link_in(last_email("mm@northwind.example").text_body)
    assert submit_form(stranger, path_of(link), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 302
    assert not signed_in(thief, "/portal")
    assert not signed_in(client, "/portal")


def test_sign_out_all_other_sessions(app, client):
    sign_in_applicant(client)
    other_browser = copy_of_session(app, client)
    page = client.get("/account").get_data(as_text=True)
    assert "Sign out all my other sessions" in page
    response = submit_form(client, "/account/sessions/end-others", {}, form_url="/account")
    assert response.status_code == 302
    assert signed_in(client, "/portal"), "this session stays"
    assert not signed_in(other_browser, "/portal")


def test_an_mfa_reset_and_a_deactivation_end_the_staff_members_sessions(app, client):
    admin = create_staff(email="alex@exchange.example", full_name="Alex Admin", password=PASSWORD, roles=["admin"])
    db.session.commit()
    sign_in_staff(client, "riley@exchange.example", ["document_reviewer"])
    thief = copy_of_session(app, client)

    riley = find_user_by_email("riley@exchange.example")
    staff.reset_mfa(riley, admin)
    db.session.commit()
    assert not signed_in(thief, "/staff") and not signed_in(client, "/staff")
    riley = find_user_by_email("riley@exchange.example")
    assert riley.totp_enrolled_at is None and totp_secret(riley) is None

    # At the next sign-in they enrol again.
    submit_form(client, "/login", {"email": "riley@exchange.example", "password": PASSWORD})
    assert client.get("/login/code").headers["Location"].endswith("/login/set-up-two-factor")
    client.get("/login/set-up-two-factor")
    secret = totp_secret(find_user_by_email("riley@exchange.example"))
    submit_form(client, "/login/set-up-two-factor", {"code": pyotp.TOTP(secret).now()})
    assert signed_in(client, "/staff")
    thief = copy_of_session(app, client)

    staff.deactivate_staff(find_user_by_email("riley@exchange.example"), admin)
    db.session.commit()
    assert not signed_in(thief, "/staff") and not signed_in(client, "/staff")
    refused = submit_form(client, "/login", {"email": "riley@exchange.example", "password": PASSWORD})
    assert "The e-mail address or password is not right." in refused.get_data(as_text=True)
