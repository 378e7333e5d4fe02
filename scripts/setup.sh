#!/usr/bin/env bash
# Everything MoveHub needs on a fresh machine, idempotent: uv, Python deps, running PostgreSQL
# and Redis, PostGIS, (with --test) Chromium and poppler for the e2e and PDF tests, then the
# database roles, extensions and migrations.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test_tools=0
[ "${1:-}" = "--test" ] && want_test_tools=1

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
is_root() { [ "$(id -u)" = 0 ]; }
apt_missing=()
need_apt() { dpkg -s "$1" >/dev/null 2>&1 || apt_missing+=("$1"); }

# 1. uv
if ! command -v uv >/dev/null 2>&1; then
  say "installing uv"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi

# 2. system packages: PostGIS always; browser, PDF tools and compose validator for tests
need_apt postgresql-15-postgis-3
need_apt wrk  # the load generator of `movehub bench rest`
if [ "$want_test_tools" = 1 ]; then
  need_apt chromium; need_apt poppler-utils; need_apt docker-compose
  need_apt prometheus; need_apt nginx-light  # promtool for the alert rules; nginx -t for the proxy
  command -v npm >/dev/null 2>&1 || need_apt npm  # the pages' eslint/prettier/tsc (Node >= 20)
fi
if [ "${#apt_missing[@]}" -gt 0 ]; then
  if is_root; then
    say "installing with apt: ${apt_missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
  else
    echo "missing system packages: ${apt_missing[*]}" >&2
    echo "install them with: sudo apt-get install ${apt_missing[*]}" >&2
    exit 1
  fi
fi

# 3. PostgreSQL and Redis running on localhost
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect 15 main start
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi

# 4. Python dependencies (locked)
say "syncing Python dependencies"
uv sync --frozen --quiet

# 5. database roles, extensions, migrations
uv run --frozen movehub bootstrap
