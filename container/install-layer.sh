#!/bin/sh
# Install one layer of pinned wheels into /opt/venv, offline, and slim it. Used by both
# Dockerfiles: $1 is the bind-mounted wheel folder with requirements.lock (name==version per
# line, resolved on the host) and the pip wheel that installs it (pip is not kept in the image).
set -eu
WHEELS=$1
PIP=$(ls "$WHEELS"/pip-*.whl | head -n 1)
/opt/venv/bin/python "$PIP/pip" install --no-index --no-deps --no-compile --disable-pip-version-check \
    --no-warn-script-location --find-links "$WHEELS" -r "$WHEELS/requirements.lock"
# Test suites, Cython sources and headers are dead weight in a serving image.
find /opt/venv -depth -type d \( -name tests -o -name __pycache__ \) -path '*site-packages/*' \
    -exec rm -rf {} +
find /opt/venv \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' -o -name '*.c' -o -name '*.cpp' \
    -o -name '*.h' \) -delete
python3 -m compileall -q -j 0 /opt/venv
