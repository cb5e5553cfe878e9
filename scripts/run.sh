#!/usr/bin/env bash
# `make run`: migrate, seed the demo, start Redis + an RQ worker + the web server. Ctrl-C stops all.
set -uo pipefail
cd "$(dirname "$0")/.."
export APP_ENV="${APP_ENV:-development}"
export FLASK_APP=app
BIN=.venv/bin
PORT="${PORT:-5000}"
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

if [[ -n "${REDIS_URL:-}" && -z "${JOBS_EAGER:-}" ]]; then
  echo "Jobs: Redis at $REDIS_URL with an RQ worker (e-mails it sends are printed here)."
  WORKER_LOG_LEVEL="${WORKER_LOG_LEVEL:-WARNING}" $BIN/flask worker &
  pids+=($!)
else
  export JOBS_EAGER=1
  echo "*** Redis could not be started: jobs (e-mail, checks) run inside the web process after each commit. ***"
fi

echo
echo "Serving on http://127.0.0.1:$PORT  (Ctrl-C stops the web server, the worker and Redis)"
$BIN/flask run --host 127.0.0.1 --port "$PORT" &
pids+=($!)
wait "${pids[-1]}"
