"""Test fixtures. The database is built by running the Alembic migrations, once per run, on
SQLite (default) or PostgreSQL (TEST_DATABASE=postgresql); tables are emptied after each test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from flask import has_app_context
from flask.testing import FlaskClient

os.environ["APP_ENV"] = "testing"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

from sqlalchemy import text  # noqa: E402

from onboarding import create_app  # noqa: E402
from onboarding.db import db  # noqa: E402

from .services import PostgresServer, RedisServer  # noqa: E402

pytest_plugins = ["tests.browser"]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
TEST_DATABASE = os.environ.get("TEST_DATABASE", "sqlite")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if TEST_DATABASE == "postgresql":
        server = PostgresServer()
        server.start()
        yield server.url
        server.cleanup()
    else:
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()


@pytest.fixture
def own_redis():
    """A Redis of this test's own: it is stopped and started again, which the shared one must not be."""
    server = RedisServer()
    server.start()
    yield server
    server.cleanup()


def base_config(database_url: str) -> dict:
    return {
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "JOBS_EAGER": True,
        "MAIL_BACKEND": "console",
        "BASE_URL": "http://localhost",
        "SERVER_NAME": None,
    }


@pytest.fixture(scope="session")
def migrated(database_url):
    """Run the real migrations once for the whole run."""
    from flask_migrate import upgrade

    app = create_app(base_config(database_url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


def empty_all_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(table.name for table in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))  # noqa: S608 (our own table names)
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def make_app(migrated):
    """Build an app on the migrated test database with extra settings."""
    apps = []

    def factory(**overrides):
        config = base_config(migrated)
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    if apps:
        with apps[0].app_context():
            db.session.remove()
            empty_all_tables()
            db.engine.dispose()
        for app in apps[1:]:
            with app.app_context():
                db.engine.dispose()


class FreshStateClient(FlaskClient):
    """After each request, end the test's own read transaction so the next read sees what the
    request committed (and an SQLite reader never blocks the app's writer)."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        if has_app_context():
            db.session.rollback()
        return response


@pytest.fixture
def app(make_app):
    """The app under test. The test body runs in the context of a twin app on the same database,
    so each request gets its own application context (own `g`, own session) as in production."""
    app = make_app()
    app.test_client_class = FreshStateClient
    twin = make_app()
    with twin.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


# ---------------------------------------------------------------------------
# Helpers for driving forms the way a browser does (CSRF included).

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


def submit_form(client, url: str, data: dict, *, form_url: str | None = None, follow_redirects: bool = False):
    """GET the page with the form, then POST the data with the page's CSRF token."""
    page = client.get(form_url or url)
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data}, follow_redirects=follow_redirects)


def last_email(to_address: str):
    from sqlalchemy import select

    from onboarding.notifications.models import EmailMessage

    return db.session.scalars(
        select(EmailMessage).where(EmailMessage.to_address == to_address).order_by(EmailMessage.id.desc())
    ).first()


def link_in(body: str) -> str:
    match = re.search(r"https?://\S+", body)
    assert match, f"no link in e-mail body: {body!r}"
    return match.group(0)


def path_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# ---------------------------------------------------------------------------
# A real RQ worker process.


class WorkerProcess:
    def __init__(self, database_url: str, redis_url: str, extra_env: dict | None = None):
        self.env = {
            **os.environ,
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "JOBS_EAGER": "",
            "OUTBOX_SWEEP_SECONDS": "2",
            **(extra_env or {}),
        }
        self.log = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", delete=False)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "worker"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        time.sleep(0.5)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture(scope="session")
def clamd_server():
    from .services import ClamdServer

    server = ClamdServer()
    server.start()
    yield server
    server.cleanup()


class Inbox:
    """aiosmtpd handler that keeps every message it receives: a real SMTP conversation for e-mail tests."""

    def __init__(self):
        import email.message

        self.messages: list[email.message.EmailMessage] = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    from .services import free_port

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


# ---------------------------------------------------------------------------
# Hypothesis: a bounded profile for CI (tests/test_forms_property.py runs every form route); HYPOTHESIS_PROFILE=
# thorough for a longer hunt by hand.

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci", max_examples=25, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
