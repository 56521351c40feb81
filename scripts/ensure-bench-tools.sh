#!/usr/bin/env bash
# Install the load generator the benchmark uses (Debian's wrk) when it is missing.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then exit 0; fi
echo "smkit: installing wrk for the benchmark" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq wrk >/dev/null
