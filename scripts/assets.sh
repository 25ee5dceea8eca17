#!/usr/bin/env bash
# Front-end libraries: `npm ci` from package-lock.json, then the files the pages load are copied
# into static/vendor/ (git-ignored; collectstatic and whitenoise serve them). Node.js and npm are
# installed with apt when missing, as services.sh does for PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "[assets] npm is missing. Install it with:  sudo apt-get install -y nodejs npm" >&2
    exit 1
  fi
  echo "[assets] installing nodejs and npm with apt-get"
  mkdir -p var
  if [ ! -f var/.apt-updated ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && touch var/.apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# npm ci only when the lockfile changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
out=static/vendor
rm -rf "$out.tmp" && mkdir -p "$out.tmp"/{chart.js,htmx,leaflet/images,pico}
cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map "$out.tmp/chart.js/"
cp node_modules/htmx.org/dist/htmx.min.js "$out.tmp/htmx/"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.js.map node_modules/leaflet/dist/leaflet.css "$out.tmp/leaflet/"
cp node_modules/leaflet/dist/images/* "$out.tmp/leaflet/images/"
cp node_modules/@picocss/pico/css/pico.min.css "$out.tmp/pico/"
# axe-core (a dev dependency) stays in node_modules: the browser tests inject it from there.
for package in chart.js htmx.org leaflet @picocss/pico; do
  cp "node_modules/$package/LICENSE"* "$out.tmp/$(basename "${package/htmx.org/htmx}")/" 2>/dev/null || true
done
rm -rf "$out" && mv "$out.tmp" "$out"
echo "[assets] $(find "$out" -type f | wc -l) files in $out"
