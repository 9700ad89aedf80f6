#!/usr/bin/env python
"""Pre-train the upstream ResNet-18 on the upstream synthetic world and publish its checkpoint at
``checkpoints/upstream_resnet18.pth``: the pre-trained weights every CPU-scale fine-tuning config
starts from (``init_cfg=dict(type='Pretrained', ..., prefix='backbone.')``).

    python tools/pretrain_upstream.py            # skips the training if the checkpoint exists
"""
import argparse
import os
import os.path as osp
import shutil
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
CONFIG = osp.join(ROOT, 'configs', 'classification', 'resnet18_upstream.py')
TARGET = osp.join('checkpoints', 'upstream_resnet18.pth')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--work-dir', default=osp.join('work_dirs', 'upstream'))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--force', action='store_true', help='train again even if the checkpoint exists')
    args = p.parse_args(argv)
    if osp.exists(TARGET) and not args.force:
        print(f'{TARGET}: exists (use --force to retrain)')
        return
    import dualopt_mm  # noqa: F401
    from mmengine.runner import Runner

    from dualopt_mm.engine.config import load_config
    cfg = load_config(CONFIG, work_dir=args.work_dir)
    cfg.randomness = dict(seed=args.seed, deterministic=False)
    runner = Runner.from_cfg(cfg)
    runner.train()
    last = osp.join(args.work_dir, f'epoch_{cfg.train_cfg.max_epochs}.pth')
    os.makedirs(osp.dirname(TARGET), exist_ok=True)
    shutil.copyfile(last, TARGET)
    print(f'{TARGET}: written from {last}')


if __name__ == '__main__':
    main()
