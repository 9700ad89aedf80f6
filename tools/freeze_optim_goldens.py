"""Freeze the optimizer goldens (tests/optim/goldens/optim_goldens.pt) from the current code.

Run once before a change to the optimizer core; tests/optim/test_goldens.py then requires every
golden to stay bit-for-bit equal on CPU with the torch version that froze them.

    python tools/freeze_optim_goldens.py              # the default file
    python tools/freeze_optim_goldens.py --this-cpu   # optim_goldens.<capability>.pt, for a CPU
                                                      # family whose kernels round differently

Freeze a CPU family's file from the same code as the default one (before the change it checks).
"""
import argparse
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
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--this-cpu', action='store_true', help="write this CPU family's own file")
    args = p.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    goldens = optim_goldens.compute(OPTIMIZERS_INFO.values())
    target = optim_goldens.capability_goldens() if args.this_cpu else optim_goldens.GOLDENS
    os.makedirs(osp.dirname(target), exist_ok=True)
    cap = optim_goldens.cpu_capability()
    torch.save({'torch': torch.__version__, 'cpu_capability': cap, 'records': goldens}, target)
    n = sum(1 for k in goldens if k[0] != 'signature')
    print(f'{n} class x path x setting goldens and {len(goldens) - n} signatures written to '
          f'{osp.relpath(target, ROOT)} (torch {torch.__version__}, {cap} CPU kernels)')
