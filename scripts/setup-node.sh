#!/usr/bin/env bash
# A Ray cluster node's set-up (ray_cluster.yaml): uv and the locked Python environment, nothing
# else. PostgreSQL and Redis are external services, named by the gateway's MOVEHUB_* settings;
# scripts/setup.sh (which installs and migrates them locally) is for one machine only.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"

if ! command -v uv >/dev/null 2>&1; then
  # uv from PyPI in a venv of its own: Ubuntu's system Python refuses `pip install --user`,
  # and its venv needs python3-venv, which cloud images may lack.
  if ! python3 -m venv "$HOME/.local/uv-env" >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    python3 -m venv --clear "$HOME/.local/uv-env"
  fi
  "$HOME/.local/uv-env/bin/pip" install --quiet uv
  mkdir -p "$HOME/.local/bin" && ln -sf "$HOME/.local/uv-env/bin/uv" "$HOME/.local/bin/uv"
fi

# Ray needs one Python minor and one Ray version on every node and in every gateway: the lock
# and 3.11 (the Dockerfile's) give that; uv fetches 3.11 when the image has another Python.
uv sync --frozen --no-dev --python 3.11
