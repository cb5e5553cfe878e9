#!/usr/bin/env bash
# `make run`: migrate, seed the demo, start Redis + an RQ worker + the web server. Ctrl-C stops all.
set -uo pipefail
cd "$(dirname "$0")/.."
export APP_ENV="${APP_ENV:-development}"
export FLASK_APP=app
BIN=.venv/bin
PORT="${PORT:-5000}"
# Links in e-mails and letters point at this server unless BASE_URL says otherwise.
export BASE_URL="${BASE_URL:-http://127.0.0.1:$PORT}"
# The demo gateway's port, also named in the example commands seed-demo prints.
export GATEWAY_PORT="${GATEWAY_PORT:-8080}"
pids=()

stop_all() {
  trap - INT TERM EXIT
  echo; echo "Stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  echo "Stopped."
}
trap stop_all INT TERM EXIT

# Approval letters are rendered by WeasyPrint, which needs Pango and a font.
bash scripts/ensure-packages.sh "/usr/lib/$(uname -m)-linux-gnu/libpangoft2-1.0.so.0=libpangoft2-1.0-0" \
  /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf=fonts-dejavu-core || true
$BIN/flask db upgrade || { echo "Database migration failed."; exit 1; }
$BIN/flask seed-demo || { echo "Loading demo data failed."; exit 1; }

if [[ -z "${REDIS_URL:-}" && -z "${JOBS_EAGER:-}" ]]; then
  bash scripts/ensure-packages.sh redis-server=redis-server || true
  if command -v redis-server >/dev/null 2>&1; then
    REDIS_PORT="${REDIS_PORT:-6390}"
    mkdir -p instance/redis
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir instance/redis \
      >instance/redis/redis.log 2>&1 &
    pids+=($!)
    for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
      export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
    fi
  fi
fi

# Run a command again whenever it ends (a crash, a lost database): jobs must not wait for someone to notice.
# Stopping the loop (stop_all) stops the command too.
supervise() {
  local name=$1 child=""
  shift
  trap '[[ -n "$child" ]] && kill "$child" 2>/dev/null; wait 2>/dev/null; exit 0' INT TERM
  while true; do
    "$@" &
    child=$!
    wait "$child"
    echo "$name exited (status $?); starting it again in 2 s."
    sleep 2
  done
}

if [[ -n "${REDIS_URL:-}" && -z "${JOBS_EAGER:-}" ]]; then
  echo "Jobs: Redis at $REDIS_URL with an RQ worker (e-mails it sends are printed here)."
  WORKER_LOG_LEVEL="${WORKER_LOG_LEVEL:-WARNING}" supervise "The worker" $BIN/flask worker &
  pids+=($!)
else
  export JOBS_EAGER=1
  echo "*** Redis could not be started: jobs (e-mail, checks) run inside the web process after each commit. ***"
fi

# The exchange's gateway in front of a demo trading system: nginx asks this service about every signed
# request (see deploy/nginx/). Optional: without nginx, everything else still runs.
gateway=""
if bash scripts/ensure-packages.sh /usr/sbin/nginx=nginx \
     /usr/lib/nginx/modules/ngx_http_js_module.so=libnginx-mod-http-js >/dev/null 2>&1; then
  GW="$PWD/instance/gateway"
  mkdir -p "$GW"
  if [[ ! -s "$GW/token.conf" ]]; then
    token=$($BIN/flask service-token create --name "local gateway (make run)" --scope authorize | tail -n1)
    echo "$token" | $BIN/python deploy/nginx/render.py --write-token-file "$GW/token.conf" >/dev/null
  fi
  $BIN/python deploy/nginx/demo_exchange.py --port 9090 &
  pids+=($!)
  $BIN/python deploy/nginx/render.py --prefix "$GW" --listen "127.0.0.1:$GATEWAY_PORT" \
    --authorize-url "http://127.0.0.1:$PORT" --trading 127.0.0.1:9090 --token-file "$GW/token.conf" \
    --foreground >"$GW/nginx.conf" && nginx -p "$GW" -c "$GW/nginx.conf" &
  pids+=($!)
  gateway="http://127.0.0.1:$GATEWAY_PORT"
fi

echo
echo "Serving on http://127.0.0.1:$PORT  (Ctrl-C stops the web server, the worker, Redis and the gateway)"
if [[ -n "$gateway" ]]; then
  echo "Gateway (nginx) on $gateway in front of a demo trading system: send signed requests there with"
  echo "examples/mm_client.py (the demo keys are in instance/demo-api-keys.txt)."
fi
$BIN/flask run --host 127.0.0.1 --port "$PORT" &
pids+=($!)
wait "${pids[-1]}"
