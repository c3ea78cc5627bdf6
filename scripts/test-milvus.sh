#!/usr/bin/env bash
# The retrieval, answer and API suites again with the index in Milvus (QA_STORE=milvus, on
# Milvus Lite folders beside each test's index): the same tests as on the default store.
# tests/index/test_milvus_store.py, in the default run, compares the two stores directly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 QA_STORE=milvus
exec .venv/bin/python -m pytest -q -p no:cacheprovider \
  tests/search/test_retrieval.py tests/answer/test_answer.py tests/answer/test_answer_layer.py \
  tests/api/test_api.py tests/api/test_limits_and_filters.py \
  tests/cli/test_search_cli.py tests/reliability/test_reload.py "$@"
