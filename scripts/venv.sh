#!/usr/bin/env bash
# Create or refresh .venv with smkit and its pinned dependencies. Re-runs are cheap: the venv
# is rebuilt only when pyproject.toml or the image pins change.
# SMKIT_VENV=/path and SMKIT_INSTALL=/path/to/smkit.whl install a built wheel into a venv of
# its own instead (the wheel test does), with the same pins.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${SMKIT_VENV:-.venv}
if [ -n "${SMKIT_INSTALL:-}" ]; then TARGET=("$SMKIT_INSTALL"); else TARGET=(-e ".[dev]"); fi
STAMP=$VENV/.smkit-stamp
WANT=$(cat pyproject.toml container/requirements.txt container/requirements-server.txt requirements-host.lock ${SMKIT_INSTALL:+"$SMKIT_INSTALL"} | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ]; then
  exit 0
fi
echo "smkit: preparing $VENV (Python $(python3 -V 2>&1 | cut -d' ' -f2))" >&2
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade "pip==26.3"
# The image pins are constraints: the host trains with exactly the versions the image serves.
# requirements-host.lock pins everything else the tooling pulls in.
"$VENV/bin/python" -m pip install -q -c container/requirements.txt -c container/requirements-server.txt -c requirements-host.lock \
  "${TARGET[@]}"
echo "$WANT" >"$STAMP"
