"""Freeze the optimizer goldens (tests/optim/goldens/optim_goldens.pt) from the current code.

Run once before a change to the optimizer core; tests/optim/test_goldens.py then requires every
golden to stay bit-for-bit equal on CPU with the torch version that froze them.

    python tools/freeze_optim_goldens.py                   # the default file
    python tools/freeze_optim_goldens.py --variant NAME    # optim_goldens.NAME.pt: a machine
                                                           # family whose kernels round differently

Freeze a variant from the same code as the default file (before the change it checks).
"""
import argparse
import platform
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
    p.add_argument('--variant', metavar='NAME', help="write this machine family's own file, optim_goldens.NAME.pt")
    args = p.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    goldens = optim_goldens.compute(OPTIMIZERS_INFO.values())
    target = optim_goldens.variant_path(args.variant) if args.variant else optim_goldens.GOLDENS
    os.makedirs(osp.dirname(target), exist_ok=True)
    cap = optim_goldens.cpu_capability()
    torch.save({'torch': torch.__version__, 'cpu_capability': cap, 'cpu': platform.processor() or
                platform.machine(), 'records': goldens}, target)
    n = sum(1 for k in goldens if k[0] != 'signature')
    print(f'{n} class x path x setting goldens and {len(goldens) - n} signatures written to '
          f'{osp.relpath(target, ROOT)} (torch {torch.__version__}, {cap} CPU kernels)')
