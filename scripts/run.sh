#!/usr/bin/env bash
# The run command: set up, then serve the API with local Ray, demo data and the driver simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.local/bin:$PATH"
exec uv run --frozen movehub up "$@"
