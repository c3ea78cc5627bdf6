#!/usr/bin/env bash
# Lint and type checks (run by CI after the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check qa_service tests bench scripts
.venv/bin/mypy
.venv/bin/hadolint Dockerfile
echo "lint: ruff, mypy and hadolint passed"
