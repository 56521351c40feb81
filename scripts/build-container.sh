#!/usr/bin/env bash
# Build the default inference image offline (server base + container/requirements.txt), or
# a seller's product image with SPEC=smkit.yaml. A thin call to smkit's image builder
# (packaging/smkit/image/build.py): wheels are fetched on the host and the build needs no network.
# Usage: build-container.sh IMAGE_TAG [EXTRA_TAG...]
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${1:?usage: build-container.sh IMAGE [EXTRA_TAG...]}
shift
bash scripts/ensure-engine.sh
bash scripts/venv.sh
TAGS=(--tag "$IMAGE")
for t in "$@"; do TAGS+=(--tag "$t"); done
if [ -n "${SPEC:-}" ]; then
  exec .venv/bin/python -m smkit.cli build "$SPEC" "${TAGS[@]}"
fi
exec .venv/bin/python -m smkit.cli build --default "${TAGS[@]}"
