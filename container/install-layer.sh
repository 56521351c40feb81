#!/bin/sh
# Install one layer of pinned wheels into /opt/venv, offline, and slim it. Used by both
# Dockerfiles: $1 is the bind-mounted wheel folder with requirements.lock (name==version per
# line, resolved on the host) and the pip wheel that installs it (pip is not kept in the image).
set -eu
WHEELS=$1
PIP=$(ls "$WHEELS"/pip-*.whl | head -n 1)
/opt/venv/bin/python "$PIP/pip" install --no-index --no-deps --no-compile --disable-pip-version-check \
    --no-warn-script-location --find-links "$WHEELS" -r "$WHEELS/requirements.lock"
# Test suites, Cython sources and headers are dead weight in a serving image. A library may
# import a helper module that lives beside its tests (numpy 2.2's numpy.testing imports
# numpy._core.tests._natype, and scipy imports numpy.testing), so in a tests folder only
# the test modules and their data go, never another module.
find /opt/venv -path '*site-packages/*' -path '*/tests/*' -type f ! \( -name '*.py' \
    ! -name 'test_*.py' ! -name '*_test.py' ! -name 'conftest.py' \) -delete
find /opt/venv -depth -path '*site-packages/*' \( -path '*/tests/*' -o -name tests \) -type d \
    -empty -delete
find /opt/venv -depth -type d -name __pycache__ -path '*site-packages/*' -exec rm -rf {} +
find /opt/venv \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' -o -name '*.c' -o -name '*.cpp' \
    -o -name '*.h' \) -delete
python3 -m compileall -q -j 0 /opt/venv
