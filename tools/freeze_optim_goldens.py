"""Freeze the optimizer goldens (tests/optim/goldens/optim_goldens.pt) from the current code.

Run once before a change to the optimizer core; tests/optim/test_goldens.py then requires every
golden to stay bit-for-bit equal on CPU with the torch version that froze them.

    python tools/freeze_optim_goldens.py
"""
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tests', 'optim'))

import torch  # noqa: E402

import optim_goldens  # noqa: E402
from dualopt_mm.optim import OPTIMIZERS_INFO  # noqa: E402

if __name__ == '__main__':
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    goldens = optim_goldens.compute(OPTIMIZERS_INFO.values())
    os.makedirs(osp.dirname(optim_goldens.GOLDENS), exist_ok=True)
    torch.save({'torch': torch.__version__, 'records': goldens}, optim_goldens.GOLDENS)
    n = sum(1 for k in goldens if k[0] != 'signature')
    print(f'{n} class x path x setting goldens and {len(goldens) - n} signatures written to '
          f'{osp.relpath(optim_goldens.GOLDENS, ROOT)} (torch {torch.__version__})')
