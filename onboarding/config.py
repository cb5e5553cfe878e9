"""Configuration: read from environment variables, with development defaults.

Outside development and tests the application refuses to start on a development
secret, so a forgotten variable fails loudly instead of running insecurely.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError
from .keyring import KeyRing

__all__ = ["ConfigError", "build", "check"]

# Well-known development values. They are public (they live in this file), which is
# exactly why production refuses them.
DEV_SECRET_KEY = "dev-secret-key-not-for-production"  # noqa: S105
# base64 of 32 bytes; the id before the colon lets keys rotate (see documents storage).
DEV_ENCRYPTION_KEYS = "dev1:ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM="

ENVIRONMENTS = ("development", "testing", "production")


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _networks(name: str, default: str) -> list[str]:
    entries = [e.strip() for e in os.environ.get(name, default).split(",") if e.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise ConfigError(f"{name}: {entry!r} is not an IP address or CIDR range") from exc
    return entries


def _scope_rules(text: str) -> tuple[tuple[str, str, str], ...] | None:
    """'POST /api/v3/order=spot:trade; GET /api/v3/*=market:read' → [(method, path pattern, scope)]."""
    if not text.strip():
        return None
    rules = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        route, _, scope = item.rpartition("=")
        method, _, path = route.strip().partition(" ")
        if not scope.strip() or not method or not path.strip().startswith("/"):
            raise ConfigError("AUTHORIZE_SCOPE_RULES must look like 'POST /api/v3/order=spot:trade; "
                              f"GET /api/v3/*=market:read', got {item!r}")
        rules.append((method.upper(), path.strip(), scope.strip()))
    return tuple(rules)  # hashable: the authorize decision caches what it derives from the rules


def _deadlines(text: str) -> dict[str, int]:
    """'low:5,medium:3,high:2' -> {'low': 5, 'medium': 3, 'high': 2}."""
    deadlines = {}
    for item in text.split(","):
        band, _, days = item.strip().partition(":")
        if band not in ("low", "medium", "high") or not days.strip().isdigit() or int(days) < 1:
            raise ConfigError(f"REVIEW_DEADLINE_DAYS must look like 'low:5,medium:3,high:2', got {text!r}")
        deadlines[band] = int(days)
    if set(deadlines) != {"low", "medium", "high"}:
        raise ConfigError("REVIEW_DEADLINE_DAYS must give a deadline for each of low, medium and high")
    return deadlines


def from_environment(env: str) -> dict[str, Any]:
    """Build the configuration mapping from the process environment, for environment `env`."""
    development = env in ("development", "testing")
    return {
        "APP_ENV": env,
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET_KEY),
        # Earlier SECRET_KEYs, comma-separated: what they signed (session cookies, CSRF tokens, e-mail
        # links, referral codes) is still accepted, so rotating SECRET_KEY signs nobody out.
        "SECRET_KEY_FALLBACKS": [key.strip() for key in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",")
                                 if key.strip()],
        # Signs referral codes, which are printed and handed out for years; unset: SECRET_KEY. Set it to
        # the old SECRET_KEY when rotating that, and the codes in circulation stay the same.
        "REFERRAL_KEY": os.environ.get("REFERRAL_KEY", ""),
        "ENCRYPTION_KEYS": os.environ.get("ENCRYPTION_KEYS", DEV_ENCRYPTION_KEYS),
        "ENCRYPTION_KEY_ID": os.environ.get("ENCRYPTION_KEY_ID", ""),
        "DATABASE_URL": os.environ.get("DATABASE_URL", ""),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "JOBS_EAGER": _bool(os.environ.get("JOBS_EAGER")),
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "onboarding"),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        "MAIL_BACKEND": os.environ.get("MAIL_BACKEND", "console" if development else "smtp"),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "Institutional Onboarding <onboarding@exchange.example>"),
        "SMTP_HOST": os.environ.get("SMTP_HOST", "localhost"),
        "SMTP_PORT": _int("SMTP_PORT", 25),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _bool(os.environ.get("SMTP_STARTTLS")),
        "SMTP_TIMEOUT": _int("SMTP_TIMEOUT", 20),
        "SESSION_COOKIE_SECURE": _bool(os.environ.get("SESSION_COOKIE_SECURE"), default=not development),
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": _int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5),
        "LOGIN_MAX_FAILURES_PER_IP": _int("LOGIN_MAX_FAILURES_PER_IP", 20),
        "LOGIN_THROTTLE_MINUTES": _int("LOGIN_THROTTLE_MINUTES", 15),
        "EMAIL_TOKEN_MAX_AGE_HOURS": _int("EMAIL_TOKEN_MAX_AGE_HOURS", 48),
        "RESET_TOKEN_MAX_AGE_MINUTES": _int("RESET_TOKEN_MAX_AGE_MINUTES", 60),
        # How long a staff invitation link works (the README always documented it; now it is read).
        "STAFF_INVITATION_DAYS": _int("STAFF_INVITATION_DAYS", 7),
        # Reset e-mails (and "someone tried to register" notices) sent to one address per hour; more requests
        # are answered the same way but send nothing.
        "RESET_EMAILS_PER_HOUR": _int("RESET_EMAILS_PER_HOUR", 3),
        "OUTBOX_MAX_ATTEMPTS": _int("OUTBOX_MAX_ATTEMPTS", 8),
        "OUTBOX_SWEEP_SECONDS": _int("OUTBOX_SWEEP_SECONDS", 30),
        "OUTBOX_LEASE_SECONDS": _int("OUTBOX_LEASE_SECONDS", 600),
        "TRUST_PROXY_HOPS": _int("TRUST_PROXY_HOPS", 0),
        "DOCUMENTS_DIR": os.environ.get("DOCUMENTS_DIR", ""),
        "MAX_DOCUMENT_BYTES": _int("MAX_DOCUMENT_MB", 20) * 1024 * 1024,
        "MAX_DOCUMENTS_PER_APPLICATION": _int("MAX_DOCUMENTS_PER_APPLICATION", 60),
        "BENEFICIAL_OWNER_THRESHOLD": _int("BENEFICIAL_OWNER_THRESHOLD", 25),
        "REAPPLY_COOL_OFF_DAYS": _int("REAPPLY_COOL_OFF_DAYS", 90),
        "CLAMD_SOCKET": os.environ.get("CLAMD_SOCKET", ""),
        "CLAMD_HOST": os.environ.get("CLAMD_HOST", ""),
        "CLAMD_PORT": _int("CLAMD_PORT", 3310),
        "CHECKS_PAUSE_SECONDS": float(os.environ.get("CHECKS_PAUSE_SECONDS", "0")),
        "SCREENING_THRESHOLD": float(os.environ.get("SCREENING_THRESHOLD", "0.70")),
        # Whether a shared loopback or private address (everyone behind one office NAT, every local test
        # applicant on 127.0.0.1) counts as a linked-applicant signal. Off: it says nothing about the firm.
        "LINKED_PRIVATE_IP_SIGNALS": _bool(os.environ.get("LINKED_PRIVATE_IP_SIGNALS")),
        # The official sanctions-list addresses `flask --app app sanctions refresh` downloads. OFAC: the
        # folder holding sdn.csv, add.csv, alt.csv and sdn_comments.csv. No FtM default: OpenSanctions
        # data needs a licence for commercial use; set the export URL your licence covers.
        "SANCTIONS_OFAC_SDN_URL": os.environ.get("SANCTIONS_OFAC_SDN_URL", "https://www.treasury.gov/ofac/downloads/"),
        "SANCTIONS_UN_XML_URL": os.environ.get(
            "SANCTIONS_UN_XML_URL", "https://scsanctions.un.org/resources/xml/en/consolidated.xml"),
        "SANCTIONS_FTM_URL": os.environ.get("SANCTIONS_FTM_URL", ""),
        # The worker refreshes the lists this often (hours; 0: never). Off by default outside production,
        # so a development worker or a test never downloads from the real addresses.
        "SANCTIONS_REFRESH_HOURS": float(os.environ.get("SANCTIONS_REFRESH_HOURS", "0" if development else "24")),
        "SANCTIONS_DOWNLOAD_TIMEOUT": _int("SANCTIONS_DOWNLOAD_TIMEOUT", 120),
        "SANCTIONS_MAX_DOWNLOAD_MB": _int("SANCTIONS_MAX_DOWNLOAD_MB", 1024),
        # Uploaded list files wait here for their import job (web and worker must share it).
        "SANCTIONS_DIR": os.environ.get("SANCTIONS_DIR", ""),
        # Review deadline per risk band, counted from when a case enters a review queue.
        "REVIEW_DEADLINE_DAYS": _deadlines(os.environ.get("REVIEW_DEADLINE_DAYS", "low:5,medium:3,high:2")),
        # The header that carries the API key in signed trading requests (MEXC's name; Binance: X-MBX-APIKEY).
        "API_KEY_HEADER": os.environ.get("API_KEY_HEADER", "X-MEXC-APIKEY").strip() or "X-MEXC-APIKEY",
        # Method + path → scope for the authorize API; unset means the built-in table (keys.authorize).
        "AUTHORIZE_SCOPE_RULES": _scope_rules(os.environ.get("AUTHORIZE_SCOPE_RULES", "")),
        # How long a process may reuse a key's row for authorize decisions (checked against Redis on every
        # request, so changes apply at once; this only bounds a copy a crashed writer failed to invalidate).
        # 0 reads the database on every request.
        "AUTHORIZE_COPY_SECONDS": _int("AUTHORIZE_COPY_SECONDS", 30),
        # Refusals are logged one by one; allowed decisions are counted per key and day, and the gateway's
        # access log names each one (decision id, institution, key). 1 logs every allowed decision here too.
        "AUTHORIZE_LOG_ALLOWED": _bool(os.environ.get("AUTHORIZE_LOG_ALLOWED")),
        # Who may scrape /metrics without a service token (addresses or CIDR ranges, comma-separated).
        "METRICS_ALLOWED_NETWORKS": _networks("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128"),
        "HIGH_RISK_JURISDICTIONS": [
            code.strip().upper() for code in os.environ.get(
                "HIGH_RISK_JURISDICTIONS", "KP,IR,MM,SY,CU,RU,BY,VE,AF,YE,SS,LY,SO,HT,ML,NI"
            ).split(",") if code.strip()
        ],
    }


def build(overrides: Mapping[str, Any] | None, instance_path: str) -> dict[str, Any]:
    """Environment, then overrides from `create_app(config=...)`, then derived values."""
    overrides = dict(overrides or {})
    env = str(overrides.get("APP_ENV") or os.environ.get("APP_ENV") or "production").strip().lower()
    if env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    config = from_environment(env)
    config.update(overrides)
    config["APP_ENV"] = env
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = "sqlite:///" + os.path.join(instance_path, "onboarding.db")
    if config["APP_ENV"] == "testing":
        config["TESTING"] = True
    if config["APP_ENV"] == "development":
        config.setdefault("TEMPLATES_AUTO_RELOAD", True)
    config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    config["SESSION_COOKIE_HTTPONLY"] = True
    config["SESSION_COOKIE_SAMESITE"] = "Lax"
    config["REMEMBER_COOKIE_HTTPONLY"] = True
    config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    config["REMEMBER_COOKIE_SECURE"] = config["SESSION_COOKIE_SECURE"]
    config["WTF_CSRF_TIME_LIMIT"] = None  # tied to the session instead of a clock
    # Flask-WTF signs with one key; itsdangerous takes a list (the last signs, all verify), so a form
    # opened before SECRET_KEY rotated still posts. Flask's session cookie reads SECRET_KEY_FALLBACKS itself.
    config["WTF_CSRF_SECRET_KEY"] = signing_keys(config)
    # A request may carry one document plus the form; per-file limits are checked while streaming,
    # so a too-large file gets a message at its field. Far larger requests are cut off here.
    config["MAX_CONTENT_LENGTH"] = config.get("MAX_CONTENT_LENGTH", config["MAX_DOCUMENT_BYTES"] + 5 * 1024 * 1024)
    # Uploads above this size are spooled to a temporary file, not kept in memory.
    config.setdefault("MAX_FORM_MEMORY_SIZE", 500_000)
    check(config)
    return config


def signing_keys(config: Mapping[str, Any]) -> list[str]:
    """Keys for itsdangerous, as Flask passes them for the session cookie: the fallbacks, then SECRET_KEY
    (the last key signs; every key verifies)."""
    return [*(config.get("SECRET_KEY_FALLBACKS") or []), config["SECRET_KEY"]]


def check(config: Mapping[str, Any]) -> None:
    """Refuse development secrets outside development and tests."""
    if config["APP_ENV"] in ("development", "testing"):
        return
    if config["SECRET_KEY"] == DEV_SECRET_KEY or len(config["SECRET_KEY"]) < 32:
        raise ConfigError(
            "SECRET_KEY is unset or is the development default. Set SECRET_KEY to a random value of "
            "at least 32 characters (for example: python -c 'import secrets; print(secrets.token_urlsafe(48))'), "
            "or set APP_ENV=development for local use."
        )
    for name, values in (("SECRET_KEY_FALLBACKS", config.get("SECRET_KEY_FALLBACKS") or []),
                         ("REFERRAL_KEY", [config["REFERRAL_KEY"]] if config.get("REFERRAL_KEY") else [])):
        if any(value == DEV_SECRET_KEY or len(value) < 32 for value in values):
            raise ConfigError(f"{name} holds the development secret or a value shorter than 32 characters.")
    dev_key = KeyRing(DEV_ENCRYPTION_KEYS).keys["dev1"]
    if dev_key in KeyRing(config["ENCRYPTION_KEYS"], config.get("ENCRYPTION_KEY_ID", "")).keys.values():
        raise ConfigError(
            "ENCRYPTION_KEYS is unset or is the development default. Set ENCRYPTION_KEYS to "
            "'<key-id>:<base64 of 32 random bytes>' (several, comma-separated, while rotating), "
            "or set APP_ENV=development for local use."
        )
