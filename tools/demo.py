#!/usr/bin/env python
"""The main job on the bundled data: generate the synthetic scenes if missing, train the CPU-scale
RetinaNet-R18 detection baseline for a short schedule, evaluate with COCO metrics and print them.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(ROOT, 'configs', 'detection', 'retinanet_r18_fpn_shapes.py')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--work-dir', default=osp.join('work_dirs', 'demo'))
    p.add_argument('--epochs', type=int, default=None, help='override the schedule length')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)

    import torch
    import dualopt_mm  # noqa: F401
    from mmengine.config import Config
    from mmengine.runner import Runner

    from dualopt_mm.datasets import ensure_synthetic_data

    t0 = time.perf_counter()
    ensure_synthetic_data()
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = args.work_dir
    cfg.randomness = dict(seed=args.seed, deterministic=False)
    if args.epochs:
        cfg.train_cfg.max_epochs = args.epochs
        cfg.param_scheduler[1].update(end=args.epochs, T_max=args.epochs)
    cfg.train_cfg.val_begin = cfg.train_cfg.max_epochs + 1  # evaluated once, below
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.val_loop.run()
    minutes = (time.perf_counter() - t0) / 60
    print('\n=== dualopt_mm demo: RetinaNet-R18 on synthetic shapes (COCO format, 128 px) ===')
    print(f'schedule: {cfg.train_cfg.max_epochs} epochs, optimizer {cfg.optim_wrapper.optimizer.type}, '
          f'seed {args.seed}, {torch.get_num_threads()} threads, {minutes:.1f} min')
    names = ['bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s', 'bbox_mAP_m', 'bbox_mAP_l']
    for name in names:
        key = f'coco/{name}'
        if key in metrics:
            print(f'  {name:<12} {metrics[key]:.3f}')


if __name__ == '__main__':
    main()
