"""Where the shipped configs are.

An installed wheel carries them inside the package, as ``dualopt_mm/.mim/configs`` (the layout
OpenMMLab packages ship their configs in; ``setup.py`` copies the repository's ``configs/`` there,
the tree as it is, so relative ``_base_`` paths resolve). A clone or an editable install reads the
repository's ``configs/`` next to the package. The package's copy is looked for first.
"""
from __future__ import annotations

import os.path as osp

__all__ = ['PACKAGE_CONFIGS', 'REPO_CONFIGS', 'configs_root']

_HERE = osp.dirname(osp.abspath(__file__))
PACKAGE_CONFIGS = osp.join(_HERE, '.mim', 'configs')
REPO_CONFIGS = osp.join(osp.dirname(_HERE), 'configs')


def configs_root() -> str:
    """The folder holding ``classification/``, ``detection/``, ..., ``benchmark/``."""
    for root in (PACKAGE_CONFIGS, REPO_CONFIGS):
        if osp.isdir(root):
            return root
    raise FileNotFoundError(f'dualopt_mm finds no configs: neither {PACKAGE_CONFIGS} (an installed wheel) '
                            f'nor {REPO_CONFIGS} (a clone of the repository)')
