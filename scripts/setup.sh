#!/usr/bin/env bash
# Create .venv/ and install the project with the exact versions in requirements.lock, then
# prepare the embedding model (its ONNX export in the index folder, ${QA_INDEX_DIR:-index}/encoders/).
# Idempotent: skips the install when the lock file and pyproject.toml have not changed, and
# the export when a valid one is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # requirements.lock pins every package (torch is the CPU build: see README "Installing").
  .venv/bin/python -m pip install --quiet -r requirements.lock
  .venv/bin/python -m pip install --quiet --no-deps -e .
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# Model preparation, not indexing: `qa index` then embeds at once (a build finds no export:
# it makes one). A model that cannot be exported is reported and left to PyTorch.
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/qa prepare --quiet
