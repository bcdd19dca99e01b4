#!/usr/bin/env bash
# `make demo`: the main job on the embedded default (tools/demo.py): EfficientDet-Lite0 trained normally,
# with DAT and normally for twice the epochs, each evaluated on the 15 benchmark corruptions, and
# work_dirs/demo/report.md.
# Arguments go to tools/demo.py (e.g. --severities 1 2 3 4 5, --epochs 2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${VIRTUAL_ENV:-$ROOT/.venv}/bin/python"
exec "$PY" tools/demo.py "$@"
