#!/usr/bin/env bash
# Make sure Debian's `docker-registry` (the Distribution registry, 2.8) is installed; it stands in
# for ECR when the kit runs offline. Installing it does not start it (smkit starts it on a free
# 127.0.0.1 port). Idempotent. Needs root on a fresh machine.
set -euo pipefail

if command -v docker-registry >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "smkit: docker-registry is not installed; run as root: apt-get install -y docker-registry" >&2
  exit 1
fi
echo "smkit: installing the local registry (docker-registry) from Debian..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
# Debian's package ships a service; it is not used: smkit runs its own instance.
if command -v systemctl >/dev/null 2>&1; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
command -v docker-registry >/dev/null 2>&1
echo "smkit: docker-registry installed" >&2
