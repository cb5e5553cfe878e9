"""Cross-cutting security: password hashing, field encryption, signed tokens, response
headers, role checks and the object-level access check."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, abort, current_app, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from .config import signing_keys
from .errors import error_page
from .keyring import KeyRing

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

# argon2id with the library's current (RFC 9106 low-memory) parameters.
_hasher = PasswordHasher()
# Used to spend the same time when an account does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("timing-equaliser-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-effort verification; False for a missing hash as well as a wrong password."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """A sentence saying what is wrong with a new password, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    if len(set(password)) < 5:
        return "This password repeats too few characters; choose a longer mix or a passphrase."
    lowered = password.lower()
    local_part = email.split("@", 1)[0].lower()
    if local_part and len(local_part) >= 4 and local_part in lowered:
        return "Do not use your e-mail address in your password."
    if lowered in _COMMON_PASSWORDS:
        return "This password is too common; choose another."
    return None


_COMMON_PASSWORDS = frozenset(
    {
        "password1234", "123456789012", "qwertyuiop12", "passwordpassword", "administrator",
        "letmeinletmein", "iloveyou1234", "welcome12345", "changeme1234", "password123!",
    }
)


# ---------------------------------------------------------------------------
# Field encryption (TOTP secrets now; documents and HMAC secrets later).


def init_keyring(app: Flask) -> None:
    """Parse the keys at start-up, so a bad ENCRYPTION_KEYS stops the app before it serves."""
    app.extensions["keyring"] = KeyRing(app.config["ENCRYPTION_KEYS"], app.config["ENCRYPTION_KEY_ID"])


def keyring() -> KeyRing:
    return current_app.extensions["keyring"]


# ---------------------------------------------------------------------------
# Signed, expiring tokens for e-mail links.


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    # Signed with SECRET_KEY; links signed with a key in SECRET_KEY_FALLBACKS still open (a rotation
    # does not break a reset link already in someone's inbox).
    return URLSafeTimedSerializer(signing_keys(current_app.config), salt=f"onboarding.{purpose}")


def make_token(purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(payload)


class TokenError(ValueError):
    """A link token is expired or not genuine; the message is fit to show."""


def read_token(purpose: str, token: str, max_age_seconds: int) -> dict[str, Any]:
    try:
        return _serializer(purpose).loads(token, max_age=max_age_seconds)
    except SignatureExpired as exc:
        raise TokenError("This link has expired. Ask for a new one below.") from exc
    except BadSignature as exc:
        raise TokenError("This link is not valid. Check that you copied all of it, or ask for a new one.") from exc


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# ---------------------------------------------------------------------------
# Response headers.

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


NUL = "\x00"
MACHINE_API_PREFIX = "/api/"


def _carries_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    return False


def register_input_guard(app: Flask) -> None:
    """No form field takes a NUL character, and PostgreSQL cannot store one in text: refuse the request
    whole (400, nothing saved) instead of failing on the first column that would hold it."""

    @app.before_request
    def refuse_nul_characters():
        if request.path.startswith(MACHINE_API_PREFIX):  # the JSON API validates its own bodies against its schema
            return None
        fields = [*request.args.items(multi=True), *request.form.items(multi=True)]
        if any(_carries_nul(k) or _carries_nul(v) for k, v in fields):
            return error_page(400, "The request contains a NUL character (an invisible control character), "
                                   "which no field accepts. Remove it and send the form again.")
        return None


def register_security_headers(app: Flask) -> None:
    defaults = [("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("X-Frame-Options", "DENY"),
                ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"),
                ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
                ("Cross-Origin-Opener-Policy", "same-origin")]
    if app.config.get("SESSION_COOKIE_SECURE"):
        defaults.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
    no_store = ("Cache-Control", "no-store")

    @app.after_request
    def add_security_headers(response):
        # One pass over the headers already set (a view may set its own), not one search per default: this
        # runs on every authorize call too.
        headers = response.headers
        present = {name.lower() for name in headers.keys()}
        wanted = defaults if request.endpoint == "static" else [*defaults, no_store]  # pages hold personal data
        headers.extend([(name, value) for name, value in wanted if name.lower() not in present])
        return response


class MachineApiSessions(SecureCookieSessionInterface):
    """The browser's signed-cookie session, except under the machine API: JSON callers authenticate with
    a service token on every call, so a cookie is neither read there (no ambient authority from a
    browser's cookie) nor written, and the per-request cost of verifying one is not paid on every
    authorize call."""

    def open_session(self, app: Flask, request_):
        if request_.path.startswith(MACHINE_API_PREFIX):
            return self.session_class()
        return super().open_session(app, request_)

    def save_session(self, app: Flask, session, response) -> None:
        if request.path.startswith(MACHINE_API_PREFIX):
            return
        super().save_session(app, session, response)


def register_machine_api_sessions(app: Flask) -> None:
    app.session_interface = MachineApiSessions()


# ---------------------------------------------------------------------------
# Access control.

F = TypeVar("F", bound=Callable[..., Any])


def applicant_required(view: F) -> F:
    """Only a logged-in applicant (institution user) may use this view."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()
        if not current_user.is_applicant:
            abort(403)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def roles_required(*roles: str) -> Callable[[F], F]:
    """Staff holding at least one of `roles` (or any staff role when none is named)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not current_user.is_staff:
                abort(403)
            if roles and not current_user.has_any_role(roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def require_institution_access(institution_id: int | None, *, staff_roles: Iterable[str] = ()) -> None:
    """The one object-level check: an applicant reaches only their own institution's records;
    staff reach any (optionally only with one of `staff_roles`). 404, not 403, for applicants,
    so the existence of other institutions' records is not revealed."""
    if not current_user.is_authenticated:
        abort(401)
    if current_user.is_staff:
        if staff_roles and not current_user.has_any_role(staff_roles):
            abort(403)
        return
    if institution_id is None or current_user.institution_id != institution_id:
        abort(404)


def client_ip() -> str:
    """The caller's address; proxies are trusted only as configured (ProxyFix in create_app)."""
    return request.remote_addr or "unknown"
