#!/usr/bin/env bash
# Build the inference image offline: wheels are fetched on the host (pip's normal client,
# pinned by container/requirements.txt) and copied into the build; the base image comes from
# scripts/base-image.sh. Usage: build-container.sh IMAGE_TAG [EXTRA_TAG...]
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${1:?usage: build-container.sh IMAGE [EXTRA_TAG...]}
shift
VERSION=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')

bash scripts/ensure-engine.sh
BASE=$(bash scripts/base-image.sh)

WHEELHOUSE=build/wheelhouse
STAMP=$WHEELHOUSE/.requirements.sha256
WANT=$(sha256sum container/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  echo "smkit: downloading pinned wheels for the image into $WHEELHOUSE" >&2
  rm -rf "$WHEELHOUSE" && mkdir -p "$WHEELHOUSE"
  # glibc 2.36 (bookworm) runs every manylinux tag up to 2_36; pip wants them listed.
  PLATFORMS=(--platform manylinux2014_x86_64 --platform any)
  for minor in $(seq 17 36); do PLATFORMS+=(--platform "manylinux_2_${minor}_x86_64"); done
  python3 -m pip download -q --no-deps --only-binary=:all: --implementation cp \
    --python-version 3.11 --abi cp311 --abi abi3 --abi none "${PLATFORMS[@]}" \
    -d "$WHEELHOUSE" -r container/requirements.txt 2>&1 | grep -v "^WARNING: Location" >&2 || true
  n=$(find "$WHEELHOUSE" -name '*.whl' | wc -l)
  want=$(grep -cE '^[A-Za-z]' container/requirements.txt)
  if [ "$n" -ne "$want" ]; then
    echo "smkit: expected $want wheels in $WHEELHOUSE, got $n; see pip's output above" >&2
    exit 1
  fi
  echo "$WANT" >"$STAMP"
fi

TAGS=(-t "$IMAGE")
for t in "$@"; do TAGS+=(-t "$t"); done

# BuildKit (Debian's client) when available: it skips stages it does not need.
DOCKER=docker
if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; export DOCKER_BUILDKIT=1; else export DOCKER_BUILDKIT=0; fi
echo "smkit: building $IMAGE on $BASE" >&2
"$DOCKER" build -f container/Dockerfile --build-arg "BASE_IMAGE=$BASE" \
  --build-arg "SMKIT_VERSION=$VERSION" "${TAGS[@]}" .
docker image inspect -f 'smkit: built {{.Id}} ({{.Size}} bytes)' "$IMAGE" >&2
