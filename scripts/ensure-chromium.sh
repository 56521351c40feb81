#!/usr/bin/env bash
# Install Debian's Chromium (headless, for rendering the listing preview) when it is missing.
# tests/listing/test_preview.py drives it with Playwright (executable_path=/usr/bin/chromium):
# Playwright's own browser download (`playwright install`) is not needed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
echo "smkit: installing Debian's chromium for the preview tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
