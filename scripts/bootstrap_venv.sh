#!/usr/bin/env bash
# Creates the project's virtualenv: scripts/bootstrap_venv.sh PYTHON DIR. On Debian the venv
# module comes in its own package; as root it is installed, otherwise the command to do so is printed.
set -euo pipefail
PYTHON=${1:-python3}
DIR=${2:-.venv}
cd "$(dirname "$0")/.."
if ! command -v "$PYTHON" >/dev/null; then
  echo "[venv] $PYTHON not found: install Python 3.11 or newer (sudo apt-get install -y python3 python3-venv)" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "[venv] $("$PYTHON" --version) is too old: FleetOps needs Python 3.11 or newer" >&2
  exit 1
fi
if "$PYTHON" -m venv "$DIR" 2>/dev/null; then
  exit 0
fi
rm -rf "$DIR"
if [ "$(id -u)" != 0 ]; then
  echo "[venv] the venv module is missing. Install it with:  sudo apt-get install -y python3-venv" >&2
  exit 1
fi
echo "[venv] installing python3-venv with apt-get"
mkdir -p var
if [ ! -f var/.apt-updated ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && touch var/.apt-updated
fi
version=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv "python$version-venv" >/dev/null \
  || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
"$PYTHON" -m venv "$DIR"
