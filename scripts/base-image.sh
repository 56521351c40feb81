#!/usr/bin/env bash
# Print the base image to build on. Uses BASE_IMAGE when it is present or can be pulled;
# otherwise makes an equivalent Debian + Python base locally with debootstrap and
# `docker import`, so the build works on a machine with no registry access.
# SMKIT_PYTHON and SMKIT_DEBIAN_SUITE choose the Python and the Debian release whose python3
# it is (smkit.project.spec.IMAGE_PYTHONS pairs them); the default is bookworm's 3.11.
set -euo pipefail

PY=${SMKIT_PYTHON:-3.11}
SUITE=${SMKIT_DEBIAN_SUITE:-bookworm}
BASE_IMAGE=${BASE_IMAGE:-python:$PY-slim-$SUITE}
# The -rN suffix changes whenever the recipe below does, so an old local base is not reused.
OFFLINE_BASE=${OFFLINE_BASE:-smkit-base:$SUITE-py$PY-r3}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

have() { docker image inspect "$1" >/dev/null 2>&1; }

if have "$BASE_IMAGE"; then echo "$BASE_IMAGE"; exit 0; fi
# SMKIT_BASE_NAME_ONLY=1: print the name a build would use now, and pull or make nothing.
if [ "${SMKIT_BASE_NAME_ONLY:-0}" = "1" ]; then echo "$OFFLINE_BASE"; exit 0; fi
if [ "${SMKIT_TRY_PULL:-1}" = "1" ] && timeout 30 docker pull -q "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "$BASE_IMAGE"; exit 0
fi
if have "$OFFLINE_BASE"; then echo "$OFFLINE_BASE"; exit 0; fi

echo "smkit: $BASE_IMAGE cannot be pulled; making $OFFLINE_BASE with debootstrap (about a minute)" >&2
if ! command -v debootstrap >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
ROOTFS=$(mktemp -d /tmp/smkit-rootfs.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
# libgomp1: the OpenMP runtime LightGBM's (and other boosters') wheels link against.
debootstrap --variant=minbase --include=ca-certificates,python3,python3-venv,libgomp1 \
  "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || { tail -n 30 "$ROOTFS.log" >&2; exit 1; }
rm -f "$ROOTFS.log"
# Slim it the way the official slim images are: no apt lists, docs, man pages or caches.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/usr/share/locale/* \
       "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
       "$ROOTFS"/var/log/*.log "$ROOTFS"/var/cache/debconf/*-old
PYVER=$(chroot "$ROOTFS" python3 -c 'import platform; print(platform.python_version())')
case "$PYVER" in
  "$PY".*) ;;
  *) echo "smkit: Debian $SUITE's python3 is $PYVER, not $PY; give the suite that has $PY" >&2
     exit 1 ;;
esac
tar -C "$ROOTFS" -c . | docker import \
  -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' \
  -m "debootstrap $SUITE minbase + python3 $PYVER" - "$OFFLINE_BASE" >/dev/null
echo "smkit: made $OFFLINE_BASE (Debian $SUITE, Python $PYVER)" >&2
echo "$OFFLINE_BASE"
