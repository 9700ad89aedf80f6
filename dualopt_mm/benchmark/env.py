"""What a result was measured on: machine, threads, library versions, repository commit.

The CPU's model and the kernel family torch dispatches to on it (AVX2, AVX512, ...) are part of
the machine: CPU runs are bit-deterministic only within one family (vectorised kernels round
differently), so two runs of one cell on different CPUs can differ."""
from __future__ import annotations

import os
import platform
import subprocess

__all__ = ['environment']


def _git_commit(root: str) -> str:
    try:
        sha = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=root, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ('+dirty' if dirty and sha else '') if sha else 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict:
    import mmcv
    import mmdet
    import mmengine
    import mmpretrain
    import mmseg
    import torch
    get_capability = getattr(getattr(torch.backends, 'cpu', None), 'get_cpu_capability', None)
    capability = get_capability() if get_capability is not None else 'unknown'
    if torch.cuda.is_available():
        machine = f'{torch.cuda.get_device_name(0)} GPU, {os.cpu_count()} CPU cores'
    else:
        machine = f'{platform.machine()} CPU ({_cpu_model()}, {capability} kernels), {os.cpu_count()} cores'
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {
        'machine': machine, 'platform': platform.platform(), 'python': platform.python_version(),
        'torch': torch.__version__, 'threads': torch.get_num_threads(), 'mmengine': mmengine.__version__,
        'mmcv': mmcv.__version__, 'mmdet': mmdet.__version__, 'mmseg': mmseg.__version__,
        'mmpretrain': mmpretrain.__version__, 'commit': _git_commit(root),
    }
