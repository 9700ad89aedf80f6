#!/usr/bin/env python
"""Train any OpenMMLab config (mmdet, mmseg, mmpretrain): the task comes from its default_scope.

    python tools/train.py configs/detection/retinanet_r18_fpn_shapes.py --work-dir work_dirs/det
    python tools/train.py configs/detection/retinanet_r18_fpn_shapes.py --resume   # latest ckpt
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Train a model from an OpenMMLab config')
    p.add_argument('config')
    p.add_argument('--work-dir', help='logs and checkpoints (default: work_dirs/<config name>)')
    p.add_argument('--resume', nargs='?', const='auto', default=None,
                   help='resume from the given checkpoint, or from the latest one in the work dir')
    p.add_argument('--amp', action='store_true', help='mixed precision (needs a GPU)')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override config keys, e.g. train_cfg.max_epochs=2')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    import dualopt_mm  # noqa: F401  (compat fixes, registries)
    from mmengine.runner import Runner

    from dualopt_mm.engine.config import load_config
    cfg = load_config(args.config, args.cfg_options, args.work_dir, args.launcher)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    Runner.from_cfg(cfg).train()


if __name__ == '__main__':
    main()
