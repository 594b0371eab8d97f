#!/usr/bin/env bash
# Install the Debian packages the export tests use, only when they are missing (idempotent):
#   chromium  -> /usr/bin/chromium for tests/export/test_viewer_browser.py (offline HTML viewer)
#   graphviz  -> /usr/bin/dot for SVG export and tests/export/test_export_dot.py
# Without them those tests skip with a reason; with them they run. Needs root (or sudo) and
# Debian's package mirror; nothing is downloaded from anywhere else (no browser builds).
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v dot >/dev/null 2>&1 || missing+=(graphviz)

if [ "${#missing[@]}" -eq 0 ]; then
    echo "test dependencies present: chromium, graphviz"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "installing: ${missing[*]}"
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
