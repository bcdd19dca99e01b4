#!/usr/bin/env bash
# Usage: tools/dist_test_robustness.sh CONFIG CHECKPOINT NUM_PROCESSES [test_robustness.py args...]
# Each process evaluates a share of every cell's images; TOOL=test_adversarial.py runs the
# adversarial benchmark the same way. Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
NPROC=$3
shift 3
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-python}
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" --nproc_per_node="$NPROC" \
    "$ROOT/tools/${TOOL:-test_robustness.py}" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
