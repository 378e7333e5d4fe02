#!/usr/bin/env bash
# The test command: set up (with browser and PDF tools), then ruff, mypy and the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export PATH="$HOME/.local/bin:$PATH"
echo "== ruff"; uv run --frozen ruff check .; uv run --frozen ruff format --check .
echo "== mypy"; uv run --frozen mypy
echo "== pages (eslint, prettier, tsc)"; bash scripts/frontend-lint.sh
echo "== docker-compose config"  # with random secrets: the file itself holds none
compose_env="$(mktemp)"; bash scripts/compose-env.sh >"$compose_env"
docker-compose --env-file "$compose_env" -f docker-compose.yml config -q; rm -f "$compose_env"
echo "== workflow, alert rules"  # also inside pytest (tests/unit/test_operations_config.py)
uv run --frozen check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/ci.yml
promtool check rules deploy/prometheus/rules/*.yml >/dev/null
promtool test rules deploy/prometheus/tests/*.yml >/dev/null
echo "== pytest"; uv run --frozen pytest -q -p no:cacheprovider --durations=20 "$@"
