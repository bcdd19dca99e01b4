#!/usr/bin/env bash
# The main job on the embedded default: YOLOv3-MobileNetV2 trained with DAT (shipped tiny discretizer)
# on the generated embedded dataset, then evaluated (COCO bbox mAP). Env: DEMO_EPOCHS (default 2),
# DEMO_WORK_DIR (default work_dirs/demo_dat_yolov3).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${VIRTUAL_ENV:-$ROOT/.venv}/bin/python"
CONFIG=configs/dat/yolov3_mobilenetv2_dat_8xb8-160-20e_embedded.py
EPOCHS="${DEMO_EPOCHS:-2}"
WORK_DIR="${DEMO_WORK_DIR:-work_dirs/demo_dat_yolov3}"

"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" \
    --cfg-options train_cfg.max_epochs="$EPOCHS" train_cfg.val_interval="$EPOCHS" \
    custom_hooks.0.vis_interval=25
"$PY" tools/test.py "$CONFIG" "$WORK_DIR/epoch_$EPOCHS.pth" --work-dir "$WORK_DIR/test"
echo "DAT example grids: $(ls "$WORK_DIR"/*/vis_data/vis_image/dat_examples_*.png 2>/dev/null | head -3 | tr '\n' ' ')"
