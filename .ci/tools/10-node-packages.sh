#!/usr/bin/env bash
# adaptivecards (validates every Teams card) and Azurite (Table Storage for alert state), pinned in package-lock.json.
set -euo pipefail
if [[ -f node_modules/.installed && node_modules/.installed -nt package-lock.json ]]; then
    exit 0
fi
command -v npm >/dev/null || { echo "npm is required for the tests (Node.js 20+)" >&2; exit 1; }
npm ci --no-audit --no-fund --loglevel=error
touch node_modules/.installed
