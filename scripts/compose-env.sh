#!/usr/bin/env bash
# Prints an env file for docker-compose.yml: each variable of compose.env.example, 32 random bytes in hex.
set -euo pipefail
cd "$(dirname "$0")/.."
for name in $(sed -n 's/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p' compose.env.example); do
  echo "$name=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
done
