"""Authorize benchmark: the decision the API gateway asks for on every signed trading request, with
100,000 API keys in the database, each figure against a baseline measured in the same run.

    python -m bench.bench_authorize          (from the project folder)

1. In process: `keys.authorize.decide()` for signed, allowed requests across 1,000 different keys
   (2,000 granted institutions, 50 keys each, on a SQLite file; a real Redis as the replay guard and
   usage counter), against the one indexed look-up `SELECT id FROM api_keys WHERE key_hash = ?`.
   Every call is a different signed request (its own client order id, and a timestamp that never
   repeats for a key), signed with examples/mm_client.py's signing. After the warm-up round each key's
   row is a process-local copy checked against Redis's shared generation in the replay guard's round
   trip (keys.freshness): the timed decisions run no SQL statement, and the warm-up round's median (a
   first call per key: generation read, one statement) is reported beside it.
   Target: median decision at most 150 µs.
2. Over HTTP: `POST /api/v1/authorize` served by gunicorn (2 sync workers, the same SQLite file, the
   same Redis, JOBS_EAGER=1) under `wrk` on loopback (every body a different signed request), against
   `GET /healthz` of the same server. Target: authorize at least 60 % of /healthz's requests per second.
3. Through nginx: the gateway (deploy/nginx, via tests/gateway.py) asking that gunicorn, in front of a
   stub trading upstream, with requests signed by examples/mm_client.py, against a plain nginx proxy
   to the same upstream. No target: the cost of the gateway is reported.

Every process started here (redis-server, gunicorn, nginx) is stopped, also when a step fails.
Figures go to bench/results.json under "authorize" (other keys are kept)."""

from __future__ import annotations

import base64
import contextlib
import cProfile
import importlib.util
import io
import json
import logging
import os
import platform
import pstats
import random
import secrets
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"

INSTITUTIONS = 2_000
KEYS = 100_000  # 50 per institution: the most a grant allows
CALLED_KEYS = 1_000
TIMED_ROUNDS = 5  # timed decisions: TIMED_ROUNDS x CALLED_KEYS, after one warm-up round
PROFILED_DECISIONS = 1_000
TARGET_MEDIAN_US = 150.0
TARGET_THROUGHPUT_RATIO = 0.60

WRK_THREADS = 2
WRK_CONNECTIONS = 16
WRK_SECONDS = 10
WARMUP_SECONDS = 2
SIGNED_CALLS = 50_000  # per measured HTTP run, every one different
WARMUP_CALLS = 10_000
HTTP_RECV_WINDOW = 60_000  # calls are signed up front: the longest window the scheme allows
GUNICORN_WORKERS = 2

TRADER_IP = "203.0.113.10"  # inside the keys' and the grants' allow-lists
KEY_ALLOWLIST = ["203.0.113.10", "203.0.113.64/26"]
KEY_SCOPES = ["market:read", "spot:trade"]
ORDER = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("quantity", "1"), ("price", "100")]
ORDER_PATH = "/api/v3/order"
KEY_HEADER = "X-MEXC-APIKEY"

# One wrk script for every run. Each line of the file named by the first argument is one request:
# method, target, body, then "Name: value" headers, separated by tabs. Thread k of n sends lines
# k, k+n, k+2n, ... in turn (so no two threads send the same signed request), starting again at its
# first line when it runs out (a thread left without a line sends them all). done() prints the figures
# as one JSON line.
WRK_SCRIPT = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local requests = {}
local index = 0

local function split(line)
  local fields, start = {}, 1
  while true do
    local tab = string.find(line, "\t", start, true)
    if not tab then
      fields[#fields + 1] = string.sub(line, start)
      return fields
    end
    fields[#fields + 1] = string.sub(line, start, tab - 1)
    start = tab + 1
  end
end

function init(args)
  local nthreads = tonumber(args[2])
  local n = 0
  for line in io.lines(args[1]) do
    if n % nthreads == id then
      local f = split(line)
      local headers = {}
      for i = 4, #f do
        local name, value = string.match(f[i], "^([^:]+): (.*)$")
        if name then headers[name] = value end
      end
      local body = f[3]
      if body == "" then body = nil end
      requests[#requests + 1] = wrk.format(f[1], f[2], headers, body)
    end
    n = n + 1
  end
  if #requests == 0 then
    args[2] = "1"
    id = 0
    return init(args)
  end
end

function request()
  index = index + 1
  if index > #requests then index = 1 end
  return requests[index]
end

function done(summary, latency, requests)
  io.write(string.format(
    "BENCHJSON {\"requests\": %d, \"duration_us\": %d, \"connect_errors\": %d, \"read_errors\": %d, " ..
    "\"write_errors\": %d, \"non_2xx\": %d, \"timeouts\": %d, \"p50_us\": %d, \"p90_us\": %d, " ..
    "\"p99_us\": %d, \"max_us\": %d, \"mean_us\": %.1f}\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""

# The baseline of step 3: nginx proxying /api/ straight to the trading upstream (no njs, no authorize),
# otherwise as the gateway's template has it (keep-alive upstream, access log, body in memory).
PLAIN_PROXY_CONF = """
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    server_tokens off;
    default_type application/json;
    client_body_temp_path {prefix}/client_body_temp;
    proxy_temp_path {prefix}/proxy_temp;
    fastcgi_temp_path {prefix}/fastcgi_temp;
    uwsgi_temp_path {prefix}/uwsgi_temp;
    scgi_temp_path {prefix}/scgi_temp;
    access_log {prefix}/access.log;
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    upstream trading {{
        server {upstream};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 64k;
        client_body_buffer_size 64k;
        client_body_in_single_buffer on;
        location /api/ {{
            proxy_http_version 1.1;
            proxy_set_header Host $host;
            proxy_set_header Connection "";
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_next_upstream off;
            proxy_pass http://trading;
        }}
    }}
}}
"""


# ---------------------------------------------------------------------------
# Helpers.


def _mm_client():
    """examples/mm_client.py, the market maker's signing logic (not a package: loaded by path)."""
    spec = importlib.util.spec_from_file_location("bench_mm_client", ROOT / "examples" / "mm_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Timestamps:
    """The `timestamp` of each signed call: now, but strictly increasing per key, so no two calls of one
    key carry the same timestamp (a key gets at most a few dozen calls in a millisecond's reach)."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}

    def __call__(self, api_key: str) -> int:
        value = max(int(time.time() * 1000), self.last.get(api_key, 0) + 1)
        self.last[api_key] = value
        return value


def _others_running() -> dict[str, Any]:
    """The 1-minute load average and whether a test run (pytest) shares the machine: both skew figures."""
    pytest = False
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if b"pytest" in (entry / "cmdline").read_bytes():
                    pytest = True
                    break
            except OSError:
                continue
    return {"loadavg_1min": round(os.getloadavg()[0], 2), "pytest_running": pytest}


def _percentile(sorted_values: list[float], pct: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(pct / 100 * (len(sorted_values) - 1)))]


def _summary_us(seconds: list[float]) -> dict[str, float]:
    values = sorted(s * 1e6 for s in seconds)
    return {"samples": len(values), "median_us": round(statistics.median(values), 1),
            "p99_us": round(_percentile(values, 99), 1), "mean_us": round(statistics.fmean(values), 1),
            "min_us": round(values[0], 1), "max_us": round(values[-1], 1)}


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout + done.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"


def _app_config(workdir: Path, redis_url: str, secret_key: str, encryption_keys: str) -> dict[str, Any]:
    """Production settings (fresh secrets made for this run), the bench's SQLite file and Redis."""
    return {"APP_ENV": "production", "SECRET_KEY": secret_key, "ENCRYPTION_KEYS": encryption_keys,
            "DATABASE_URL": f"sqlite:///{workdir}/bench.db", "REDIS_URL": redis_url, "JOBS_EAGER": True,
            "DOCUMENTS_DIR": str(workdir / "documents"), "MAIL_BACKEND": "console"}


# ---------------------------------------------------------------------------
# The database: 2,000 granted institutions with 50 HMAC keys each.


def build_database() -> tuple[list[tuple[str, str]], str, dict[str, Any]]:
    """In the current app context: the schema, one institution granted access through the real
    operations (factories.granted_institution) with one key made by keys.operations.create_key, then
    its rows copied with SQLAlchemy Core into 1,999 more institutions (user, grant, agreement to the
    current rules) and 99,999 more keys like it, each with its own token (new_token), key_hash and
    sealed secret (seal_secret). Returns every key's (api key, secret), a service token with the
    authorize scope, and counts."""
    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select

    from onboarding.accounts.models import User
    from onboarding.agreements.models import Agreement
    from onboarding.api.tokens import create_service_token
    from onboarding.db import db
    from onboarding.institutions.models import AccessGrant, Institution
    from onboarding.keys.credentials import new_hmac_secret, seal_secret
    from onboarding.keys.models import ApiKey
    from onboarding.keys.operations import create_key
    from onboarding.keys.tokens import API_KEY_PREFIX, new_token, public_id, token_hash
    from tests.factories import granted_institution

    started = time.perf_counter()
    upgrade()
    user = granted_institution("desk0000@bench0000.example", "Bench Liquidity 0000 BV",
                               scopes=("account:read", "market:read", "spot:trade"), max_keys=KEYS // INSTITUTIONS)
    institution = db.session.get(Institution, user.institution_id)
    issued = create_key(institution, kind="hmac", label="quoting engine 0", scopes=KEY_SCOPES,
                        ip_allowlist=KEY_ALLOWLIST, user_id=user.id)
    db.session.commit()

    def row(model, **where) -> dict[str, Any]:
        table = model.__table__
        clause = [table.c[name] == value for name, value in where.items()]
        return dict(db.session.execute(select(table).where(*clause)).mappings().one())

    def next_id(model) -> int:
        return (db.session.scalar(select(func.max(model.__table__.c.id))) or 0) + 1

    template = {"institution": row(Institution, id=institution.id), "user": row(User, id=user.id),
                "grant": row(AccessGrant, institution_id=institution.id, superseded_at=None),
                "agreement": row(Agreement, institution_id=institution.id), "key": row(ApiKey, id=issued.key.id)}
    first = {name: next_id(model) for name, model in
             (("institution", Institution), ("user", User), ("grant", AccessGrant), ("agreement", Agreement),
              ("key", ApiKey))}
    owners = [(institution.id, user.id)]
    institutions, users, grants, agreements = [], [], [], []
    for n in range(1, INSTITUTIONS):
        inst_id, user_id = first["institution"] + n - 1, first["user"] + n - 1
        institutions.append({**template["institution"], "id": inst_id, "legal_name": f"Bench Liquidity {n:04d} BV"})
        users.append({**template["user"], "id": user_id, "email": f"desk{n:04d}@bench{n:04d}.example",
                      "institution_id": inst_id})
        grants.append({**template["grant"], "id": first["grant"] + n - 1, "institution_id": inst_id})
        agreements.append({**template["agreement"], "id": first["agreement"] + n - 1, "institution_id": inst_id,
                           "user_id": user_id})
        owners.append((inst_id, user_id))
    for model, rows in ((Institution, institutions), (User, users), (AccessGrant, grants), (Agreement, agreements)):
        db.session.execute(insert(model.__table__), rows)
    db.session.commit()

    credentials = [(issued.api_key, issued.secret)]
    seen_ids = {template["key"]["public_id"]}
    key_id = first["key"]
    batch: list[dict[str, Any]] = []
    per_institution = KEYS // INSTITUTIONS
    for position, (inst_id, user_id) in enumerate(owners):
        for k in range(1 if position == 0 else 0, per_institution):
            token = new_token(API_KEY_PREFIX)
            shown = public_id(token)
            while shown in seen_ids:  # 62**8 public ids: a clash is all but impossible, but unique
                token = new_token(API_KEY_PREFIX)
                shown = public_id(token)
            seen_ids.add(shown)
            secret = new_hmac_secret()
            batch.append({**template["key"], "id": key_id, "institution_id": inst_id, "created_by_id": user_id,
                          "public_id": shown, "key_hash": token_hash(token), "label": f"quoting engine {k}",
                          "secret_sealed": seal_secret(secret, shown)})
            credentials.append((token, secret))
            key_id += 1
            if len(batch) == 10_000:
                db.session.execute(insert(ApiKey.__table__), batch)
                batch = []
    if batch:
        db.session.execute(insert(ApiKey.__table__), batch)
    db.session.commit()

    _, service_token = create_service_token("bench gateway", ["authorize"], created_by="bench")
    db.session.commit()
    counts = {"institutions": db.session.scalar(select(func.count()).select_from(Institution)),
              "active_institutions": db.session.scalar(select(func.count()).select_from(Institution).where(
                  Institution.status == "active")),
              "api_keys": db.session.scalar(select(func.count()).select_from(ApiKey)),
              "keys_with_sealed_secret": db.session.scalar(select(func.count()).select_from(ApiKey).where(
                  ApiKey.secret_sealed.is_not(None))),
              "build_seconds": round(time.perf_counter() - started, 1)}
    return credentials, service_token, counts


# ---------------------------------------------------------------------------
# 1. In process.


def measure_in_process(app, called: list[tuple[str, str]], mm, workdir: Path, token: str) -> dict[str, Any]:
    """decide() for signed, allowed requests (signed just before each call, outside the timing; a
    different client order id and timestamp each time) against the one indexed key_hash look-up. One
    warm-up round over the 1,000 keys, then TIMED_ROUNDS rounds, baseline and decision interleaved.
    The transaction is ended after each call (untimed), as a request does. Logging goes to a file at
    INFO, as in production (allowed decisions are not logged one by one unless AUTHORIZE_LOG_ALLOWED)."""
    from sqlalchemy import event, select

    from onboarding.db import db
    from onboarding.keys.authorize import AuthorizeCall, decide
    from onboarding.keys.models import ApiKey
    from onboarding.keys.tokens import token_hash

    serial = iter(range(10**9))
    timestamps = Timestamps()

    def call_for(api_key: str, secret: str) -> AuthorizeCall:
        query = mm.signed_query([*ORDER, ("newClientOrderId", f"inproc-{next(serial)}")], secret=secret,
                                timestamp=timestamps(api_key))
        return AuthorizeCall(method="POST", path=ORDER_PATH, query=query, body="", api_key=api_key,
                             client_ip=TRADER_IP)

    hashes = [token_hash(api_key) for api_key, _ in called]
    refused: dict[str, int] = {}

    def one_round(baseline_times: list[float], decision_times: list[float]) -> None:
        for h in hashes:
            started = time.perf_counter()
            found = db.session.execute(select(ApiKey.id).where(ApiKey.key_hash == h)).first()
            baseline_times.append(time.perf_counter() - started)
            db.session.commit()
            assert found is not None
        for api_key, secret in called:
            call = call_for(api_key, secret)
            started = time.perf_counter()
            decision = decide(call)
            decision_times.append(time.perf_counter() - started)
            db.session.commit()
            if not decision.allowed:
                refused[decision.reason] = refused.get(decision.reason, 0) + 1

    root = logging.getLogger()
    saved_handlers = root.handlers[:]
    log_file = logging.FileHandler(workdir / "decide.log")
    log_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers = [log_file]
    logging.disable(logging.NOTSET)
    try:
        with app.app_context():
            warm_baseline: list[float] = []
            warm_decisions: list[float] = []
            one_round(warm_baseline, warm_decisions)  # secrets opened and cached, statements compiled
            statements = {"n": 0}

            def count(*_args, **_kwargs):
                statements["n"] += 1

            event.listen(db.engine, "before_cursor_execute", count)
            try:
                api_key, secret = called[0]
                decide(call_for(api_key, secret))
                per_decision = statements["n"]
                statements["n"] = 0
                db.session.execute(select(ApiKey.id).where(ApiKey.key_hash == hashes[0])).first()
                per_lookup = statements["n"]
                db.session.commit()
            finally:
                event.remove(db.engine, "before_cursor_execute", count)

            baseline_times: list[float] = []
            decision_times: list[float] = []
            for _ in range(TIMED_ROUNDS):
                one_round(baseline_times, decision_times)
            figures = {
                "keys_called": len(called), "rounds": TIMED_ROUNDS,
                "decide": _summary_us(decision_times), "baseline_key_hash_lookup": _summary_us(baseline_times),
                "warmup_first_call_per_key": {"decide_median_us": _summary_us(warm_decisions)["median_us"],
                                              "lookup_median_us": _summary_us(warm_baseline)["median_us"]},
                "sql_statements_per_decision": per_decision, "sql_statements_per_lookup": per_lookup,
                "refused": refused,
            }
            figures["median_ratio_to_baseline"] = round(
                figures["decide"]["median_us"] / figures["baseline_key_hash_lookup"]["median_us"], 2)
            figures["target_median_us"] = TARGET_MEDIAN_US
            figures["passed"] = figures["decide"]["median_us"] <= TARGET_MEDIAN_US and not refused
            if not figures["passed"]:
                figures["profile"] = profile_decisions(called, call_for)
        figures["wsgi"] = measure_wsgi(app, called, mm, token)
    finally:
        logging.disable(logging.INFO)
        root.handlers = saved_handlers
        log_file.close()
    return figures


def measure_wsgi(app, called: list[tuple[str, str]], mm, token: str) -> dict[str, Any]:
    """The whole `POST /api/v1/authorize` request through the WSGI app in this process (Flask test
    client: service token, JSON, decide(), commit, JSON answer; no network), once per key, against
    `GET /healthz` the same way. No target: it shows what the HTTP figures add to decide()."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    serial = iter(range(10**9))
    timestamps = Timestamps()

    def payload(api_key: str, secret: str) -> dict[str, Any]:
        query = mm.signed_query([*ORDER, ("newClientOrderId", f"wsgi-{next(serial)}")], secret=secret,
                                timestamp=timestamps(api_key))
        return {"method": "POST", "path": ORDER_PATH, "query": query, "body": "", "headers": {KEY_HEADER: api_key},
                "client_ip": TRADER_IP}

    for api_key, secret in called[:100]:  # warm-up
        client.post("/api/v1/authorize", json=payload(api_key, secret), headers=headers)
        client.get("/healthz")
    authorize_times, health_times, refused = [], [], {}
    for api_key, secret in called:
        body = payload(api_key, secret)
        started = time.perf_counter()
        response = client.post("/api/v1/authorize", json=body, headers=headers)
        authorize_times.append(time.perf_counter() - started)
        answer = response.get_json(silent=True) or {}
        if response.status_code != 200 or answer.get("allowed") is not True:
            reason = f"{response.status_code}:{answer.get('reason')}"
            refused[reason] = refused.get(reason, 0) + 1
        started = time.perf_counter()
        response = client.get("/healthz")
        health_times.append(time.perf_counter() - started)
        assert response.status_code == 200
    authorize, health = _summary_us(authorize_times), _summary_us(health_times)
    return {"authorize": authorize, "healthz": health, "refused": refused,
            "median_ratio": round(authorize["median_us"] / health["median_us"], 2)}


def _where(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    for marker in ("/site-packages/", str(ROOT) + "/", "/lib/python"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            break
    return f"{filename}:{line}({name})"


def profile_decisions(called: list[tuple[str, str]], call_for) -> dict[str, list[dict[str, Any]]]:
    """cProfile over PROFILED_DECISIONS decisions (calls signed beforehand): the top 10 functions by
    cumulative time, as pstats lists them, and what decide() and _checked() spend in each function they
    call directly (times under the profiler, which inflates them; the shares are what matters)."""
    from onboarding.db import db
    from onboarding.keys.authorize import decide

    calls = [call_for(*called[i % len(called)]) for i in range(PROFILED_DECISIONS)]
    profiler = cProfile.Profile()
    profiler.enable()
    for call in calls:
        decide(call)
        db.session.commit()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    stats.sort_stats("cumulative")
    per = 1e6 / PROFILED_DECISIONS
    top = []
    for func in stats.fcn_list:  # sorted by cumulative time
        if func[2] == "<module>" or "cProfile" in func[0] or func[0] == "~":
            continue
        _primitive, total_calls, own, cumulative, _callers = stats.stats[func]
        top.append({"function": _where(func), "calls": total_calls,
                    "cumulative_us_per_decision": round(cumulative * per, 1),
                    "own_us_per_decision": round(own * per, 1)})
        if len(top) == 10:
            break
    parents = {func for func in stats.stats
               if func[0].endswith("keys/authorize.py") and func[2] in ("decide", "_checked")}
    decide_total = next(stats.stats[f][3] for f in parents if f[2] == "decide")
    parts = []
    for func, (_p, _n, _own, _cum, callers) in stats.stats.items():
        for caller, edge in callers.items():
            if caller in parents and func not in parents and func[0] != "~":
                parts.append({"function": _where(func), "called_from": caller[2],
                              "cumulative_us_per_decision": round(edge[3] * per, 1),
                              "share_of_decide": round(edge[3] / decide_total, 3)})
    parts.sort(key=lambda part: -part["cumulative_us_per_decision"])
    return {"top10_cumulative": top, "decide_parts": parts[:12],
            "decide_us_per_decision_under_profiler": round(decide_total * per, 1)}


# ---------------------------------------------------------------------------
# Processes: gunicorn, plain nginx; wrk.


def start_gunicorn(workdir: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    from tests.services import wait_for_port

    log = open(workdir / "gunicorn.log", "ab")  # the child keeps its own copy of the descriptor
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(GUNICORN_WORKERS), "--bind", f"127.0.0.1:{port}",
         "--chdir", str(ROOT), "--graceful-timeout", "5", "app:app"],
        cwd=ROOT, env=env, stdout=log, stderr=log)
    log.close()
    try:
        wait_for_port(port, timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:  # noqa: S310
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
    except BaseException:
        stop_process(process)
        raise
    return process


def stop_process(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


class PlainProxy:
    """nginx proxying /api/ straight to `upstream` (host:port): step 3's baseline."""

    def __init__(self, upstream: str, workers: str) -> None:
        from tests.gateway import nginx_binary
        from tests.services import free_port, wait_for_port

        self.prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-plain-"))
        os.chmod(self.prefix, 0o755)  # noqa: S103 (workers run as nobody when we are root)
        self.port = free_port()
        config = self.prefix / "nginx.conf"
        config.write_text(PLAIN_PROXY_CONF.format(prefix=self.prefix, port=self.port, upstream=upstream,
                                                  workers=workers))
        command = [nginx_binary(), "-p", str(self.prefix), "-e", str(self.prefix / "error.log"), "-c", str(config)]
        check = subprocess.run([*command, "-t", "-q"], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx rejects the plain proxy configuration:\n{check.stderr}")
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, timeout=10)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.process, signal.SIGTERM)
        shutil.rmtree(self.prefix, ignore_errors=True)


def write_requests(path: Path, lines: list[tuple[str, str, str, dict[str, str]]]) -> Path:
    with path.open("w") as handle:
        for method, target, body, headers in lines:
            fields = [method, target, body, *(f"{name}: {value}" for name, value in headers.items())]
            assert not any("\t" in f or "\n" in f for f in fields)
            handle.write("\t".join(fields) + "\n")
    return path


def run_wrk(workdir: Path, url: str, requests_file: Path, seconds: int) -> dict[str, Any]:
    script = workdir / "bench.lua"
    if not script.exists():
        script.write_text(WRK_SCRIPT)
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(WRK_CONNECTIONS), "-d", f"{seconds}s", "--timeout", "5s",
               "-s", str(script), url, "--", str(requests_file), str(WRK_THREADS)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("BENCHJSON "))
    seconds_run = raw["duration_us"] / 1e6
    return {"requests": raw["requests"], "seconds": round(seconds_run, 2),
            "requests_per_second": round(raw["requests"] / seconds_run, 1),
            "p50_ms": round(raw["p50_us"] / 1000, 2), "p90_ms": round(raw["p90_us"] / 1000, 2),
            "p99_ms": round(raw["p99_us"] / 1000, 2), "max_ms": round(raw["max_us"] / 1000, 2),
            "mean_ms": round(raw["mean_us"] / 1000, 2), "non_2xx": raw["non_2xx"],
            "socket_errors": {k: raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")}}


def decision_counts(redis_url: str) -> dict[str, int]:
    """Decisions counted so far by the app's usage counters in Redis (keys.usage), by reason, once every
    worker has pushed its tally (each does once a second)."""
    from redis import Redis

    from onboarding.keys.usage import COUNTS, PUSH_SECONDS

    time.sleep(PUSH_SECONDS + 1)

    connection = Redis.from_url(redis_url)
    try:
        totals: dict[str, int] = {}
        for field, value in connection.hgetall(COUNTS).items():
            reason = field.decode().rsplit("|", 1)[1]
            totals[reason] = totals.get(reason, 0) + int(value)
        return totals
    finally:
        connection.close()


def counted_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {reason: after.get(reason, 0) - before.get(reason, 0) for reason in after
            if after.get(reason, 0) != before.get(reason, 0)}


# ---------------------------------------------------------------------------
# 2. and 3. Over HTTP.


def authorize_lines(called, mm, token: str, count: int, tag: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """`count` authorize calls as the gateway sends them, each a different signed request."""
    lines = []
    timestamps = Timestamps()
    for n in range(count):
        api_key, secret = called[n % len(called)]
        query = mm.signed_query([*ORDER, ("newClientOrderId", f"{tag}-{n}")], secret=secret,
                                timestamp=timestamps(api_key), recv_window=HTTP_RECV_WINDOW)
        body = json.dumps({"method": "POST", "path": ORDER_PATH, "query": query, "body": "",
                           "headers": {KEY_HEADER: api_key}, "client_ip": TRADER_IP}, separators=(",", ":"))
        lines.append(("POST", "/api/v1/authorize", body,
                      {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}))
    return lines


def client_lines(called, mm, count: int, tag: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """`count` trading requests prepared by examples/mm_client.py's Client, each signed differently,
    sent from behind a trusted proxy (X-Forwarded-For: an allowed address)."""
    lines = []
    clients = {}
    timestamps = Timestamps()
    for n in range(count):
        api_key, secret = called[n % len(called)]
        client = clients.get(api_key)
        if client is None:
            client = clients[api_key] = mm.Client("http://gateway.bench", api_key, secret=secret,
                                                  recv_window=HTTP_RECV_WINDOW)
        prepared = client.prepare("POST", ORDER_PATH, [*ORDER, ("newClientOrderId", f"{tag}-{n}")],
                                  timestamp=timestamps(api_key))
        headers = {name: value for name, value in prepared.header_items()}
        headers["X-Forwarded-For"] = TRADER_IP
        headers["Content-Length"] = "0"  # POST without a body
        lines.append((prepared.get_method(), prepared.full_url.removeprefix("http://gateway.bench"), "", headers))
    return lines


def measure_http(workdir: Path, gunicorn_url: str, redis_url: str, called, mm, token: str) -> dict[str, Any]:
    health = write_requests(workdir / "healthz.req", [("GET", "/healthz", "", {})])
    run_wrk(workdir, gunicorn_url, health, WARMUP_SECONDS)
    baseline = run_wrk(workdir, gunicorn_url, health, WRK_SECONDS)

    warm = write_requests(workdir / "authorize-warmup.req", authorize_lines(called, mm, token, WARMUP_CALLS, "w2"))
    main = write_requests(workdir / "authorize.req", authorize_lines(called, mm, token, SIGNED_CALLS, "h2"))
    run_wrk(workdir, gunicorn_url, warm, WARMUP_SECONDS)
    before = decision_counts(redis_url)
    authorize = run_wrk(workdir, gunicorn_url, main, WRK_SECONDS)
    authorize["decisions_counted"] = counted_since(before, decision_counts(redis_url))
    ratio = round(authorize["requests_per_second"] / baseline["requests_per_second"], 3)
    # The server also finishes the few requests in flight when wrk stops: it may count a few more.
    valid = (authorize["non_2xx"] == 0 and set(authorize["decisions_counted"]) == {"ok"}
             and authorize["decisions_counted"]["ok"] >= authorize["requests"])
    return {"healthz": baseline, "authorize": authorize, "throughput_ratio": ratio,
            "target_throughput_ratio": TARGET_THROUGHPUT_RATIO,
            "all_decisions_allowed": valid, "passed": valid and ratio >= TARGET_THROUGHPUT_RATIO}


def measure_gateway(workdir: Path, gunicorn_url: str, redis_url: str, called, mm, token: str) -> dict[str, Any]:
    from tests.gateway import StubUpstream, start_gateway

    with ExitStack() as stack:
        upstream = StubUpstream()
        stack.callback(upstream.stop)
        # wrk drops its connections when a run ends; the stub's broken-pipe tracebacks are noise.
        upstream.httpd.handle_error = lambda request, client_address: None
        plain = PlainProxy(upstream.address, workers="auto")
        stack.callback(plain.stop)
        baseline_lines = write_requests(workdir / "plain.req", client_lines(called, mm, SIGNED_CALLS, "p3"))
        run_wrk(workdir, plain.url, baseline_lines, WARMUP_SECONDS)
        forwarded = len(upstream.requests)
        baseline = run_wrk(workdir, plain.url, baseline_lines, WRK_SECONDS)
        baseline["reached_upstream"] = len(upstream.requests) - forwarded
        plain.stop()

        gateway = start_gateway(gunicorn_url, token, upstream=upstream, real_ip_from=["127.0.0.1"],
                                worker_processes="auto", error_log_level="warn")
        stack.callback(gateway.stop)
        warm = write_requests(workdir / "gateway-warmup.req", client_lines(called, mm, WARMUP_CALLS, "w3"))
        main = write_requests(workdir / "gateway.req", client_lines(called, mm, SIGNED_CALLS, "g3"))
        run_wrk(workdir, gateway.url, warm, WARMUP_SECONDS)
        before, forwarded = decision_counts(redis_url), len(upstream.requests)
        through = run_wrk(workdir, gateway.url, main, WRK_SECONDS)
        through["decisions_counted"] = counted_since(before, decision_counts(redis_url))
        through["reached_upstream"] = len(upstream.requests) - forwarded
        # The access log's last field: "refusal=-" (empty) for a request that was let through.
        logged = [line.rsplit("refusal=", 1)[-1] for line in gateway.access_log().splitlines() if "refusal=" in line]
        through["gateway_refusals_logged"] = sum(1 for value in logged if value not in ("", "-"))
        valid = (through["non_2xx"] == 0 and set(through["decisions_counted"]) == {"ok"}
                 and through["decisions_counted"]["ok"] >= through["reached_upstream"] >= through["requests"])
    return {"plain_proxy": baseline, "gateway": through,
            "throughput_ratio": round(through["requests_per_second"] / baseline["requests_per_second"], 3),
            "all_requests_allowed_and_forwarded": valid}


# ---------------------------------------------------------------------------
# The report.


def print_table(figures: dict[str, Any]) -> None:
    rows = []
    proc = figures.get("in_process")
    if proc:
        d, b = proc["decide"], proc["baseline_key_hash_lookup"]
        rows.append(("1. decide() median, µs", f"{d['median_us']:.1f}", f"{b['median_us']:.1f} (lookup)",
                     f"{proc['median_ratio_to_baseline']:.2f}", f"≤ {TARGET_MEDIAN_US:.0f} µs",
                     "PASS" if proc["passed"] else "FAIL"))
        rows.append(("1. decide() p99, µs", f"{d['p99_us']:.1f}", f"{b['p99_us']:.1f} (lookup)",
                     f"{d['p99_us'] / b['p99_us']:.2f}", "-", "-"))
        if "wsgi" in proc:
            w = proc["wsgi"]
            rows.append(("1b. /authorize via WSGI median, µs", f"{w['authorize']['median_us']:.1f}",
                         f"{w['healthz']['median_us']:.1f} (/healthz)", f"{w['median_ratio']:.2f}", "none", "-"))
    http = figures.get("http")
    if http:
        a, h = http["authorize"], http["healthz"]
        rows.append(("2. POST /authorize req/s", f"{a['requests_per_second']:.0f}",
                     f"{h['requests_per_second']:.0f} (/healthz)", f"{http['throughput_ratio']:.2f}",
                     f"≥ {TARGET_THROUGHPUT_RATIO:.2f}", "PASS" if http["passed"] else "FAIL"))
        rows.append(("2. POST /authorize p50, ms", f"{a['p50_ms']:.2f}", f"{h['p50_ms']:.2f} (/healthz)",
                     f"{a['p50_ms'] / h['p50_ms']:.2f}", "-", "-"))
        rows.append(("2. POST /authorize p99, ms", f"{a['p99_ms']:.2f}", f"{h['p99_ms']:.2f} (/healthz)",
                     f"{a['p99_ms'] / h['p99_ms']:.2f}", "-", "-"))
    gw = figures.get("gateway")
    if gw:
        g, p = gw["gateway"], gw["plain_proxy"]
        rows.append(("3. nginx gateway req/s", f"{g['requests_per_second']:.0f}",
                     f"{p['requests_per_second']:.0f} (plain proxy)", f"{gw['throughput_ratio']:.2f}",
                     "none", "-"))
        rows.append(("3. nginx gateway p50, ms", f"{g['p50_ms']:.2f}", f"{p['p50_ms']:.2f} (plain proxy)",
                     f"{g['p50_ms'] / p['p50_ms']:.2f}", "none", "-"))
        rows.append(("3. nginx gateway p99, ms", f"{g['p99_ms']:.2f}", f"{p['p99_ms']:.2f} (plain proxy)",
                     f"{g['p99_ms'] / p['p99_ms']:.2f}", "none", "-"))
    header = ("figure", "measured", "baseline", "ratio", "target", "result")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  " + "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(r)))


def print_details(figures: dict[str, Any]) -> None:
    db_counts = figures["database"]
    print(f"\n  database: SQLite file, {db_counts['institutions']} institutions ({db_counts['active_institutions']} "
          f"active, each with a grant and the current rules agreed), {db_counts['api_keys']} API keys "
          f"({db_counts['keys_with_sealed_secret']} with a real sealed secret), built in "
          f"{db_counts['build_seconds']} s; Redis {figures['environment']['redis']}")
    proc = figures.get("in_process")
    if proc:
        print(f"  1. {proc['rounds'] * proc['keys_called']} decisions over {proc['keys_called']} keys, refused: "
              f"{proc['refused'] or 'none'}; SQL statements per decision "
              f"{proc['sql_statements_per_decision']} (look-up: {proc['sql_statements_per_lookup']}); first "
              f"call per key (warm-up) median {proc['warmup_first_call_per_key']['decide_median_us']} µs")
        if "wsgi" in proc:
            w = proc["wsgi"]
            print(f"  1b. whole POST /api/v1/authorize through the WSGI app (Flask test client, "
                  f"{w['authorize']['samples']} calls): median {w['authorize']['median_us']} µs, p99 "
                  f"{w['authorize']['p99_us']} µs; GET /healthz median {w['healthz']['median_us']} µs; "
                  f"refused {w['refused'] or 'none'}")
        if "profile" in proc:
            profile = proc["profile"]
            print(f"     target missed: where the time goes (cProfile, {PROFILED_DECISIONS} decisions; µs per decision "
                  f"under the profiler, where decide() takes {profile['decide_us_per_decision_under_profiler']} µs)")
            print("     top 10 functions by cumulative time:")
            for entry in profile["top10_cumulative"]:
                print(f"       {entry['cumulative_us_per_decision']:8.1f} cum {entry['own_us_per_decision']:7.1f} own"
                      f"  {entry['calls']:>6} calls  {entry['function']}")
            print("     decide() and _checked(), by the function they call:")
            for entry in profile["decide_parts"]:
                print(f"       {entry['cumulative_us_per_decision']:8.1f} µs {entry['share_of_decide']:6.1%}  "
                      f"{entry['function']}  (from {entry['called_from']})")
    http = figures.get("http")
    if http:
        a = http["authorize"]
        print(f"  2. gunicorn {GUNICORN_WORKERS} sync workers, SQLite file, Redis, JOBS_EAGER=1; wrk -t{WRK_THREADS} "
              f"-c{WRK_CONNECTIONS} -d{WRK_SECONDS}s (after {WARMUP_SECONDS} s warm-up) on loopback: authorize "
              f"{a['requests']} requests ({SIGNED_CALLS} different signed calls), non-2xx {a['non_2xx']}, "
              f"decisions {a['decisions_counted']}, socket errors {a['socket_errors']}; /healthz "
              f"{http['healthz']['requests']} requests")
    gw = figures.get("gateway")
    if gw:
        g = gw["gateway"]
        print(f"  3. nginx (worker_processes auto) + njs gateway -> gunicorn authorize -> stub upstream: "
              f"{g['requests']} requests, non-2xx {g['non_2xx']}, decisions {g['decisions_counted']}, reached "
              f"upstream {g['reached_upstream']}; plain proxy {gw['plain_proxy']['requests']} requests, reached "
              f"upstream {gw['plain_proxy']['reached_upstream']}")
    for problem in figures.get("errors", []):
        print(f"  ERROR: {problem}")


def main() -> dict:
    logging.disable(logging.INFO)
    sys.path.insert(0, str(ROOT))
    from onboarding import create_app
    from onboarding.db import db
    from tests.services import RedisServer, free_port

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    mm = _mm_client()
    rng = random.Random(20261)
    secret_key = secrets.token_urlsafe(48)
    encryption_keys = f"bench1:{base64.b64encode(os.urandom(32)).decode()}"
    figures: dict[str, Any] = {
        "environment": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "sqlite": sqlite3.sqlite_version,
                        "gunicorn": _version([sys.executable, "-m", "gunicorn", "--version"]),
                        "nginx": _version(["nginx", "-v"]), "redis": _version(["redis-server", "--version"]),
                        "wrk": _version(["wrk", "--version"]),
                        # Other work on the machine skews the figures: what ran when each step began.
                        "machine": {"start": _others_running()}},
        "settings": {"institutions": INSTITUTIONS, "keys": KEYS, "keys_called": CALLED_KEYS,
                     "wrk": f"-t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{WRK_SECONDS}s, {WARMUP_SECONDS}s warm-up",
                     "signed_calls_per_http_run": SIGNED_CALLS, "http_recv_window_ms": HTTP_RECV_WINDOW,
                     "gunicorn_workers": GUNICORN_WORKERS, "database": "sqlite file", "app_env": "production"},
        "errors": [],
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-authorize-"))
    started = time.perf_counter()
    with ExitStack() as stack:
        redis = RedisServer()
        stack.callback(redis.cleanup)
        redis.start()
        config = _app_config(workdir, redis.url, secret_key, encryption_keys)
        app = create_app(config)
        with app.app_context(), contextlib.redirect_stdout(io.StringIO()):  # the console e-mails of the set-up
            credentials, token, figures["database"] = build_database()
        called = rng.sample(credentials, CALLED_KEYS)
        del credentials

        print("\nAuthorize benchmark (100,000 keys, SQLite file, Redis replay guard)")
        try:
            figures["environment"]["machine"]["in_process_step"] = _others_running()
            figures["in_process"] = measure_in_process(app, called, mm, workdir, token)
        except Exception as exc:  # report what was measured, go on with the other steps
            figures["errors"].append(f"in-process step failed: {exc!r}")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()

        env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": secret_key, "ENCRYPTION_KEYS": encryption_keys,
               "DATABASE_URL": config["DATABASE_URL"], "REDIS_URL": redis.url, "JOBS_EAGER": "1",
               "DOCUMENTS_DIR": config["DOCUMENTS_DIR"], "MAIL_BACKEND": "console", "PYTHONPATH": str(ROOT)}
        env.pop("GUNICORN_CMD_ARGS", None)
        try:
            port = free_port()
            gunicorn = start_gunicorn(workdir, port, env)
            stack.callback(stop_process, gunicorn)
            url = f"http://127.0.0.1:{port}"
            try:
                figures["environment"]["machine"]["http_step"] = _others_running()
                figures["http"] = measure_http(workdir, url, redis.url, called, mm, token)
            except Exception as exc:
                figures["errors"].append(f"HTTP step failed: {exc!r}")
            try:
                figures["environment"]["machine"]["gateway_step"] = _others_running()
                figures["gateway"] = measure_gateway(workdir, url, redis.url, called, mm, token)
            except Exception as exc:
                figures["errors"].append(f"gateway step failed: {exc!r}")
        except Exception as exc:
            figures["errors"].append(f"gunicorn did not start: {exc!r}")
    figures["environment"]["machine"]["end"] = _others_running()
    figures["total_seconds"] = round(time.perf_counter() - started, 1)
    if not figures["errors"]:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        figures["logs_kept_in"] = str(workdir)

    print_table(figures)
    print_details(figures)
    print(f"  whole bench: {figures['total_seconds']} s on {figures['environment']['cpus']} CPUs; the machine at "
          f"each step (1-minute load, another test run going on): {figures['environment']['machine']}")

    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    existing["authorize"] = figures
    RESULTS.write_text(json.dumps(existing, indent=2, default=str))
    return figures


if __name__ == "__main__":
    main()
