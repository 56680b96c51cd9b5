#!/usr/bin/env bash
# A separate venv with the real Azure Functions Python worker's indexing code (azure-functions-runtime),
# so tests/test_worker_indexing.py indexes function_app.py exactly as the worker does in Azure.
# The package declares Python >=3.13 for the worker process as a whole; its indexing code is pure
# Python that runs on 3.11, hence --no-deps --ignore-requires-python.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNTIME_VERSION="1.3.0"
VENV=.tools/worker-venv
MARKER="$VENV/.installed-$RUNTIME_VERSION"
if [[ -f "$MARKER" && "$MARKER" -nt requirements.txt && "$MARKER" -nt constraints.txt && "$MARKER" -nt "$0" ]]; then
    exit 0
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet -r requirements.txt -c constraints.txt
"$VENV/bin/python" -m pip install --quiet --no-deps --ignore-requires-python "azure-functions-runtime==$RUNTIME_VERSION"
touch "$MARKER"
