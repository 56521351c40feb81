#!/usr/bin/env bash
# Make sure a Docker engine answers; install and start one (Debian docker.io) when none does.
# Idempotent: a running engine is left alone. Needs root on a fresh machine.
set -euo pipefail

DOCKER_LOG=${DOCKER_LOG:-/var/log/smkit-dockerd.log}

engine_up() { docker info >/dev/null 2>&1; }

if engine_up; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "smkit: installing the Docker engine (docker.io) from Debian..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "smkit: starting dockerd (log: $DOCKER_LOG)" >&2
  nohup dockerd >"$DOCKER_LOG" 2>&1 &
fi

for _ in $(seq 1 60); do
  if engine_up; then
    echo "smkit: Docker engine is up" >&2
    exit 0
  fi
  sleep 1
done
echo "smkit: the Docker engine did not come up within 60 s; see $DOCKER_LOG" >&2
tail -n 20 "$DOCKER_LOG" >&2 || true
exit 1
