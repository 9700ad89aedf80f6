#!/usr/bin/env python
"""Train every CPU-scale config for its full schedule and record its metrics.

    python tools/baselines.py                      # all CPU-scale configs, seed 0
    python tools/baselines.py --only detection     # one family

Writes ``results/baselines/cpu_baselines.{md,json}`` (metric, wall time, machine, versions, seed).
A config whose result is already recorded for the same seed is skipped unless ``--force``.
"""
import argparse
import datetime
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

CONFIGS = {
    'classification (upstream pre-training)': ('classification/resnet18_upstream.py', 'accuracy/top1'),
    'classification': ('classification/resnet18_shapes.py', 'accuracy/top1'),
    'detection': ('detection/retinanet_r18_fpn_shapes.py', 'coco/bbox_mAP'),
    'instance segmentation': ('instance_seg/mask-rcnn_r18_fpn_shapes.py', 'coco/segm_mAP'),
    'semantic segmentation': ('semantic_seg/fpn_r18_shapes.py', 'mIoU'),
}


def train_one(config, seed, work_dir):
    from mmengine.runner import Runner

    from dualopt_mm.benchmark.cell import numeric_metrics
    from dualopt_mm.engine.config import isolate_run, load_config
    cfg = isolate_run(load_config(osp.join(ROOT, 'configs', config), work_dir=work_dir))
    cfg.randomness = dict(seed=seed, deterministic=False)
    length = cfg.train_cfg.get('max_epochs') or cfg.train_cfg.get('max_iters')
    cfg.train_cfg.val_begin = length + 1  # evaluated once, below
    runner = Runner.from_cfg(cfg)
    t0 = time.perf_counter()
    runner.train()
    train_s = time.perf_counter() - t0
    metrics = runner.val_loop.run()
    return numeric_metrics(metrics), train_s


def write_report(results, path_md):
    lines = ['# CPU-scale baselines on the synthetic data', '',
             'Each config trained from random initialisation for its full schedule by '
             '`python tools/baselines.py`, then evaluated on the in-distribution val split with '
             "the task's real metric.", '',
             '| task | config | metric | value | train time |', '|---|---|---|---:|---:|']
    env = None
    for task, r in results.items():
        env = r['env']
        lines.append(f"| {task} | `configs/{r['config']}` | {r['metric']} | {r['value']:.3f} | "
                     f"{r['train_s'] / 60:.1f} min |")
    if env:
        lines += ['', f"Seed {next(iter(results.values()))['seed']}; machine: {env['machine']}, "
                      f"{env['threads']} threads; python {env['python']}, torch {env['torch']}, "
                      f"mmengine {env['mmengine']}, mmcv {env['mmcv']}, mmdet {env['mmdet']}, "
                      f"mmseg {env['mmseg']}, mmpretrain {env['mmpretrain']}. Times are wall-clock "
                      'on a shared machine (upper bounds).']
    with open(path_md, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--only', nargs='*', help='task names (substring match)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=osp.join(ROOT, 'results', 'baselines'))
    p.add_argument('--work-root', default=osp.join('work_dirs', 'baselines'))
    p.add_argument('--force', action='store_true')
    args = p.parse_args(argv)

    import dualopt_mm  # noqa: F401
    os.makedirs(args.out, exist_ok=True)
    path_json = osp.join(args.out, 'cpu_baselines.json')
    results = json.load(open(path_json)) if osp.exists(path_json) else {}
    from dualopt_mm.benchmark.env import environment
    env = environment()
    for task, (config, metric) in CONFIGS.items():
        if args.only and not any(o in task for o in args.only):
            continue
        if not args.force and results.get(task, {}).get('seed') == args.seed:
            print(f'{task}: recorded already (use --force to retrain)')
            continue
        work_dir = osp.join(args.work_root, osp.splitext(osp.basename(config))[0])
        metrics, train_s = train_one(config, args.seed, work_dir)
        results[task] = {'config': config, 'metric': metric, 'value': metrics[metric],
                         'all_metrics': metrics, 'train_s': train_s, 'seed': args.seed, 'env': env,
                         'date': datetime.date.today().isoformat()}
        print(f'{task}: {metric} = {metrics[metric]:.3f} ({train_s / 60:.1f} min)')
        with open(path_json, 'w') as f:
            json.dump(results, f, indent=1)
        write_report(results, osp.join(args.out, 'cpu_baselines.md'))


if __name__ == '__main__':
    main()
