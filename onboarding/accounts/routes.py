"""Sign-up, sign-in (with staff TOTP), e-mail verification, password reset, sign-out."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import segno
from flask import Blueprint, flash, has_request_context, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..db import db
from ..errors import OperationRefused
from ..extensions import login_manager
from ..security import TokenError, client_ip
from . import operations as ops
from . import staff
from .forms import (
    AcceptInvitationForm,
    ChangePasswordForm,
    CodeForm,
    EndOtherSessionsForm,
    EnrolForm,
    ForgotPasswordForm,
    LoginForm,
    LogoutForm,
    RegisterForm,
    ResendVerificationForm,
    ResetPasswordForm,
)
from .models import User

bp = Blueprint("accounts", __name__)

# How long a password-checked staff member has to enter their code.
MFA_PENDING_SECONDS = 600


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.is_active or str(user.session_version) != version:
        return None
    return user


def _field_error(form, error: OperationRefused) -> None:
    """Put an operation's refusal next to its field, or at the top of the form."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _start_session(user: User) -> None:
    """Renew the session at sign-in: nothing from before it survives (no fixation)."""
    next_url = session.get("next_url")
    session.clear()
    login_user(user)
    session.permanent = False
    if next_url:
        session["next_url"] = next_url


@bp.route("/register", methods=["GET", "POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            ops.sign_up(
                email=form.email.data, password=form.password.data, full_name=form.full_name.data,
                legal_name=form.legal_name.data, ip=client_ip(),
            )
        except OperationRefused as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            # The same answer whether the address was new or not (no account enumeration).
            db.session.commit()
            session["registered_email"] = ops.normalise_email(form.email.data)
            return redirect(url_for("accounts.check_inbox"))
    return render_template("accounts/register.html", form=form)


@bp.route("/register/check-inbox")
def check_inbox():
    return render_template("accounts/check_inbox.html", email=session.get("registered_email"))


@bp.route("/verify-email/<token>")
def verify_email(token: str):
    try:
        user = ops.verify_email(token)
    except (TokenError, OperationRefused) as error:
        db.session.rollback()
        return render_template("accounts/link_problem.html", message=str(error.args[0]),
                               title="We could not confirm your e-mail address"), 400
    db.session.commit()
    if current_user.is_authenticated and current_user.id == user.id:
        flash("Your e-mail address is confirmed.", "success")
        return redirect(url_for("home.index"))
    flash("Your e-mail address is confirmed. Sign in to continue.", "success")
    return redirect(url_for("accounts.login", email=user.email))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if request.method == "GET":
        form.email.data = request.args.get("email", "")
        if _safe_next(request.args.get("next")):
            session["next_url"] = request.args["next"]
    resend_form = None
    if form.validate_on_submit():
        ip = client_ip()
        try:
            user = ops.check_password_step(form.email.data, form.password.data, ip)
        except OperationRefused as error:
            db.session.commit()  # keep the failed attempt: it is what throttling counts
            _field_error(form, error)
            return render_template("accounts/login.html", form=form), 200
        if user.is_applicant and user.email_verified_at is None:
            db.session.commit()
            session["unverified_uid"] = user.id
            form.form_errors.append(
                "Confirm your e-mail address first: open the link we sent you. "
                "No e-mail? Send it again below."
            )
            resend_form = ResendVerificationForm()
            return render_template("accounts/login.html", form=form, resend_form=resend_form)
        if user.is_staff:
            db.session.commit()
            next_url = session.get("next_url")
            session.clear()
            session["mfa_uid"] = user.id
            session["mfa_version"] = user.session_version
            session["mfa_started"] = int(time.time())
            if next_url:
                session["next_url"] = next_url
            if not user.mfa_enrolled:
                return redirect(url_for("accounts.enrol_mfa"))
            return redirect(url_for("accounts.second_factor"))
        ops.complete_login(user, ip)
        db.session.commit()
        _start_session(user)
        return redirect(_safe_next(session.pop("next_url", None)) or url_for("home.index"))
    return render_template("accounts/login.html", form=form, resend_form=resend_form)


@bp.route("/login/resend-verification", methods=["POST"])
def resend_verification():
    form = ResendVerificationForm()
    user_id = session.pop("unverified_uid", None)
    if form.validate_on_submit() and user_id:
        user = db.session.get(User, user_id)
        if user is not None and user.email_verified_at is None:
            ops.send_verification_email(user)
            db.session.commit()
            session["registered_email"] = user.email
            return redirect(url_for("accounts.check_inbox"))
    flash("Sign in again to ask for a new confirmation link.", "info")
    return redirect(url_for("accounts.login"))


def _pending_staff() -> User | None:
    """The staff member who passed the password step in this session, if still in time."""
    user_id = session.get("mfa_uid")
    if not user_id or time.time() - session.get("mfa_started", 0) > MFA_PENDING_SECONDS:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != session.get("mfa_version"):
        return None
    return user


def _finish_staff_login(user: User):
    ops.complete_login(user, client_ip())
    db.session.commit()
    _start_session(user)
    return redirect(_safe_next(session.pop("next_url", None)) or url_for("home.index"))


def _after_enrolment(user: User, codes: list[str]):
    ops.complete_login(user, client_ip())
    db.session.commit()
    _start_session(user)
    session["recovery_codes"] = codes  # shown once, on the next page, then gone
    return redirect(url_for("accounts.recovery_codes"))


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    user = _pending_staff()
    if user is None:
        flash("Your sign-in timed out. Enter your e-mail address and password again.", "info")
        return redirect(url_for("accounts.login"))
    if not user.mfa_enrolled:
        return redirect(url_for("accounts.enrol_mfa"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            ops.check_second_factor(user, form.code.data, client_ip())
        except OperationRefused as error:
            db.session.commit()  # the failed attempt counts towards throttling
            _field_error(form, error)
            form.code.data = ""
        else:
            return _finish_staff_login(user)
    return render_template("accounts/second_factor.html", form=form, user=user)


def _qr_data_uri(uri: str) -> str:
    # A standalone SVG document (with its xmlns), as an image needs; inline markup would not render.
    return segno.make(uri, error="m").svg_data_uri(scale=5, dark="#0b1f33", light="#ffffff")


@bp.route("/login/set-up-two-factor", methods=["GET", "POST"])
def enrol_mfa():
    user = _pending_staff()
    if user is None:
        flash("Your sign-in timed out. Enter your e-mail address and password again.", "info")
        return redirect(url_for("accounts.login"))
    if user.mfa_enrolled:
        return redirect(url_for("accounts.second_factor"))
    secret = ops.begin_totp_enrolment(user)
    db.session.commit()
    form = EnrolForm()
    if form.validate_on_submit():
        try:
            codes = ops.confirm_totp_enrolment(user, form.code.data)
        except OperationRefused as error:
            db.session.rollback()
            _field_error(form, error)
            form.code.data = ""
        else:
            return _after_enrolment(user, codes)
    uri = ops.provisioning_uri(user, secret)
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template("accounts/enrol_mfa.html", form=form, qr=_qr_data_uri(uri), secret=spaced, user=user)


@bp.route("/account/recovery-codes")
@login_required
def recovery_codes():
    codes = session.pop("recovery_codes", None)
    if not codes:
        return redirect(url_for("home.index"))
    return render_template("accounts/recovery_codes.html", codes=codes)


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        ops.request_password_reset(form.email.data)
        db.session.commit()
        return render_template("accounts/reset_sent.html", email=ops.normalise_email(form.email.data))
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        user = ops.user_for_reset_token(token)
    except (TokenError, OperationRefused) as error:
        return render_template("accounts/link_problem.html", message=str(error.args[0]),
                               title="This password reset link cannot be used", reset=True), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            ops.reset_password(token, form.password.data)
        except OperationRefused as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash("Your password has been changed. Sign in with the new one.", "success")
            return redirect(url_for("accounts.login", email=user.email))
    return render_template("accounts/reset_password.html", form=form, email=user.email)


@bp.route("/logout", methods=["POST"])
def logout():
    form = LogoutForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        # Server-side: a copy of this session's cookie stops working too (and so do the user's other sessions).
        ops.sign_out(current_user)
        db.session.commit()
        logout_user()
    session.clear()
    flash("You have signed out.", "info")
    return redirect(url_for("accounts.login"))


def _account_page(password_form=None, sessions_form=None, status=200):
    return render_template("accounts/account.html", password_form=password_form or ChangePasswordForm(formdata=None),
                           sessions_form=sessions_form or EndOtherSessionsForm(formdata=None)), status


def _renew_own_session(user: User) -> None:
    """After the session version moved on: this session carries the new one, every other is ended."""
    db.session.commit()
    _start_session(user)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    """An invited staff member chooses a password, then enrols TOTP (the same pages as a first sign-in)."""
    try:
        invitation = staff.invitation_for_token(token)
    except OperationRefused as error:
        return render_template("accounts/link_problem.html", message=error.message,
                               title="This invitation cannot be used"), 400
    form = AcceptInvitationForm()
    if form.validate_on_submit():
        try:
            user = staff.accept_invitation(token, form.password.data)
        except OperationRefused as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            # The password step is done: the second step is TOTP enrolment, as at a first sign-in.
            session["mfa_uid"] = user.id
            session["mfa_version"] = user.session_version
            session["mfa_started"] = int(time.time())
            return redirect(url_for("accounts.enrol_mfa"))
    return render_template("accounts/accept_invitation.html", form=form, user=invitation.user,
                           expires_at=invitation.expires_at)


@bp.route("/account")
@login_required
def account():
    return _account_page()


@bp.route("/account/password", methods=["POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            ops.change_password(user, form.current_password.data, form.password.data)
        except OperationRefused as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            _renew_own_session(user)
            flash("Your password has been changed. Every other session of yours has been signed out.", "success")
            return redirect(url_for("accounts.account"))
    return _account_page(password_form=form, status=400)


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():
    form = EndOtherSessionsForm()
    if not form.validate_on_submit():
        return _account_page(sessions_form=form, status=400)
    user = current_user._get_current_object()
    ops.end_sessions(user, "signed out other sessions")
    _renew_own_session(user)
    flash("Every other session of yours has been signed out. This one stays signed in.", "success")
    return redirect(url_for("accounts.account"))


@bp.app_context_processor
def inject_logout_form():
    # Also offered half-way through a staff sign-in, to cancel it.
    if not has_request_context():  # e-mails are rendered by jobs, outside any request
        return {}
    signed_in = current_user and current_user.is_authenticated
    # formdata=None: never read the request body here (an over-large upload must still get its 413 page).
    return {"logout_form": LogoutForm(formdata=None)} if signed_in or session.get("mfa_uid") else {}

