#!/usr/bin/env bash
# Creates (or reuses) the project's virtual environment and installs the OpenMMLab stack into it,
# in the order that works (see README "Set-up"). Idempotent: a stamp keyed on the pinned
# requirements makes a second run return at once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$root/.venv}
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3

key=$(cd "$root" && cat requirements/build.txt requirements/constraints.txt requirements/runtime.txt \
       requirements/tests.txt tools/setup_env.sh pyproject.toml setup.py | sha256sum | cut -c1-16)
stamp=$venv/.dualopt_mm-stamp-$key
if [ -f "$stamp" ]; then
  exit 0
fi

echo "[setup] building the environment in $venv (one time)"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip_cmd=("$venv/bin/python" -m pip)
# some machines' pip configuration points at local index folders that do not exist: hide that noise
pip() { "${pip_cmd[@]}" "$@" 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }; }
c=(-c "$root/requirements/constraints.txt")
export PIP_DISABLE_PIP_VERSION_CHECK=1

pip install -q --upgrade pip
pip install -q "${c[@]}" -r "$root/requirements/build.txt"
if ! "$venv/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '2.1.0'" 2>/dev/null; then
  # pip's wheel cache keeps a build: only a machine without one compiles
  tag=$("$venv/bin/python" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
  if "$venv/bin/python" -m pip cache list "mmcv-2.1.0-$tag-*" 2>/dev/null | grep -q "mmcv-2\.1\.0-$tag"; then
    echo "[setup] mmcv 2.1.0: installing the wheel built earlier on this machine (pip's cache)"
  else
    echo "[setup] mmcv 2.1.0: compiling its ops from source (~13 min on 2 cores, once per machine)"
  fi
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} pip install "${c[@]}" --no-build-isolation mmcv==2.1.0
fi
pip install -q "${c[@]}" -r "$root/requirements/runtime.txt" -r "$root/requirements/tests.txt"
pip install -q --no-deps openmim==0.3.9
pip install -q "${c[@]}" --no-deps --no-build-isolation -e "$root"
"$venv/bin/python" - <<'PY'
import torch, torchvision, mmcv, mmcv.ops, mmengine, mmdet, mmseg, mmpretrain, pycocotools  # noqa: F401
from torchvision.ops import nms  # noqa: F401
print(f"[setup] torch {torch.__version__}, torchvision {torchvision.__version__}, mmcv {mmcv.__version__}, "
      f"mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, mmseg {mmseg.__version__}, "
      f"mmpretrain {mmpretrain.__version__}")
PY
rm -f "$venv"/.dualopt_mm-stamp-*
touch "$stamp"
