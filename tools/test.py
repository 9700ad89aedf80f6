#!/usr/bin/env python
"""Evaluate a checkpoint with any OpenMMLab config's test loop and metrics.

    python tools/test.py configs/detection/retinanet_r18_fpn_shapes.py work_dirs/det/epoch_12.pth
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description='Evaluate a checkpoint')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--work-dir')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    args = p.parse_args(argv)

    import dualopt_mm  # noqa: F401
    from mmengine.runner import Runner

    from dualopt_mm.engine.config import load_config
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    cfg.load_from, cfg.resume = args.checkpoint, False
    metrics = Runner.from_cfg(cfg).test()
    for k, v in metrics.items():
        print(f'{k}: {v}')


if __name__ == '__main__':
    main()
