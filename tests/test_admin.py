"""The admin console over HTTP: staff accounts (invite, roles, second-admin confirmation, MFA reset,
deactivation), rule documents (preview, diff, publish, who has agreed) and service tokens. Every action and
every refusal, with nothing saved on a refusal."""

from __future__ import annotations

import html
import io
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from onboarding.accounts import staff
from onboarding.accounts.models import AdminGrant, StaffInvitation, User
from onboarding.accounts.operations import create_staff, find_user_by_email, totp_secret
from onboarding.agreements.models import API_USAGE, RISK_CONTROL, RuleVersion
from onboarding.agreements.operations import current_rules, publish_bundled_rules
from onboarding.api.models import ServiceToken
from onboarding.api.tokens import create_service_token
from onboarding.applications.models import Application
from onboarding.audit.models import AuditEvent
from onboarding.db import db, utcnow
from onboarding.enforcement.models import Investigation

from .conftest import csrf_token_from, last_email, link_in, path_of, submit_form
from .factories import PASSWORD, granted_institution, make_applicant

NEW_PASSWORD = "a fresh staff passphrase"


def sign_in_staff(app, email, roles, name):
    if find_user_by_email(email) is None:
        create_staff(email=email, full_name=name, password=PASSWORD, roles=roles)
        db.session.commit()
    client = app.test_client()
    submit_form(client, "/login", {"email": email, "password": PASSWORD})
    client.get("/login/set-up-two-factor")
    secret = totp_secret(find_user_by_email(email))
    assert submit_form(client, "/login/set-up-two-factor", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    return client


@pytest.fixture
def admin(app):
    return sign_in_staff(app, "alex@exchange.example", ["admin"], "Alex Admin")


def post(client, url, data, form_url):
    """POST with the CSRF token of `form_url`'s page, as the browser would."""
    token = csrf_token_from(client.get(form_url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# --- who may use it -----------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/", "/admin/staff", "/admin/rules", "/admin/tokens"])
def test_only_admins_reach_the_console(app, url):
    reviewer = sign_in_staff(app, "riley@exchange.example", ["document_reviewer", "compliance"], "Riley Reviewer")
    assert reviewer.get(url).status_code == 403
    assert app.test_client().get(url).status_code == 302  # anonymous: to sign-in
    make_applicant()
    applicant = app.test_client()
    submit_form(applicant, "/login", {"email": "mm@northwind.example", "password": PASSWORD})
    assert applicant.get(url).status_code == 403


def test_non_admin_posts_are_refused_and_change_nothing(app):
    reviewer = sign_in_staff(app, "riley@exchange.example", ["document_reviewer"], "Riley Reviewer")
    token = csrf_token_from(reviewer.get("/staff").get_data(as_text=True))
    response = reviewer.post("/admin/staff/invite", data={"csrf_token": token, "full_name": "Eve", "email":
                                                         "eve@exchange.example", "roles": ["admin"]})
    assert response.status_code == 403 and find_user_by_email("eve@exchange.example") is None
    assert reviewer.post("/admin/tokens", data={"csrf_token": token, "name": "x", "scopes": ["authorize"]}
                         ).status_code == 403
    assert count(ServiceToken) == 0


def test_the_staff_home_links_to_the_console_instead_of_the_command_line(admin):
    page = admin.get("/staff").get_data(as_text=True)
    assert "flask --app app create-staff" not in page
    assert 'href="/admin/staff"' in page and 'href="/admin/rules"' in page and 'href="/admin/tokens"' in page
    assert 'href="/admin/"' in page  # the main navigation


# --- invitations ---------------------------------------------------------------------------------------


def invite(admin, email="riley@exchange.example", roles=("document_reviewer",), name="Riley Reviewer"):
    return post(admin, "/admin/staff/invite", {"full_name": name, "email": email, "roles": list(roles)},
                "/admin/staff")


def test_an_invited_reviewer_sets_a_password_enrols_totp_and_signs_in(app, admin):
    response = invite(admin)
    assert response.status_code == 302
    riley = find_user_by_email("riley@exchange.example")
    assert riley.role_names == ["document_reviewer"] and riley.is_staff
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Invitation sent to riley@exchange.example" in page and "Invited" in page
    assert events("staff.invited") and events("staff.invitation_sent")

    # Before the link is used, no password opens the account.
    assert "not right" in submit_form(app.test_client(), "/login", {"email": "riley@exchange.example",
                                                                    "password": PASSWORD}).get_data(as_text=True)

    link = path_of(link_in(last_email("riley@exchange.example").text_body))
    newcomer = app.test_client()
    form = newcomer.get(link).get_data(as_text=True)
    assert "Welcome, Riley Reviewer" in form
    short = submit_form(newcomer, link, {"password": "short", "confirm": "short"})
    assert short.status_code == 200 and "Use at least 12 characters." in short.get_data(as_text=True)
    assert find_user_by_email("riley@exchange.example").totp_secret_sealed is None

    response = submit_form(newcomer, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"].endswith("/login/set-up-two-factor")
    newcomer.get("/login/set-up-two-factor")
    secret = totp_secret(find_user_by_email("riley@exchange.example"))
    assert submit_form(newcomer, "/login/set-up-two-factor", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    assert "Document reviewer" in newcomer.get("/staff").get_data(as_text=True)

    # The link is single use.
    again = app.test_client().get(link)
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)
    listing = admin.get("/admin/staff").get_data(as_text=True)
    assert "Riley Reviewer" in listing and ">On<" in listing


def test_an_expired_or_replaced_invitation_is_refused(app, admin):
    invite(admin)
    first = path_of(link_in(last_email("riley@exchange.example").text_body))
    riley = find_user_by_email("riley@exchange.example")
    post(admin, f"/admin/staff/{riley.id}/invitation", {}, f"/admin/staff/{riley.id}")
    second = path_of(link_in(last_email("riley@exchange.example").text_body))
    assert first != second
    withdrawn = app.test_client().get(first)
    assert withdrawn.status_code == 400 and "withdrawn" in withdrawn.get_data(as_text=True)

    invitation = db.session.scalar(select(StaffInvitation).where(StaffInvitation.withdrawn_at.is_(None)))
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    expired = submit_form(app.test_client(), second, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                          form_url="/login")
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    assert app.test_client().get("/invitation/not-a-real-token").status_code == 400


@pytest.mark.parametrize("data, field, message", [
    ({"full_name": "", "email": "x@exchange.example", "roles": ["approver"]}, "full_name", "Enter the person"),
    ({"full_name": "X", "email": "not-an-address", "roles": ["approver"]}, "email", "valid e-mail address"),
    ({"full_name": "X", "email": "x@exchange.example", "roles": []}, "roles", "Choose at least one role."),
    ({"full_name": "X", "email": "x@exchange.example", "roles": ["superuser"]}, "roles", "Unknown role"),
    ({"full_name": "X", "email": "ALEX@exchange.example", "roles": ["approver"]}, "email", "already exists"),
])
def test_bad_invitations_are_refused_at_the_field(admin, data, field, message):
    before = count(User)
    response = post(admin, "/admin/staff/invite", data, "/admin/staff")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in page
    assert f'id="{field}-error"' in page or f'id="{field}"' in page
    assert count(User) == before and count(StaffInvitation) == 0


# --- roles and the second admin --------------------------------------------------------------------------


def test_roles_change_and_nobody_changes_their_own(app, admin):
    riley = create_staff(email="riley@exchange.example", full_name="Riley Reviewer", password=PASSWORD,
                         roles=["document_reviewer"])
    db.session.commit()
    response = post(admin, f"/admin/staff/{riley.id}/roles", {"roles": ["document_reviewer", "approver"]},
                    f"/admin/staff/{riley.id}")
    assert response.status_code == 302
    assert find_user_by_email("riley@exchange.example").role_names == ["approver", "document_reviewer"]
    assert events("staff.roles_changed")[-1].details["added"] == ["approver"]

    same = post(admin, f"/admin/staff/{riley.id}/roles", {"roles": ["document_reviewer", "approver"]},
                f"/admin/staff/{riley.id}")
    assert same.status_code == 400 and "Nothing changed" in same.get_data(as_text=True)
    empty = post(admin, f"/admin/staff/{riley.id}/roles", {}, f"/admin/staff/{riley.id}")
    assert empty.status_code == 400 and "Choose at least one role." in empty.get_data(as_text=True)

    me = find_user_by_email("alex@exchange.example")
    own = post(admin, f"/admin/staff/{me.id}/roles", {"roles": ["admin", "approver"]}, f"/admin/staff/{riley.id}")
    assert own.status_code == 400 and "cannot change the roles of your own account" in own.get_data(as_text=True)
    assert find_user_by_email("alex@exchange.example").role_names == ["admin"]


def test_granting_admin_needs_a_second_admin(app, admin):
    riley = create_staff(email="riley@exchange.example", full_name="Riley Reviewer", password=PASSWORD,
                         roles=["approver"])
    db.session.commit()
    response = post(admin, f"/admin/staff/{riley.id}/roles", {"roles": ["approver", "admin"]},
                    f"/admin/staff/{riley.id}")
    assert response.status_code == 302
    assert not find_user_by_email("riley@exchange.example").has_role("admin")
    grant = db.session.scalar(select(AdminGrant))
    assert grant.outcome is None

    # The admin who asked cannot confirm.
    mine = post(admin, f"/admin/admin-grants/{grant.id}/confirm", {"confirm": "y"}, "/admin/staff")
    assert "A second administrator must confirm" in admin.get(mine.headers["Location"]).get_data(as_text=True)
    assert not find_user_by_email("riley@exchange.example").has_role("admin")

    # A second admin (made through the CLI's function) confirms, after ticking the box.
    second = sign_in_staff(app, "blair@exchange.example", ["admin"], "Blair Admin")
    page = second.get("/admin/staff").get_data(as_text=True)
    assert "Waiting for a second administrator" in page and "Confirm the grant" in page
    unticked = post(second, f"/admin/admin-grants/{grant.id}/confirm", {}, "/admin/staff")
    assert "Tick the box" in second.get(unticked.headers["Location"]).get_data(as_text=True)
    assert not find_user_by_email("riley@exchange.example").has_role("admin")
    post(second, f"/admin/admin-grants/{grant.id}/confirm", {"confirm": "y"}, "/admin/staff")
    assert find_user_by_email("riley@exchange.example").role_names == ["admin", "approver"]
    granted = events("staff.admin_granted")[-1]
    assert granted.details["requested_by"] == "Alex Admin" and granted.details["confirmed_by"] == "Blair Admin"


def test_inviting_someone_as_admin_waits_for_a_second_admin(admin):
    invite(admin, email="sam@exchange.example", roles=["admin", "compliance"], name="Sam Admin")
    sam = find_user_by_email("sam@exchange.example")
    assert sam.role_names == ["compliance"]
    assert db.session.scalar(select(AdminGrant).where(AdminGrant.user_id == sam.id)).outcome is None


def test_the_last_active_admin_cannot_be_removed_or_deactivated(app, admin):
    """Only another admin can remove an admin, and nobody acts on their own account: so the last active
    admin always stays. The pages say why."""
    me = find_user_by_email("alex@exchange.example")
    own = post(admin, f"/admin/staff/{me.id}/deactivate", {"confirm": "y"}, f"/admin/staff/{me.id}")
    assert own.status_code == 400 and "cannot deactivate your own account" in own.get_data(as_text=True)
    own = post(admin, f"/admin/staff/{me.id}/roles", {"roles": ["approver"]}, f"/admin/staff/{me.id}")
    assert own.status_code == 400 and "your own account" in own.get_data(as_text=True)
    assert staff.active_admin_count() == 1 and find_user_by_email("alex@exchange.example").is_active

    # Two admins: one may remove the other's role; the one left is the last and keeps it.
    blair_client = sign_in_staff(app, "blair@exchange.example", ["admin"], "Blair Admin")
    blair = find_user_by_email("blair@exchange.example")
    assert post(admin, f"/admin/staff/{blair.id}/roles", {"roles": ["approver"]},
                f"/admin/staff/{blair.id}").status_code == 302
    assert staff.active_admin_count() == 1
    assert blair_client.get("/admin/staff").status_code == 403, "no longer an admin: at once"
    page = admin.get(f"/admin/staff/{me.id}").get_data(as_text=True)
    assert "This is your own account" in page and "Deactivate" not in page


# --- MFA reset and deactivation ------------------------------------------------------------------------


def test_reset_mfa_needs_the_box_and_ends_their_sessions(app, admin):
    riley_client = sign_in_staff(app, "riley@exchange.example", ["document_reviewer"], "Riley Reviewer")
    riley = find_user_by_email("riley@exchange.example")
    unticked = post(admin, f"/admin/staff/{riley.id}/mfa-reset", {}, f"/admin/staff/{riley.id}")
    assert unticked.status_code == 400 and "Tick the box to confirm." in unticked.get_data(as_text=True)
    assert find_user_by_email("riley@exchange.example").mfa_enrolled
    assert riley_client.get("/staff").status_code == 200

    response = post(admin, f"/admin/staff/{riley.id}/mfa-reset", {"confirm": "y"}, f"/admin/staff/{riley.id}")
    assert response.status_code == 302
    assert "is reset" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert not find_user_by_email("riley@exchange.example").mfa_enrolled
    assert riley_client.get("/staff").status_code == 302
    assert events("staff.mfa_reset")


def test_deactivation_ends_sessions_and_hands_back_open_cases_and_investigations(app, admin):
    from .factories import complete_application, submit

    casey_client = sign_in_staff(app, "casey@exchange.example", ["document_reviewer", "compliance"], "Casey")
    casey = find_user_by_email("casey@exchange.example")
    applicant = make_applicant()
    application = complete_application(applicant)
    submit(application, applicant)
    application = db.session.get(Application, application.id)
    application.assignee_id, application.assigned_at = casey.id, utcnow()
    investigation = Investigation(institution_id=applicant.institution_id, assignee_id=casey.id,
                                  assigned_at=utcnow())
    db.session.add(investigation)
    db.session.commit()

    page = admin.get(f"/admin/staff/{casey.id}").get_data(as_text=True)
    assert "1 review case, 1 investigation" in page
    response = post(admin, f"/admin/staff/{casey.id}/deactivate", {"confirm": "y"}, f"/admin/staff/{casey.id}")
    assert response.status_code == 302
    assert "1 case and 1 investigation went back to their queues" in admin.get(
        response.headers["Location"]).get_data(as_text=True)
    assert casey_client.get("/staff").status_code == 302
    assert db.session.get(Application, application.id).assignee_id is None
    assert db.session.get(Investigation, investigation.id).assignee_id is None
    assert events("application.released")[-1].details["why"] == "the assignee was deactivated"
    assert events("investigation.released") and events("staff.deactivated")
    again = post(admin, f"/admin/staff/{casey.id}/deactivate", {"confirm": "y"}, f"/admin/staff/{casey.id}")
    assert again.status_code in (302, 400)


def test_unknown_staff_member_is_404(admin):
    assert admin.get("/admin/staff/999999").status_code == 404
    make_applicant()
    applicant = find_user_by_email("mm@northwind.example")
    assert admin.get(f"/admin/staff/{applicant.id}").status_code == 404


# --- rule documents ------------------------------------------------------------------------------------


def rules_text(extra: str = "") -> str:
    base = current_rules(API_USAGE).text
    return base.replace("12. Changes.", f"12. Changes.{extra}")


def test_preview_shows_the_text_and_a_line_diff_then_publish(app, admin):
    publish_bundled_rules()
    db.session.commit()
    granted_institution()
    text = rules_text(" Notice of a change is given 30 days ahead.")
    response = post(admin, "/admin/rules/preview", {"kind": API_USAGE, "version": "2027-01", "text": text},
                    "/admin/rules")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 line added, 1 line removed." in page
    assert 'class="diff-add"' in page and "Notice of a change is given 30 days ahead." in page
    assert "As institutions will see it" in page
    assert current_rules(API_USAGE).version == "2026-11", "a preview publishes nothing"

    publish_token = csrf_token_from(page)
    base_id = current_rules(API_USAGE).id
    response = admin.post("/admin/rules/publish", data={"csrf_token": publish_token, "kind": API_USAGE,
                                                        "version": "2027-01", "text": text, "base_id": base_id})
    assert response.status_code == 302
    assert current_rules(API_USAGE).version == "2027-01"
    assert current_rules(API_USAGE).published_by == "alex@exchange.example"
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "API usage rules, version 2027-01 is published. 1 active institution must agree" in page
    assert "Evergreen Liquidity BV" in page  # not agreed to the current version: key creation gated


def test_publishing_after_someone_else_published_shows_the_new_diff(admin):
    publish_bundled_rules()
    db.session.commit()
    base_id = current_rules(API_USAGE).id
    from onboarding.agreements.operations import publish_rules
    publish_rules(API_USAGE, "2026-12", rules_text(" Other admin's sentence."))
    db.session.commit()
    token = csrf_token_from(admin.get("/admin/rules").get_data(as_text=True))
    response = admin.post("/admin/rules/publish", data={"csrf_token": token, "kind": API_USAGE, "version": "2027-01",
                                                        "text": rules_text(" Mine."), "base_id": base_id})
    assert response.status_code == 409 and "while you were previewing" in response.get_data(as_text=True)
    assert current_rules(API_USAGE).version == "2026-12"


@pytest.mark.parametrize("data, message", [
    ({"kind": API_USAGE, "version": "2027-01", "text": "   "}, "Paste the text of the rules"),
    ({"kind": API_USAGE, "version": "2027-01", "text": "Too short."}, "too short"),
    ({"kind": API_USAGE, "version": "2027-01", "text": "SAME"}, "same text as the current version"),
    ({"kind": API_USAGE, "version": "2026-11", "text": "CHANGED"}, "already published"),
    ({"kind": API_USAGE, "version": "2027 01!", "text": "CHANGED"}, "Use letters, digits"),
    ({"kind": API_USAGE, "version": "", "text": "CHANGED"}, "Name the version"),
    ({"kind": "cookie-policy", "version": "2027-01", "text": "CHANGED"}, "Not a valid choice"),
])
@pytest.mark.parametrize("step", ["preview", "publish"])
def test_bad_rules_are_refused_at_the_field_and_nothing_is_published(admin, data, message, step):
    publish_bundled_rules()
    db.session.commit()
    text = {"SAME": current_rules(API_USAGE).text, "CHANGED": rules_text(" New.")}.get(data["text"], data["text"])
    response = post(admin, f"/admin/rules/{step}", {**data, "text": text}, "/admin/rules")
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert count(RuleVersion) == 2


def test_rules_can_be_uploaded_as_a_file(admin):
    publish_bundled_rules()
    db.session.commit()
    text = current_rules(RISK_CONTROL).text + "\nA new closing sentence for the risk-control rules.\n"
    token = csrf_token_from(admin.get("/admin/rules").get_data(as_text=True))
    response = admin.post("/admin/rules/preview", data={
        "csrf_token": token, "kind": RISK_CONTROL, "version": "2027-01", "text": "",
        "upload": (io.BytesIO(text.encode()), "rules.txt")}, content_type="multipart/form-data")
    assert response.status_code == 200 and "A new closing sentence" in response.get_data(as_text=True)
    binary = admin.post("/admin/rules/preview", data={
        "csrf_token": token, "kind": RISK_CONTROL, "version": "2027-01", "text": "",
        "upload": (io.BytesIO(b"\xff\xfe\x00bad"), "rules.pdf")}, content_type="multipart/form-data")
    assert binary.status_code == 400 and "not UTF-8 text" in binary.get_data(as_text=True)
    both = admin.post("/admin/rules/preview", data={
        "csrf_token": token, "kind": RISK_CONTROL, "version": "2027-01", "text": text,
        "upload": (io.BytesIO(text.encode()), "rules.txt")}, content_type="multipart/form-data")
    assert both.status_code == 400 and "not both" in both.get_data(as_text=True)


def test_the_rules_page_counts_agreements_of_active_institutions(admin):
    granted_institution()
    page = admin.get("/admin/rules").get_data(as_text=True)
    assert "1 of 1" in page, "the granted institution agreed to the API usage rules when it applied"
    assert "Evergreen Liquidity BV" not in page.split('id="risk-control"')[0]


# --- service tokens ------------------------------------------------------------------------------------


def test_create_a_token_shown_once_then_revoke_it(app, admin):
    response = post(admin, "/admin/tokens", {"name": "gateway eu-1", "scopes": ["authorize"]}, "/admin/tokens")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Copy it now: it is shown only this once." in page
    token = db.session.scalar(select(ServiceToken))
    plaintext = page.split('id="new-token">')[1].split("<")[0]
    assert plaintext.startswith("mxs_") and token.created_by == "alex@exchange.example"
    assert plaintext not in admin.get("/admin/tokens").get_data(as_text=True)

    # The token works against the API until it is revoked.
    api = app.test_client()
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert api.post("/api/v1/authorize", json={}, headers=headers).status_code != 401

    unticked = post(admin, f"/admin/tokens/{token.id}/revoke", {}, "/admin/tokens")
    assert unticked.status_code == 400 and "Tick the box to confirm." in unticked.get_data(as_text=True)
    assert db.session.get(ServiceToken, token.id).revoked_at is None
    response = post(admin, f"/admin/tokens/{token.id}/revoke", {"confirm": "y"}, "/admin/tokens")
    assert response.status_code == 302
    assert "is revoked" in admin.get("/admin/tokens").get_data(as_text=True)
    assert db.session.get(ServiceToken, token.id).revoked_at is not None
    assert api.post("/api/v1/authorize", json={}, headers=headers).status_code == 401
    twice = post(admin, f"/admin/tokens/{token.id}/revoke", {"confirm": "y"}, "/admin/tokens")
    assert "already revoked" in admin.get(twice.headers["Location"]).get_data(as_text=True)


def test_tokens_made_with_the_cli_function_are_listed_with_their_last_use(admin):
    token, _ = create_service_token("surveillance", ["violations:write"], created_by="cli:ops")
    token.last_used_at = utcnow()
    db.session.commit()
    page = admin.get("/admin/tokens").get_data(as_text=True)
    assert "surveillance" in page and token.public_id in page and "cli:ops" in page and "Never" not in page


@pytest.mark.parametrize("data, message", [
    ({"name": "", "scopes": ["authorize"]}, "Name the token"),
    ({"name": "x" * 101, "scopes": ["authorize"]}, "at most 100 characters"),
    ({"name": "gateway", "scopes": []}, "Choose scopes from"),
    ({"name": "gateway", "scopes": ["authorize", "root"]}, "Choose scopes from"),
])
def test_bad_tokens_are_refused_at_the_field(admin, data, message):
    response = post(admin, "/admin/tokens", data, "/admin/tokens")
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert count(ServiceToken) == 0


def test_unknown_token_is_404(admin):
    assert post(admin, "/admin/tokens/12345/revoke", {"confirm": "y"}, "/admin/tokens").status_code == 404


def test_change_the_text_goes_back_to_the_form_with_what_was_typed(admin):
    publish_bundled_rules()
    db.session.commit()
    text = rules_text(" Back to edit.")
    response = post(admin, "/admin/rules/edit", {"kind": API_USAGE, "version": "2027-01", "text": text}, "/admin/rules")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Back to edit." in page and 'value="2027-01"' in page
    assert count(RuleVersion) == 2


def test_a_pending_admin_grant_can_be_cancelled(admin):
    invite(admin, email="sam@exchange.example", roles=["admin", "compliance"], name="Sam Admin")
    grant = db.session.scalar(select(AdminGrant))
    response = post(admin, f"/admin/admin-grants/{grant.id}/cancel", {"confirm": "y"}, "/admin/staff")
    assert "is cancelled" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.get(AdminGrant, grant.id).outcome == "cancelled"
    assert find_user_by_email("sam@exchange.example").role_names == ["compliance"]


def test_a_new_rules_version_can_start_from_the_current_text(admin):
    publish_bundled_rules()
    db.session.commit()
    page = admin.get("/admin/rules?kind=api-usage").get_data(as_text=True)
    assert "Write a new version, starting from the current text" in page
    first_line = current_rules(API_USAGE).text.strip().splitlines()[0]
    assert html.escape(first_line, quote=False) in page.split('id="publish"', 1)[1]
