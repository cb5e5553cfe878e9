"""Issue 14, "Full journeys on the production stack": one end-to-end run in headless Chromium against the
system as it is deployed, every process started the way the README's "Running in production" says:

- a throwaway PostgreSQL, migrated with `flask --app app db upgrade`;
- staff accounts, service tokens and the rule texts made with the CLI (`create-staff`, `service-token
  create`, `rules publish`), as an operator would;
- gunicorn with 2 workers and APP_ENV=production (a random SECRET_KEY and ENCRYPTION_KEYS, mail over SMTP);
- a real Redis and two `flask --app app worker` processes (checks, letters, e-mails all run there);
- the nginx gateway from deploy/nginx/ (njs handler) asking gunicorn's authorize API, behind a trusted
  load balancer address (`set_real_ip_from`), in front of a stub trading upstream;
- an SMTP sink (aiosmtpd): every e-mail the journey needs (verification link) arrives over SMTP.

Every role takes part: an applicant registers and applies with real uploads; the workers run the checks;
a document reviewer, a qualification reviewer and an approver take the case to approval; the applicant
downloads the letter (its text is checked), creates an HMAC key and trades through nginx with the example
client (examples/mm_client.py); surveillance reports a violation and the next request is refused; a
compliance officer offers reinstatement, the applicant agrees to the risk-control rules and trading works
again; a second violation, a restriction, and the next request is refused as restricted.

Every page is kept as artifacts/production-stack/NN-name.png (axe-checked like every other journey).
It runs once, in the PostgreSQL pass of `make test` (it starts its own PostgreSQL either way)."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from .conftest import ARTIFACTS, ROOT, TEST_DATABASE, Inbox, wait_until
from .gateway import Gateway
from .services import PostgresServer, RedisServer, free_port, wait_for_port
from .test_e2e_application import add_shareholder, document_file, fill_company, fill_profile, upload, upload_form
from .test_e2e_review import Journey

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(TEST_DATABASE != "postgresql",
                       reason="the production-stack journey runs once, in the PostgreSQL pass of `make test` "
                              "(it starts its own PostgreSQL, gunicorn, workers and nginx either way)"),
]

SHOTS = ARTIFACTS / "production-stack"
STAFF_PASSWORD = "staff pass phrase for the stack test"  # noqa: S105 (a throwaway account)
APPLICANT_PASSWORD = "applicant pass phrase for the stack"  # noqa: S105
APPLICANT_EMAIL = "desk@northwind-liquidity.example"
TRADER_IP = "203.0.113.10"  # the desk's public address, as the load balancer in front of nginx reports it
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "1", "price": "100"}
STAFF = {
    # key: (e-mail, name, role)
    "documents": ("dana@exchange.example", "Dana Documents", "document_reviewer"),
    "qualification": ("quinn@exchange.example", "Quinn Qualify", "qualification_reviewer"),
    "approver": ("avery@exchange.example", "Avery Approver", "approver"),
    "compliance": ("cora@exchange.example", "Cora Compliance", "compliance"),
    "compliance2": ("colin@exchange.example", "Colin Compliance", "compliance"),
}


def _load_client():
    spec = importlib.util.spec_from_file_location("mm_client", ROOT / "examples" / "mm_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mm_client = _load_client()


# ---------------------------------------------------------------------------
# The stack.


@dataclass
class Stack:
    dir: Path
    env: dict
    web_url: str = ""
    gateway: Gateway | None = None
    surveillance_token: str = ""
    inbox: Inbox | None = None
    processes: dict = field(default_factory=dict)
    logs: dict = field(default_factory=dict)

    def flask(self, *args: str, extra_env: dict | None = None) -> str:
        """Run one `flask --app app ...` command the way an operator would; its output."""
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                              env={**self.env, **(extra_env or {})}, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def flask_all(self, commands: list[tuple[str, ...]], extra_env: dict | None = None) -> list[str]:
        """Several `flask --app app ...` commands at once; their outputs in order."""
        running = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT,
                                    env={**self.env, **(extra_env or {})}, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True) for args in commands]
        outputs = []
        for args, process in zip(commands, running, strict=True):
            stdout, stderr = process.communicate(timeout=180)
            assert process.returncode == 0, f"flask {' '.join(args)} failed:\n{stdout}\n{stderr}"
            outputs.append(stdout)
        return outputs

    def start(self, name: str, command: list[str]) -> None:
        log = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop_all)
        self.logs[name] = log
        self.processes[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT)

    def log(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs_tail(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.log(name)[-3000:]}" for name in self.processes)

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for log in self.logs.values():
            log.close()

    def web_alive(self) -> None:
        dead = [name for name, process in self.processes.items() if process.poll() is not None]
        assert not dead, f"{', '.join(dead)} exited:\n{self.logs_tail()}"

    def emails_to(self, address: str) -> list:
        return [m for m in self.inbox.messages if address in str(m["To"])]


def production_env(workdir: Path, database_url: str, redis_url: str, smtp_port: int, web_port: int) -> dict:
    """APP_ENV=production with fresh secrets: the app refuses the development ones, so this also shows the
    production checks pass with real values."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("APP_", "DATABASE_", "REDIS_", "SMTP_", "MAIL_", "JOBS_", "BASE_URL"))}
    multiproc = workdir / "prometheus"
    multiproc.mkdir()
    env.update({
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ENCRYPTION_KEYS": "prod1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "BASE_URL": f"http://127.0.0.1:{web_port}",
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "DOCUMENTS_DIR": str(workdir / "documents"),
        "SANCTIONS_DIR": str(workdir / "sanctions"),
        "SANCTIONS_REFRESH_HOURS": "0",  # never download the official lists from a test
        "OUTBOX_SWEEP_SECONDS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        # Plain HTTP on loopback: no TLS terminator in front of gunicorn here.
        "SESSION_COOKIE_SECURE": "0",
        "FLASK_DEBUG": "0",
        "PYTHONUNBUFFERED": "1",
    })
    return env


@pytest.fixture(scope="module")
def stack():
    from aiosmtpd.controller import Controller

    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="test-prodstack-"))
    postgres, redis = PostgresServer(), RedisServer()
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    web_port = free_port()
    stack = None
    try:
        postgres.start()
        redis.start()
        smtp.start()
        stack = Stack(workdir, production_env(workdir, postgres.url, redis.url, smtp.port, web_port), inbox=inbox)
        stack.flask("db", "upgrade")
        migrated = time.monotonic()
        # Web and workers start while the operator's commands run: each command is its own process (the
        # audit chain serialises their writes), and together they take a fraction of the time one by one.
        stack.start("gunicorn", [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{web_port}",
                                 "--access-logfile", "-", "app:app"])
        for number in (1, 2):
            stack.start(f"worker-{number}", [sys.executable, "-m", "flask", "--app", "app", "worker"])
        texts = ROOT / "onboarding" / "agreements" / "texts"
        commands = [("create-staff", "--email", email, "--name", name, "--role", role)
                    for email, name, role in STAFF.values()]
        commands += [("rules", "publish", "--kind", kind, "--file", str(texts / f"{kind}-2026-11.txt"),
                      "--version", "2026-11") for kind in ("api-usage", "risk-control")]
        commands += [("service-token", "create", "--name", "gateway test-1", "--scope", "authorize"),
                     ("service-token", "create", "--name", "market surveillance", "--scope", "violations:write")]
        outputs = stack.flask_all(commands, extra_env={"STAFF_PASSWORD": STAFF_PASSWORD})
        gateway_token, stack.surveillance_token = (out.strip().splitlines()[-1] for out in outputs[-2:])
        assert gateway_token.startswith("mxs_") and stack.surveillance_token.startswith("mxs_")
        seeded = time.monotonic()
        wait_for_port(web_port, timeout=60)
        stack.web_url = f"http://127.0.0.1:{web_port}"
        wait_until(lambda: _ready(stack.web_url), timeout=60, message="gunicorn's /readyz")
        # The gateway sits behind the exchange's load balancer (loopback here): it trusts that hop's
        # X-Forwarded-For for the client address, as deploy/nginx/README.md describes.
        stack.gateway = Gateway(stack.web_url, gateway_token, real_ip_from=["127.0.0.1/32"]).start()
        stack.web_alive()
        print(f"production stack up in {time.monotonic() - started:.1f}s "
              f"(services and migrations {migrated - started:.1f}s, operator commands {seeded - migrated:.1f}s)")
        yield stack
    finally:
        if stack is not None:
            if stack.gateway:
                stack.gateway.stop()
            stack.stop_all()
            logs = SHOTS / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            for name in stack.processes:
                shutil.copy(workdir / f"{name}.log", logs / f"{name}.log")
        smtp.stop()
        redis.cleanup()
        postgres.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as response:  # noqa: S310 (our own server)
            return response.status == 200
    except OSError:
        return False




# ---------------------------------------------------------------------------
# Steps of the journey.


def path_is(path: str):
    return re.compile(r"^https?://[^/]+" + re.escape(path) + r"(\?.*)?(#.*)?$")


def staff_first_sign_in(journey: Journey, key: str, *, shots: bool = False):
    """A staff member made with `create-staff` signs in for the first time: password, then setting up the
    authenticator app (the secret read off the page), then the recovery codes (shot when `shots`)."""
    email, name, _ = STAFF[key]
    page = journey.session()
    page.goto("/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(path_is("/login/set-up-two-factor"))
    secret = re.sub(r"\s+", "", page.locator("#totp-secret").inner_text())
    if shots:
        journey.shot(page, f"{key}-set-up-two-factor")
    page.get_by_label("Code from your app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page).to_have_url(path_is("/account/recovery-codes"))
    if shots:
        journey.shot(page, f"{key}-recovery-codes")
    page.get_by_role("link", name="I have saved them, continue").click()
    expect(page).to_have_url(path_is("/staff"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name}")
    return page


def open_queue_case(page, queue_label: str, reference: str, *, timeout: float = 90) -> None:
    """Open the case from a review queue, reloading while the workers are still on it."""
    page.get_by_role("navigation", name="Review queues").get_by_role("link", name=re.compile(queue_label)).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(queue_label)
    deadline = time.monotonic() + timeout
    while not page.get_by_role("link", name=reference).count():
        assert time.monotonic() < deadline, f"{reference} did not reach the {queue_label} queue in {timeout}s"
        time.sleep(1)
        page.reload()
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def trade(stack: Stack, api_key: str, secret: str) -> tuple[int, dict]:
    """One signed order through nginx with the example client, from the desk's public address (the load
    balancer in front of nginx puts it in X-Forwarded-For)."""
    client = mm_client.Client(stack.gateway.url, api_key, secret=secret, headers={"X-Forwarded-For": TRADER_IP})
    status, _, body = client.request("POST", "/api/v3/order", ORDER)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"raw": body.decode(errors="replace")}


def report_violation(stack: Stack, key_id: str, reference: str, evidence: str) -> dict:
    """Market surveillance reports over the API with its service token (scope violations:write)."""
    payload = {"key_id": key_id, "category": "unauthorized_bot_trading", "observed_at": "2026-12-04T09:30:00Z",
               "market_impact": "minor", "malicious": False, "evidence_text": evidence, "reference": reference}
    request = urllib.request.Request(  # noqa: S310 (our own server)
        f"{stack.web_url}/api/v1/violations", data=json.dumps(payload).encode(), method="POST",
        headers={"Authorization": f"Bearer {stack.surveillance_token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310
        assert response.status in (200, 201), response.status
        return json.loads(response.read())


def open_investigation(journey: Journey, page, institution: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Investigations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Investigations")
    row = page.locator("tbody tr").filter(has_text=institution).filter(has=page.get_by_role("link", name="INV-"))
    expect(row.first).to_be_visible()
    journey.shot(page, "investigations-queue")
    row.first.get_by_role("link", name=re.compile(r"^INV-")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(institution)


# ---------------------------------------------------------------------------
# The journey.


def test_every_role_on_the_production_stack(stack, browser, tmp_path):
    started = time.monotonic()
    journey = Journey(browser, stack.web_url, prefix="", folder=SHOTS)
    # Generous waits on a loaded machine (every step crosses gunicorn, and some wait for a worker); set
    # here and put back, not at import, so the other journeys keep their own.
    previous_timeout = expect._timeout
    expect.set_options(timeout=30_000)
    try:
        _journey(stack, journey, tmp_path)
    except Exception:
        print(stack.logs_tail())
        raise
    finally:
        expect.set_options(timeout=previous_timeout)
        journey.close()
    print(f"journey took {time.monotonic() - started:.1f}s")


def _journey(stack: Stack, journey: Journey, tmp_path: Path) -> None:
    today = date.today()
    issued, expires = today - timedelta(days=30), today + timedelta(days=5 * 365)

    # --- the applicant registers; the verification e-mail comes over SMTP from a worker --------------
    desk = journey.session()
    desk.goto("/")
    journey.shot(desk, "landing")
    desk.get_by_role("main").get_by_role("link", name="Apply for API access").click()
    desk.get_by_label("Your full name").fill("Morgan Maker")
    desk.get_by_label("Work e-mail address").fill(APPLICANT_EMAIL)
    desk.get_by_label("Institution's legal name").fill("Northwind Liquidity Ltd")
    desk.get_by_label("Password", exact=True).fill(APPLICANT_PASSWORD)
    desk.get_by_label("Repeat the password").fill(APPLICANT_PASSWORD)
    journey.shot(desk, "register")
    desk.get_by_role("button", name="Create account").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    journey.shot(desk, "check-inbox")
    mail = wait_until(lambda: stack.emails_to(APPLICANT_EMAIL), timeout=60, message="the verification e-mail")[0]
    link = re.search(r"https?://\S+", mail.get_body(("plain",)).get_content()).group(0)
    assert link.startswith(f"{stack.web_url}/verify-email/"), link
    desk.goto(link)
    expect(desk.get_by_text("Your e-mail address is confirmed")).to_be_visible()
    journey.shot(desk, "email-confirmed")
    desk.get_by_label("Password").fill(APPLICANT_PASSWORD)
    desk.get_by_role("button", name="Sign in").click()
    expect(desk).to_have_url(path_is("/portal"))
    journey.shot(desk, "portal")

    # --- the five steps, with real uploads ------------------------------------------------------------
    desk.get_by_role("link", name="Start your application").click()
    desk.get_by_role("button", name="Start the application").click()
    expect(desk).to_have_url(path_is("/application/company"))
    reference = desk.locator(".stepper-ref strong").inner_text().strip()
    fill_company(desk, "5493001KJTIIGC8Y1R12")
    journey.shot(desk, "company")
    desk.get_by_role("button", name="Save and continue").click()
    expect(desk).to_have_url(path_is("/application/ownership"))
    add_shareholder(desk, name="Alice Founder", percentage="100", born="1980-05-01", country="GB")
    desk.locator("#person-name").fill("Carol Director")
    desk.locator("#person-date_of_birth").fill("1970-01-01")
    desk.locator("#person-nationality").select_option("GB")
    desk.locator("#person-residence").select_option("GB")
    desk.locator("#person-is_director").check()
    desk.locator("#person-is_signatory").check()
    desk.locator("#person-title").fill("Chief Executive Officer")
    desk.get_by_role("button", name="Add person").click()
    expect(desk.get_by_role("status").filter(has_text="Carol Director added.")).to_be_visible()
    journey.shot(desk, "ownership")
    desk.get_by_role("button", name="Save and continue").click()
    expect(desk).to_have_url(path_is("/application/profile"))
    fill_profile(desk, TRADER_IP)
    journey.shot(desk, "profile")
    desk.get_by_role("button", name="Save and continue").click()
    expect(desk).to_have_url(path_is("/application/documents"))
    keys = desk.locator('form.upload-form input[name="requirement"]').evaluate_all("inputs => inputs.map(i => i.value)")
    for key in keys:
        identity = upload_form(desk, key).locator('input[name="expiry_date"]').count() == 1
        upload(desk, key, document_file(tmp_path, key, photo=identity), issued, expires if identity else None)
        expect(desk.locator("#slot-" + key.replace(":", "-")).locator(".badge-ok")).to_have_text(
            re.compile("Usable|Uploaded"))
    expect(desk.get_by_role("status").filter(has_text="Every required document is uploaded.")).to_be_visible()
    journey.shot(desk, "documents")
    desk.get_by_role("button", name="Save and continue").click()
    expect(desk).to_have_url(path_is("/application/review"))
    expect(desk.get_by_text("Everything needed is in place.")).to_be_visible()
    desk.get_by_label("I have read the API usage rules above and agree to them on behalf of the institution.").check()
    desk.locator("#signer_title").fill("Chief Executive Officer")
    journey.shot(desk, "review")
    desk.get_by_role("button", name="Agree and submit the application").click()
    expect(desk).to_have_url(path_is("/application/status"))
    expect(desk.get_by_text(f"Application {reference} submitted.")).to_be_visible()
    journey.shot(desk, "submitted")

    # --- staff: the checks ran on the workers; four eyes from documents to approval ------------------
    dana = staff_first_sign_in(journey, "documents", shots=True)
    journey.shot(dana, "dana-dashboard")
    open_queue_case(dana, "Document review", reference)
    journey.shot(dana, "dana-case")
    dana.get_by_role("button", name="Claim this case").click()
    expect(dana.locator(".flash-success")).to_contain_text("assigned to you")
    while dana.locator("article.doc-review-pending").count():
        dana.locator("article.doc-review-pending").first.get_by_role("button", name=re.compile(r"^Accept ")).click()
        expect(dana.locator(".flash-success")).to_contain_text("accept recorded")
    dana.get_by_role("button", name=re.compile("Accept documents")).click()
    expect(dana.locator(".flash-success")).to_contain_text("moves to qualification review")
    journey.shot(dana, "dana-documents-accepted")

    quinn = staff_first_sign_in(journey, "qualification")
    open_queue_case(quinn, "Qualification review", reference)
    quinn.get_by_role("button", name="Claim this case").click()
    form = quinn.locator("#form-qualify")
    for criterion in ("experience", "volume", "capital", "obligations", "order_rate", "regulatory"):
        form.locator(f"#{criterion}_score").select_option("4")
        form.locator(f"#{criterion}_note").fill(f"Checked {criterion.replace('_', ' ')} against the evidence.")
    form.get_by_label("Rate tier").select_option("professional")
    form.get_by_label("Maximum API keys").fill("5")
    form.get_by_label("Summary for the approver (optional)").fill("Established desk, good references.")
    journey.shot(quinn, "quinn-qualification")
    form.get_by_role("button", name=re.compile("Record qualification")).click()
    expect(quinn.locator(".flash-success")).to_contain_text("waits for an approver")
    journey.shot(quinn, "quinn-qualified")

    avery = staff_first_sign_in(journey, "approver")
    open_queue_case(avery, "Pending approval", reference)
    avery.get_by_role("button", name="Claim this case").click()
    journey.shot(avery, "avery-pending-approval")
    avery.get_by_role("button", name="Approve", exact=True).click()
    expect(avery.locator(".flash-success")).to_contain_text("Approved")
    journey.shot(avery, "avery-approved")

    # --- the letter, rendered by a worker; its text checked -------------------------------------------
    desk.goto("/application/status")
    download = desk.get_by_role("link", name=re.compile("Download", re.I)).first
    deadline = time.monotonic() + 90
    while not download.count():
        assert time.monotonic() < deadline, "the approval letter was not rendered within 90 s"
        time.sleep(1)
        desk.reload()
    journey.shot(desk, "status-approved")
    with desk.expect_download() as download_info:
        download.click()
    pdf = download_info.value.path().read_bytes()
    (SHOTS / "approval-letter.pdf").write_bytes(pdf)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    text = re.sub(r"\s+", " ", text)
    code = desk.locator('dt:text-is("Verification code") + dd code').inner_text().strip()
    for expected in ("Northwind Liquidity Ltd", reference, code):
        assert expected in text, f"{expected!r} is not in the letter: {text[:600]}"
    desk.goto(f"/letters/verify/{code}")
    expect(desk.locator("main")).to_contain_text(reference)
    journey.shot(desk, "letter-verified")

    # --- the keys page: an HMAC key, and a signed order through nginx ---------------------------------
    desk.goto("/institution/keys")
    expect(desk.get_by_role("heading", level=1)).to_have_text("API keys")
    journey.shot(desk, "keys")
    new_key = desk.locator("#new-key")
    new_key.get_by_label("Label").fill("Quoting engine")
    for box in new_key.locator('input[name="scopes"]').all():
        box.check()
    new_key.get_by_label("IP allow-list").fill(TRADER_IP)
    desk.get_by_role("button", name="Create the key").click()
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Key created")
    api_key = desk.locator("#api-key").inner_text().strip()
    secret = desk.locator("#api-secret").inner_text().strip()
    key_id = api_key[:12]
    journey.shot(desk, "key-created")

    status, answer = trade(stack, api_key, secret)
    assert status == 200, (status, answer)
    assert stack.gateway.upstream_requests[-1]["api_key_id"] == key_id

    # --- a first violation: surveillance reports, the next order is refused ---------------------------
    report_violation(stack, key_id, "SURV-2026-0001", "Order bursts every 3 ms on BTC/USDT, 09:30-09:42 UTC.")
    status, answer = trade(stack, api_key, secret)
    assert status == 403 and answer.get("code") in ("key_frozen", "institution_frozen"), (status, answer)
    desk.goto("/institution/keys")
    expect(desk.locator("section.enforcement-banner")).to_contain_text("frozen")
    journey.shot(desk, "frozen")

    cora = staff_first_sign_in(journey, "compliance")
    open_investigation(journey, cora, "Northwind Liquidity Ltd")
    cora.get_by_role("button", name="Claim this investigation").click()
    expect(cora.locator(".flash-success")).to_contain_text("assigned to you")
    cora.get_by_text("Offer reinstatement (first offence)").click()
    cora.get_by_label("Basis of the offer").fill("First report, minor impact: the desk misread the bot rules.")
    journey.shot(cora, "cora-offer")
    cora.get_by_role("button", name="Offer reinstatement").click()
    expect(cora.locator(".flash-success")).to_contain_text("Reinstatement offered")
    journey.shot(cora, "cora-offered")

    # --- the applicant agrees to the risk-control rules; orders pass again -----------------------------
    desk.reload()
    desk.locator("section.enforcement-banner").get_by_role(
        "link", name="Read and agree to the risk-control rules to restore access").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Restore API access")
    desk.get_by_label(re.compile("I have read the risk-control rules")).check()
    desk.get_by_label("Your full name").fill("Morgan Maker")
    desk.get_by_label("Your title or position").fill("Chief Executive Officer")
    journey.shot(desk, "reinstatement")
    desk.get_by_role("button", name=re.compile("and restore access")).click()
    expect(desk.locator(".flash-success")).to_contain_text("Access restored")
    expect(desk.locator(f"#key-{key_id}")).to_contain_text("Active")
    journey.shot(desk, "restored")
    status, answer = trade(stack, api_key, secret)
    assert status == 200, (status, answer)

    # --- a second violation: frozen again, and compliance restricts -----------------------------------
    report_violation(stack, key_id, "SURV-2026-0002", "The bursts are back: every 2 ms on ETH/USDT, 14:05 UTC.")
    status, answer = trade(stack, api_key, secret)
    assert status == 403 and answer.get("code") in ("key_frozen", "institution_frozen"), (status, answer)
    cora.goto("/staff")
    open_investigation(journey, cora, "Northwind Liquidity Ltd")
    cora.get_by_role("button", name="Claim this investigation").click()
    expect(cora.locator(".flash-success")).to_contain_text("assigned to you")
    expect(cora.locator("main")).to_contain_text("earlier confirmed violation")  # so restriction is the default
    cora.locator("summary", has_text="Restrict permanently").click()
    cora.get_by_label("Reason for the restriction").fill("Second violation after reinstatement: restricted.")
    journey.shot(cora, "cora-restrict")
    cora.get_by_role("button", name="Restrict permanently").click()
    expect(cora.locator(".flash-success")).to_be_visible()
    journey.shot(cora, "cora-restricted")

    status, answer = trade(stack, api_key, secret)
    assert status == 403 and answer.get("code") in ("key_revoked", "institution_restricted"), (status, answer)
    for path, name in (("/institution/keys", "restricted-keys"), ("/portal", "restricted-portal")):
        desk.goto(path)
        expect(desk.locator("section.enforcement-banner")).to_contain_text("permanently restricted")
        journey.shot(desk, name)

    # What the institution was told came over SMTP from the workers too.
    def subjects():
        return [str(message["Subject"]) for message in stack.emails_to(APPLICANT_EMAIL)]

    restricted = "API access of Northwind Liquidity Ltd is permanently restricted"
    wait_until(lambda: restricted in subjects(), timeout=60, message="the restriction e-mail over SMTP")
    print("e-mails to the applicant:", subjects())
    for subject in ("Confirm your e-mail address", f"Application {reference} approved: your approval letter",
                    f"API key {key_id} created", "API access of Northwind Liquidity Ltd is frozen",
                    "Your API access can be restored", "API access of Northwind Liquidity Ltd is active again"):
        assert subject in subjects(), f"no e-mail {subject!r} reached the SMTP server"
    stack.web_alive()
