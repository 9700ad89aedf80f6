#!/usr/bin/env python
"""Pre-train the upstream ResNet-18 on the upstream synthetic world and publish its checkpoint at
``checkpoints/upstream_resnet18.pth``: the pre-trained weights every CPU-scale fine-tuning config
starts from (``init_cfg=dict(type='Pretrained', ..., prefix='backbone.')``). The benchmark does
this itself when the checkpoint is missing.

    python tools/pretrain_upstream.py            # skips the training if the checkpoint exists
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--work-dir', default=osp.join('work_dirs', 'upstream'))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--force', action='store_true', help='train again even if the checkpoint exists')
    args = p.parse_args(argv)
    import dualopt_mm  # noqa: F401
    from dualopt_mm.benchmark.upstream import UPSTREAM_CKPT, pretrain_upstream
    if osp.exists(UPSTREAM_CKPT) and not args.force:
        print(f'{UPSTREAM_CKPT}: exists (use --force to retrain)')
        return
    pretrain_upstream(UPSTREAM_CKPT, args.work_dir, args.seed, force=True)
    print(f'{UPSTREAM_CKPT}: written')


if __name__ == '__main__':
    main()
