#!/usr/bin/env bash
# Install what the browser tests (tests/e2e) need, idempotently:
#   - Debian's chromium at /usr/bin/chromium (apt-get; sudo only when not root)
#   - the Playwright Python package, pinned, into .venv/ (its bundled driver drives
#     Debian's chromium; no browser is downloaded: `playwright install` is never run)
# Exits 0 and says so when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
PLAYWRIGHT_VERSION=1.65.2

if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

if [ -x /usr/bin/chromium ]; then
  echo "install-browser: chromium already installed ($(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium))"
else
  echo "install-browser: installing Debian's chromium (apt-get update; apt-get install -y chromium)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
  echo "install-browser: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
fi

if [ ! -x .venv/bin/python ]; then
  echo "install-browser: .venv/ is missing; run scripts/setup.sh first" >&2
  exit 1
fi
have=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("playwright"))' 2>/dev/null || true)
if [ "$have" = "$PLAYWRIGHT_VERSION" ]; then
  echo "install-browser: playwright $PLAYWRIGHT_VERSION already installed in .venv/"
else
  echo "install-browser: installing playwright==$PLAYWRIGHT_VERSION into .venv/ (was: ${have:-none})"
  .venv/bin/python -m pip install --quiet "playwright==$PLAYWRIGHT_VERSION"
  echo "install-browser: installed playwright $PLAYWRIGHT_VERSION"
fi
echo "install-browser: ready (chromium at /usr/bin/chromium, playwright $PLAYWRIGHT_VERSION)"
