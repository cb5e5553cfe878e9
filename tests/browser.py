"""Shared end-to-end fixtures: the app on a real local HTTP server, and Debian's Chromium driven by
Playwright (its own browser download does not work here; `make test` installs chromium)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from playwright import sync_api
from werkzeug.serving import make_server

from .services import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def live_app(make_app, tmp_path):
    """The app served over real HTTP in a background thread. BASE_URL points at it, so links in
    e-mails open on this server; uploaded documents go to tmp_path."""
    app = make_app(DOCUMENTS_DIR=str(tmp_path / "documents"))
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    app.config["BASE_URL"] = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), f"no Chromium at {CHROMIUM}: run `make test`, which installs Debian's chromium"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
