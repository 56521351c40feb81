#!/usr/bin/env bash
# Create or refresh .venv with smkit and its pinned dependencies. Re-runs are cheap: the venv
# is rebuilt only when pyproject.toml or the image pins change.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
STAMP=$VENV/.smkit-stamp
WANT=$(cat pyproject.toml container/requirements.txt container/requirements-server.txt requirements-host.lock | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ]; then
  exit 0
fi
echo "smkit: preparing $VENV (Python $(python3 -V 2>&1 | cut -d' ' -f2))" >&2
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade "pip==26.3"
# The image pins are constraints: the host trains with exactly the versions the image serves.
# requirements-host.lock pins everything else the tooling pulls in.
"$VENV/bin/python" -m pip install -q -c container/requirements.txt -c container/requirements-server.txt -c requirements-host.lock \
  -e ".[dev]"
echo "$WANT" >"$STAMP"
