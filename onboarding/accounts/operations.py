"""Account use cases: registration, e-mail verification, sign-in with throttling, password
reset, staff accounts and TOTP. Operations flush and audit; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import timedelta

import pyotp
from flask import current_app
from sqlalchemy import func, select

from ..audit.operations import record
from ..db import db, utcnow
from ..errors import OperationRefused
from ..institutions.operations import register_institution
from ..jobs import request_job
from ..notifications.models import EmailMessage
from ..notifications.operations import queue_email
from ..security import (
    hash_password,
    keyring,
    make_token,
    password_needs_rehash,
    password_problem,
    read_token,
    verify_password,
)
from ..templating import external_url
from .models import APPLICANT, STAFF, STAFF_ROLES, LoginAttempt, RecoveryCode, StaffRole, User

RECOVERY_CODE_COUNT = 10
TOTP_ISSUER = "Exchange Institutional Onboarding"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def _check_new_password(password: str, email: str, name: str = "") -> None:
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise OperationRefused(problem, field="password")


# ---------------------------------------------------------------------------
# Registration and e-mail verification.


def register_applicant(
    *, email: str, password: str, full_name: str, legal_name: str, ip: str, send_verification: bool = True
) -> User:
    email = normalise_email(email)
    if find_user_by_email(email) is not None:
        raise OperationRefused(
            "An account with this e-mail address already exists. Sign in, or reset your password.",
            field="email",
        )
    _check_new_password(password, email, full_name)
    institution = register_institution(legal_name.strip(), signup_ip=ip)
    user = User(
        email=email,
        full_name=full_name.strip(),
        password_hash=hash_password(password),
        kind=APPLICANT,
        institution=institution,
    )
    db.session.add(user)
    db.session.flush()
    record("user.registered", "user", user.id, {"email": email, "institution_id": institution.id},
           actor_id=user.id, actor_label=email)
    if send_verification:
        send_verification_email(user)
    return user


def sign_up(*, email: str, password: str, full_name: str, legal_name: str, ip: str) -> User | None:
    """The public sign-up form. Its answer must not tell whether the address already has an account: a
    new address gets an account and a confirmation link; a known one gets nothing new, and its owner is
    told by e-mail that someone tried (so the owner, and only the owner, learns it). The password is
    checked and hashed either way, so both answers cost the same. Returns the new user, or None."""
    email = normalise_email(email)
    _check_new_password(password, email, full_name)
    existing = find_user_by_email(email)
    if existing is None:
        return register_applicant(email=email, password=password, full_name=full_name, legal_name=legal_name,
                                  ip=ip)
    hash_password(password)  # the work a new account costs, thrown away
    if _recent_emails(existing.email, "account_exists") < current_app.config["RESET_EMAILS_PER_HOUR"]:
        queue_email(existing.email, "account_exists", "Someone tried to register with your e-mail address",
                    name=existing.full_name, login_link=external_url("accounts.login", email=existing.email),
                    reset_link=external_url("accounts.forgot_password"))
    record("user.registration_repeated", "user", existing.id, {"ip": ip})
    return None


def _recent_emails(address: str, template: str) -> int:
    """E-mails of one kind queued to one address in the last hour: what the per-address limits count."""
    since = utcnow() - timedelta(hours=1)
    return db.session.scalar(
        select(func.count()).select_from(EmailMessage).where(
            EmailMessage.to_address == address, EmailMessage.template == template, EmailMessage.created_at >= since)
    )


def send_verification_email(user: User) -> None:
    token = make_token("verify-email", {"uid": user.id, "email": user.email})
    link = external_url("accounts.verify_email", token=token)
    queue_email(
        user.email, "verify_email", "Confirm your e-mail address",
        name=user.full_name, link=link, hours=current_app.config["EMAIL_TOKEN_MAX_AGE_HOURS"],
    )


def verify_email(token: str) -> User:
    payload = read_token("verify-email", token, current_app.config["EMAIL_TOKEN_MAX_AGE_HOURS"] * 3600)
    user = db.session.get(User, payload.get("uid"))
    if user is None or user.email != payload.get("email"):
        raise OperationRefused("This link is not valid any more. Sign in to ask for a new one.")
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        record("user.email_verified", "user", user.id, {"email": user.email}, actor_id=user.id,
               actor_label=user.email)
    return user


# ---------------------------------------------------------------------------
# Sign-in throttling.


def throttle_message(email: str, ip: str) -> str | None:
    """Why sign-in is refused right now, or None. Counts failures in a sliding window."""
    config = current_app.config
    window_start = utcnow() - timedelta(minutes=config["LOGIN_THROTTLE_MINUTES"])
    failures = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.succeeded.is_(False), LoginAttempt.at >= window_start
    )
    per_account = db.session.scalar(failures.where(LoginAttempt.email == normalise_email(email)))
    if per_account >= config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]:
        return (
            f"Too many failed sign-in attempts for this account. Wait {config['LOGIN_THROTTLE_MINUTES']} "
            "minutes and try again, or reset your password."
        )
    per_ip = db.session.scalar(failures.where(LoginAttempt.ip == ip))
    if per_ip >= config["LOGIN_MAX_FAILURES_PER_IP"]:
        return (
            f"Too many failed sign-in attempts from your network. Wait {config['LOGIN_THROTTLE_MINUTES']} "
            "minutes and try again."
        )
    return None


def note_attempt(email: str, ip: str, succeeded: bool) -> None:
    db.session.add(LoginAttempt(email=normalise_email(email), ip=ip, succeeded=succeeded))
    db.session.flush()


def check_password_step(email: str, password: str, ip: str) -> User:
    """First sign-in step. Raises OperationRefused with a message that does not reveal whether
    the account exists. A failure is recorded by the caller after rollback-safe commit."""
    blocked = throttle_message(email, ip)
    if blocked:
        raise OperationRefused(blocked)
    user = find_user_by_email(email)
    if not verify_password(user.password_hash if user else None, password) or user is None or not user.is_active:
        note_attempt(email, ip, succeeded=False)
        record("user.login_failed", "user", user.id if user else "-", {"email": normalise_email(email)})
        raise OperationRefused("The e-mail address or password is not right.")
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def complete_login(user: User, ip: str) -> None:
    note_attempt(user.email, ip, succeeded=True)
    user.previous_login_at = user.last_login_at
    user.last_login_at = utcnow()
    record("user.logged_in", "user", user.id, {}, actor_id=user.id, actor_label=user.email)


# ---------------------------------------------------------------------------
# Password reset.


def _password_fingerprint(user: User) -> str:
    # A token is only good while the password it was issued against is unchanged: single use.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def request_password_reset(email: str) -> None:
    """The forgot-password form: the same work whatever the address (one job in the outbox, no look-up), so
    neither the answer nor the time it takes tells whether an account exists. The job decides."""
    request_job("accounts.send_password_reset", email=normalise_email(email))


def send_password_reset(email: str) -> None:
    """Run by the job: send a reset link when the account exists and is active, at most
    RESET_EMAILS_PER_HOUR to one address (more requests are answered the same but send nothing)."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return
    if _recent_emails(user.email, "reset_password") >= current_app.config["RESET_EMAILS_PER_HOUR"]:
        record("user.password_reset_limited", "user", user.id, {})
        return
    token = make_token("reset-password", {"uid": user.id, "fp": _password_fingerprint(user)})
    link = external_url("accounts.reset_password", token=token)
    queue_email(
        user.email, "reset_password", "Reset your password",
        name=user.full_name, link=link, minutes=current_app.config["RESET_TOKEN_MAX_AGE_MINUTES"],
    )
    record("user.password_reset_requested", "user", user.id, {})


def user_for_reset_token(token: str) -> User:
    payload = read_token("reset-password", token, current_app.config["RESET_TOKEN_MAX_AGE_MINUTES"] * 60)
    user = db.session.get(User, payload.get("uid"))
    if user is None or _password_fingerprint(user) != payload.get("fp"):
        raise OperationRefused("This link has already been used. Ask for a new one below.")
    return user


def reset_password(token: str, new_password: str) -> User:
    user = user_for_reset_token(token)
    _check_new_password(new_password, user.email, user.full_name)
    user.password_hash = hash_password(new_password)
    end_sessions(user, "password reset")
    # Whoever can read the mailbox has proven control of the address.
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    record("user.password_reset", "user", user.id, {}, actor_id=user.id, actor_label=user.email)
    return user


# ---------------------------------------------------------------------------
# Ending sessions server-side. The session cookie carries the user's session version (User.get_id), and
# every request loads the user only while that version is current: bumping it ends every session of the
# user at once, including a cookie copied elsewhere.


def end_sessions(user: User, why: str) -> None:
    """Every session of `user` stops working at its next request. `why` names the cause in the audit log."""
    user.session_version += 1
    record("user.sessions_ended", "user", user.id, {"why": why})


def sign_out(user: User) -> None:
    end_sessions(user, "signed out")


def change_password(user: User, current_password: str, new_password: str) -> None:
    """A signed-in user's own change: the current password proves it is them. Other sessions end; the
    caller renews the current one."""
    if not verify_password(user.password_hash, current_password):
        raise OperationRefused("That is not your current password.", field="current_password")
    if verify_password(user.password_hash, new_password):
        raise OperationRefused("Choose a password different from the current one.", field="password")
    _check_new_password(new_password, user.email, user.full_name)
    user.password_hash = hash_password(new_password)
    record("user.password_changed", "user", user.id, {})
    end_sessions(user, "password changed")


# ---------------------------------------------------------------------------
# Staff accounts and TOTP.


def create_staff(*, email: str, full_name: str, password: str, roles: Iterable[str]) -> User:
    email = normalise_email(email)
    roles = sorted(set(roles))
    unknown = [r for r in roles if r not in STAFF_ROLES]
    if unknown or not roles:
        raise OperationRefused(
            (f"{'Unknown role' if len(unknown) == 1 else 'Unknown roles'} {', '.join(unknown)}" if unknown
             else "No role given") + f"; choose from {', '.join(STAFF_ROLES)}.",
            field="role",
        )
    if find_user_by_email(email) is not None:
        raise OperationRefused("An account with this e-mail address already exists.", field="email")
    _check_new_password(password, email, full_name)
    user = User(
        email=email, full_name=full_name, password_hash=hash_password(password), kind=STAFF,
        email_verified_at=utcnow(),
    )
    user.roles = [StaffRole(role=r) for r in roles]
    db.session.add(user)
    db.session.flush()
    record("staff.created", "user", user.id, {"email": email, "roles": roles})
    return user


def totp_associated_data(user_id: int) -> bytes:
    # Binds the sealed secret to its user: copied onto another row it will not open.
    return f"totp:{user_id}".encode()


def totp_secret(user: User) -> str | None:
    if not user.totp_secret_sealed:
        return None
    return keyring().open(user.totp_secret_sealed, totp_associated_data(user.id)).decode()


def set_totp_secret(user: User, secret: str) -> None:
    user.totp_secret_sealed = keyring().seal(secret.encode(), totp_associated_data(user.id))


def begin_totp_enrolment(user: User) -> str:
    """A fresh secret for a user who has not finished enrolling; kept until confirmed."""
    if user.mfa_enrolled:
        raise OperationRefused("Two-factor authentication is already set up for this account.")
    secret = totp_secret(user)
    if secret is None:
        secret = pyotp.random_base32()
        set_totp_secret(user, secret)
    return secret


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def _accept_totp(user: User, code: str) -> bool:
    secret = totp_secret(user)
    if secret is None:
        return False
    totp = pyotp.TOTP(secret)
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return False
    now_step = totp.timecode(utcnow())
    for step in (now_step - 1, now_step, now_step + 1):  # one step of clock drift either way
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # replayed
            user.totp_last_step = step
            return True
    return False


def confirm_totp_enrolment(user: User, code: str) -> list[str]:
    """Finish enrolment with a first valid code; returns recovery codes to show once."""
    if not _accept_totp(user, code):
        raise OperationRefused("That code is not right. Enter the 6-digit code your app shows now.", field="code")
    user.totp_enrolled_at = utcnow()
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODE_COUNT)]
    db.session.execute(RecoveryCode.__table__.delete().where(RecoveryCode.user_id == user.id))
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=hash_password(c)) for c in codes)
    record("staff.mfa_enrolled", "user", user.id, {}, actor_id=user.id, actor_label=user.email)
    return codes


def check_second_factor(user: User, code: str, ip: str) -> None:
    """Second sign-in step: a current TOTP code or an unused recovery code."""
    blocked = throttle_message(user.email, ip)
    if blocked:
        raise OperationRefused(blocked)
    if _accept_totp(user, code):
        return
    candidate = code.strip().lower()
    if "-" in candidate and len(candidate) == 13:
        unused = db.session.scalars(
            select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        ).all()
        for recovery in unused:
            if verify_password(recovery.code_hash, candidate):
                recovery.used_at = utcnow()
                record("staff.recovery_code_used", "user", user.id, {"remaining": len(unused) - 1},
                       actor_id=user.id, actor_label=user.email)
                return
    note_attempt(user.email, ip, succeeded=False)
    record("user.mfa_failed", "user", user.id, {}, actor_id=user.id, actor_label=user.email)
    raise OperationRefused("That code is not right. Enter the 6-digit code your app shows now.", field="code")
