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
# Coverage of dispatch, actors, gateway and persistence (config: pyproject.toml [tool.coverage]),
# gateway subprocesses included; below the floor the run fails. Ray actor processes are not
# measured (Ray ends them without exit hooks): their logic has in-process tests. A run of a
# subset (`./scripts/test.sh tests/unit`) can pass --cov-fail-under=0.
echo "== pytest"
status=0
uv run --frozen pytest -q -p no:cacheprovider --durations=20 \
  --cov --cov-report=xml:test-artifacts/coverage.xml --cov-fail-under=85 "$@" || status=$?
echo "== coverage: the least-covered modules (every module: test-artifacts/coverage.xml)"
uv run --frozen coverage report --sort=cover --skip-covered 2>/dev/null | head -n 17 || true
exit "$status"
