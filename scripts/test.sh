#!/usr/bin/env bash
# `make test`: install what the tests need, then run the whole suite on SQLite and again on
# PostgreSQL. The tests start their own throwaway Redis and PostgreSQL servers and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_INITDB=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -n1 || true)
bash scripts/ensure-packages.sh \
  redis-server=redis-server \
  "${PG_INITDB:-/usr/lib/postgresql/15/bin/initdb}=postgresql" \
  chromium=chromium \
  /usr/sbin/clamd=clamav-daemon \
  /usr/sbin/nginx=nginx \
  /usr/lib/nginx/modules/ngx_http_js_module.so=libnginx-mod-http-js \
  /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf=fonts-dejavu-core \
  "/usr/lib/$(uname -m)-linux-gnu/libpangoft2-1.0.so.0=libpangoft2-1.0-0"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
mkdir -p artifacts
status=0
echo "=== Test suite on SQLite ==="
TEST_DATABASE=sqlite .venv/bin/python -m pytest "$@" || status=$?
echo "=== Test suite on PostgreSQL ==="
TEST_DATABASE=postgresql .venv/bin/python -m pytest "$@" || status=$?
exit $status
