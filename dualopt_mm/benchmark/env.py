"""What a result was measured on: machine, threads, library versions, repository commit."""
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


def environment() -> dict:
    import mmcv
    import mmdet
    import mmengine
    import mmpretrain
    import mmseg
    import torch
    if torch.cuda.is_available():
        machine = f'{torch.cuda.get_device_name(0)} GPU, {os.cpu_count()} CPU cores'
    else:
        machine = f'{platform.machine()} CPU, {os.cpu_count()} cores'
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {
        'machine': machine, 'platform': platform.platform(), 'python': platform.python_version(),
        'torch': torch.__version__, 'threads': torch.get_num_threads(), 'mmengine': mmengine.__version__,
        'mmcv': mmcv.__version__, 'mmdet': mmdet.__version__, 'mmseg': mmseg.__version__,
        'mmpretrain': mmpretrain.__version__, 'commit': _git_commit(root),
    }
