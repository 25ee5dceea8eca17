#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
set -euo pipefail
command -v chromium >/dev/null && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "[chromium] missing; browser tests will be skipped. Install: sudo apt-get install -y chromium" >&2
  exit 0
fi
echo "[chromium] installing Debian's chromium with apt-get"
mkdir -p var
if [ ! -f var/.apt-updated ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && touch var/.apt-updated
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
