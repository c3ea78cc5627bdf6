#!/usr/bin/env bash
# The README's "test" command: install (with test tools) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-browser.sh  # Debian's chromium for the browser tests (tests/e2e)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest -q "$@"
