#!/usr/bin/env bash
# Build smkit's wheel into dist/, with dist/constraints.txt: the pins the image serves and the
# tooling was tested with. Install it anywhere (Python 3.11), outside this checkout:
#   python3.11 -m venv ~/.venvs/smkit
#   ~/.venvs/smkit/bin/pip install -c dist/constraints.txt dist/smkit-*.whl
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist/smkit-*.whl
.venv/bin/python -m pip wheel -q --no-deps -w dist .
cat container/requirements.txt container/requirements-server.txt requirements-host.lock \
  | grep -v '^\s*#' | grep -v '^\s*$' >dist/constraints.txt
ls dist/smkit-*.whl
