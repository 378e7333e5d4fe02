#!/usr/bin/env bash
# The pages' JavaScript (gateway/static): ESLint, Prettier and TypeScript's checker over JSDoc
# (tsc --checkJs, no emit). Installs the locked npm tools first; the pages have no build step.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "== eslint";   npx --no-install eslint gateway/static
echo "== prettier"; npx --no-install prettier --check --log-level warn gateway/static
echo "== tsc";      npx --no-install tsc -p tsconfig.json
