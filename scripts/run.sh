#!/usr/bin/env bash
# The README's "run" command: install, build the index from corpus/ (or bring it up to date
# with corpus/ and the configured model, reusing the current index's work), then run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ -f "${QA_INDEX_DIR:-index}/CURRENT" ]; then
  .venv/bin/qa index --quiet  # reuses every unchanged report and vector: a second or two
else
  .venv/bin/qa index
fi
exec .venv/bin/qa serve --host "${QA_HOST:-127.0.0.1}" --port "${QA_PORT:-8000}"
