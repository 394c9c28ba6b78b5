#!/usr/bin/env bash
# Copies the browser libraries the pages use from their npm packages into static/vendor/,
# so that the running system needs neither npm nor a CDN. Run by hand when bumping a
# version (LEAFLET_VERSION=… CHARTJS_VERSION=… scripts/vendor_static.sh); the copied files
# are committed. Layout (other pages rely on it):
#   static/vendor/leaflet/  leaflet.js, leaflet.js.map, leaflet.css, images/, LICENSE, VERSION
#   static/vendor/chartjs/  chart.umd.min.js, LICENSE.md, VERSION
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LEAFLET_VERSION=${LEAFLET_VERSION:-1.9.4}
CHARTJS_VERSION=${CHARTJS_VERSION:-4.6.1}
command -v npm >/dev/null || { echo "npm is needed only to refresh static/vendor/ (apt-get install npm)"; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
# `npm pack` fetches the published tarball only: no install scripts run, no node_modules.
npm pack --silent "leaflet@$LEAFLET_VERSION" "chart.js@$CHARTJS_VERSION" >/dev/null
mkdir leaflet chartjs
tar xzf "leaflet-$LEAFLET_VERSION.tgz" -C leaflet
tar xzf "chart.js-$CHARTJS_VERSION.tgz" -C chartjs

dest="$ROOT/static/vendor/leaflet"
rm -rf "$dest" && mkdir -p "$dest/images"
cp leaflet/package/dist/leaflet.js leaflet/package/dist/leaflet.js.map leaflet/package/dist/leaflet.css "$dest/"
cp leaflet/package/dist/images/*.png "$dest/images/"
cp leaflet/package/LICENSE "$dest/LICENSE"
echo "Leaflet $LEAFLET_VERSION (npm package 'leaflet', dist/), BSD-2-Clause; see LICENSE." > "$dest/VERSION"

dest="$ROOT/static/vendor/chartjs"
rm -rf "$dest" && mkdir -p "$dest"
cp chartjs/package/dist/chart.umd.min.js "$dest/"
cp chartjs/package/LICENSE.md "$dest/LICENSE.md"
echo "Chart.js $CHARTJS_VERSION (npm package 'chart.js', dist/chart.umd.min.js), MIT; see LICENSE.md." > "$dest/VERSION"

echo "vendored: leaflet $LEAFLET_VERSION, chart.js $CHARTJS_VERSION into static/vendor/"
