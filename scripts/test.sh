#!/usr/bin/env bash
# The test command: set up (with browser and PDF tools), then ruff, mypy and the whole pytest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export PATH="$HOME/.local/bin:$PATH"
echo "== ruff"; uv run --frozen ruff check .
echo "== mypy"; uv run --frozen mypy
echo "== docker-compose config"; docker-compose -f docker-compose.yml config -q
echo "== pytest"; uv run --frozen pytest -q -p no:cacheprovider "$@"
