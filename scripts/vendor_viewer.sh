#!/usr/bin/env bash
# Vendor the graph library of the offline HTML viewer (btcwatch/export/html.py).
#
# Why vendored: the exported viewer must open on an air-gapped investigator's laptop, so the
# library is inlined into every page and can never be fetched at view time. This script is the
# record of where the committed files came from; re-run it to upgrade (then re-run the tests).
#
#   scripts/vendor_viewer.sh [VERSION]
#
# Fetches `cytoscape@VERSION` with `npm pack` (npm checks the registry's integrity hash), checks
# that the package says MIT, and copies dist/cytoscape.min.js and LICENSE into
# btcwatch/export/assets/ together with VENDORED.txt (version, tarball and file SHA-256).
set -euo pipefail

VERSION="${1:-3.35.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ASSETS="$ROOT/btcwatch/export/assets"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
TARBALL="$(npm pack --silent "cytoscape@$VERSION")"
tar -xzf "$TARBALL"

LICENSE_FIELD="$(node -p "require('./package/package.json').license")"
if [ "$LICENSE_FIELD" != "MIT" ]; then
    echo "cytoscape@$VERSION declares licence '$LICENSE_FIELD', expected MIT; not vendoring" >&2
    exit 1
fi
PACKED_VERSION="$(node -p "require('./package/package.json').version")"

mkdir -p "$ASSETS"
cp package/dist/cytoscape.min.js "$ASSETS/cytoscape.min.js"
cp package/LICENSE "$ASSETS/cytoscape.LICENSE"
{
    echo "library: cytoscape"
    echo "version: $PACKED_VERSION"
    echo "licence: $LICENSE_FIELD (see cytoscape.LICENSE)"
    echo "obtained: npm pack cytoscape@$VERSION (scripts/vendor_viewer.sh)"
    echo "tarball-sha256: $(sha256sum "$TARBALL" | cut -d' ' -f1)"
    echo "cytoscape.min.js-sha256: $(sha256sum package/dist/cytoscape.min.js | cut -d' ' -f1)"
} > "$ASSETS/VENDORED.txt"
echo "vendored cytoscape $PACKED_VERSION into $ASSETS"
