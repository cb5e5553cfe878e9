"""Shared end-to-end fixtures: the app on a real local HTTP server, and Debian's Chromium driven by
Playwright (its own browser download does not work here; `make test` installs chromium). And the
accessibility check every end-to-end journey runs on each page it visits: axe-core (the copy bundled by
the PyPI package axe-playwright-python, so nothing is downloaded at test time) plus unique ids."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
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


# axe-core's impact levels we do not accept on any page: "serious" and "critical" block or seriously hinder
# someone using a screen reader or keyboard, or with low vision (DESIGN 7).
BLOCKING_IMPACTS = ("serious", "critical")
_AXE = Axe()


def accessibility_problems(page) -> list[str]:
    """What axe-core finds serious or critical on the page as it is now, one line per rule with the
    elements it concerns, plus every id used more than once (axe no longer checks plain duplicate ids,
    but a label or aria reference to a repeated id points at the wrong element)."""
    results = _AXE.run(page, options={"resultTypes": ["violations"]}).response
    problems = [
        f"{v['id']} ({v['impact']}): {v['help']} -- "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        + (f" and {len(v['nodes']) - 5} more" if len(v["nodes"]) > 5 else "")
        for v in results["violations"] if v["impact"] in BLOCKING_IMPACTS
    ]
    repeated = page.evaluate("""() => {
        const seen = {};
        for (const el of document.querySelectorAll('[id]')) seen[el.id] = (seen[el.id] || 0) + 1;
        return Object.entries(seen).filter(([, n]) => n > 1).map(([id, n]) => `${id} x${n}`);
    }""")
    if repeated:
        problems.append("ids used more than once: " + ", ".join(repeated))
    return problems


def check_accessibility(page) -> None:
    """Fail the test when the page has a serious or critical accessibility problem."""
    problems = accessibility_problems(page)
    assert not problems, f"accessibility problems on {page.url}:\n" + "\n".join(problems)
