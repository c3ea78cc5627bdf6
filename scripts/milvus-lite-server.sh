#!/usr/bin/env bash
# Milvus Lite as a server, for more than one process on one store (docs/milvus.md): a Lite
# folder opened directly is locked by the process that opened it.
#   bash scripts/milvus-lite-server.sh [DATA_DIR] [PORT]   (default index/milvus-data 19530)
# then QA_STORE=milvus QA_MILVUS_URI=http://127.0.0.1:PORT for qa index, qa serve, ...
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m milvus_lite server --data-dir "${1:-index/milvus-data}" \
  --host 127.0.0.1 --port "${2:-19530}"
