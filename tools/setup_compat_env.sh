#!/usr/bin/env bash
# Creates (or reuses) the compatibility leg's virtual environment: pyenv's Python 3.10, torch 2.1.2,
# torchvision 0.16.2 and mmengine 0.10.7 from PyPI, no mmcv (requirements/compat.txt). The project
# itself is not installed: the tests import it from the working tree (make test-compat), and
# tests/test_packaging.py checks what pip would do with its wheel here. Idempotent: a stamp keyed
# on the requirements, this script and the interpreter's version makes a second run return at
# once.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${COMPAT_VENV:-$root/.venv-compat}
want=3.10

python=${COMPAT_PYTHON:-}
if [ -z "$python" ]; then
  pyenv_root=${PYENV_ROOT:-}
  if [ -z "$pyenv_root" ] && command -v pyenv >/dev/null 2>&1; then
    pyenv_root=$(pyenv root)
  fi
  pyenv_root=${pyenv_root:-$HOME/.pyenv}
  # the newest 3.10.x pyenv holds
  python=$(ls -d "$pyenv_root"/versions/"$want".*/bin/python"$want" 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$python" ]; then
    echo "[compat] error: the compatibility leg runs on pyenv's Python $want, and there is none in" \
         "$pyenv_root/versions/ (install it with 'pyenv install $want', or set COMPAT_PYTHON to a" \
         "Python $want interpreter)" >&2
    exit 1
  fi
fi
if ! version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null); then
  echo "[compat] error: cannot run the interpreter $python" >&2
  exit 1
fi
case $version in
  "$want".*) ;;
  *) echo "[compat] error: $python is Python $version, the compatibility leg needs $want" >&2; exit 1 ;;
esac

key=$(cat "$root/requirements/compat.txt" "$root/requirements/tests.txt" "$root/tools/setup_compat_env.sh" |
      sha256sum | cut -c1-12)
stamp=$venv/.dualopt_mm-compat-stamp-$version-$key
if [ -f "$stamp" ]; then
  exit 0
fi

echo "[compat] building the compatibility environment in $venv (one time: Python $version from pyenv," \
     "torch 2.1.2 from PyPI: ~2.5 GB to download)"
start=$(date +%s)
rm -rf "$venv"  # a half-built or outdated venv is rebuilt from scratch, so nothing stale survives
"$python" -m venv "$venv"
pip_cmd=("$venv/bin/python" -m pip)
# some machines' pip configuration points at local index folders that do not exist: hide that noise
pip() { "${pip_cmd[@]}" "$@" 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }; }
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip install -q --upgrade pip
pip install -q -r "$root/requirements/compat.txt"
"$venv/bin/python" - <<'PY'
import importlib.util, sys
import torch, torchvision, mmengine
for name in ('mmcv', 'mmdet', 'mmseg', 'mmpretrain'):
    if importlib.util.find_spec(name) is not None:
        sys.exit(f'[compat] error: {name} is installed; the compatibility leg must run without it')
if (torch.__version__.split('+')[0], torchvision.__version__.split('+')[0], mmengine.__version__) != \
        ('2.1.2', '0.16.2', '0.10.7'):
    sys.exit(f'[compat] error: got torch {torch.__version__}, torchvision {torchvision.__version__}, '
             f'mmengine {mmengine.__version__}')
print(f'[compat] Python {sys.version.split()[0]}, torch {torch.__version__}, '
      f'torchvision {torchvision.__version__}, mmengine {mmengine.__version__}, no mmcv')
PY
touch "$stamp"
echo "[compat] environment ready in $(( $(date +%s) - start )) s"
