#!/usr/bin/env bash
# The run command: set up, then serve the API with local Ray, demo data and the driver simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.local/bin:$PATH"
# Under `uv run` Ray would pack this checkout into its session and build a second virtualenv
# there for its workers, at every start; the workers use this one (the project is installed).
export RAY_ENABLE_UV_RUN_RUNTIME_ENV="${RAY_ENABLE_UV_RUN_RUNTIME_ENV:-0}"
exec uv run --frozen movehub up "$@"
