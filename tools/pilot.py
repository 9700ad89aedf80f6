#!/usr/bin/env python
"""Pilot run for sizing a benchmark task: train one task config with one optimizer setting for a
given schedule length and print the in-distribution val metric and the time it took. The numbers
behind the task sizes of ``configs/benchmark/mini.py`` (results/README.md, "Pilots") come from it.

    python tools/pilot.py configs/detection/retinanet_r18_fpn_shapes.py --regime finetune \\
        --length 12 --optimizer AdamW --lr 1e-3 --weight-decay 0.01
    python tools/pilot.py configs/classification/resnet18_shapes.py --regime scratch --length 15 \\
        --optimizer SGD --lr 0.1 --weight-decay 5e-4 --optimizer-options momentum=0.9

Fine-tuning pilots start the backbone from ``checkpoints/upstream_resnet18.pth`` (pre-trained
first if missing). The warm-up is capped at 10 % of the schedule, as in the benchmark.
"""
import argparse
import json
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--regime', choices=['finetune', 'scratch'], required=True)
    p.add_argument('--length', type=int, help='epochs or iterations (whatever the config counts)')
    p.add_argument('--optimizer', default='AdamW', help='any registered optimizer type')
    p.add_argument('--lr', type=float, required=True)
    p.add_argument('--weight-decay', type=float, default=0.0)
    p.add_argument('--optimizer-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='more optimizer arguments, e.g. momentum=0.9')
    p.add_argument('--seed', type=int, default=100)
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE')
    p.add_argument('--json', help='append the result as one json line to this file')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import warnings
    warnings.filterwarnings('ignore')
    import dualopt_mm  # noqa: F401
    from dualopt_mm.benchmark.cell import full_precision_coco, numeric_metrics, pilot_config
    from mmengine.runner import Runner
    from dualopt_mm.engine.config import parse_cfg_options
    extra = parse_cfg_options(args.optimizer_options) if args.optimizer_options else {}
    cfg = pilot_config(args.config, args.regime, args.length, args.optimizer, args.lr, args.weight_decay,
                       args.seed, args.cfg_options, optimizer_options=extra)
    t0 = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_s = time.perf_counter() - t0
    with full_precision_coco():
        metrics = numeric_metrics(runner.val_loop.run())
    out = {'config': osp.relpath(args.config, ROOT) if osp.isabs(args.config) else args.config,
           'regime': args.regime, 'length': args.length, 'optimizer': args.optimizer, 'lr': args.lr,
           'weight_decay': args.weight_decay, 'optimizer_options': extra, 'seed': args.seed, 'cfg_options': args.cfg_options,
           'iters': runner.iter, 'train_s': round(train_s, 1), 'val': metrics}
    print(json.dumps(out))
    if args.json:
        with open(args.json, 'a') as f:
            f.write(json.dumps(out) + '\n')


if __name__ == '__main__':
    main()
