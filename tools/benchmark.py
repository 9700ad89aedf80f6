#!/usr/bin/env python
"""Run the optimizer benchmark: task family x optimizer x regime x seed, from the configs.

    python tools/benchmark.py demo            # minutes: RetinaNet fine-tuning, AdamW vs DualOpt vs SPD
    python tools/benchmark.py mini            # the whole matrix on the synthetic data, 3 seeds (CPU)
    python tools/benchmark.py full --coco /data/coco --ade /data/ade/ADEChallengeData2016 \\
        --imagenet /data/imagenet             # the same matrix at full scale (GPU)
    python tools/benchmark.py mini --list     # the cells, and which are finished

Results go to ``results/<suite>/`` (cells/*.json, configs/*.py, results.csv/.json, README.md,
plots); training logs to ``work_dirs/benchmark/<suite>/``. Finished cells are skipped, so an
interrupted run continues where it stopped; ``--force PATTERN`` re-runs matching cells (their old
result is kept under replaced/). The protocol is in results/README.md.
"""
import argparse
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('suite', choices=['demo', 'mini', 'full'])
    p.add_argument('--out', help='results folder (default: results/<suite>)')
    p.add_argument('--work-root', default=osp.join('work_dirs', 'benchmark'))
    p.add_argument('--force', nargs='+', default=[], metavar='PATTERN',
                   help='cell ids (shell patterns) to train again even though they are finished')
    p.add_argument('--only', nargs='+', default=[], metavar='PATTERN', help='run only matching cell ids')
    p.add_argument('--list', action='store_true', help='list the cells and their state, run nothing')
    p.add_argument('--report-only', action='store_true', help='rewrite tables and plots from finished cells')
    full = p.add_argument_group('full suite (data paths; defaults are the configs\' data/ folders)')
    full.add_argument('--coco', default='data/coco/')
    full.add_argument('--ade', default='data/ade/ADEChallengeData2016/')
    full.add_argument('--imagenet', default='data/imagenet/')
    full.add_argument('--upstream-checkpoint', help='mmpretrain ResNet-18 ImageNet classifier (path or URL)')
    full.add_argument('--ood-coco', help='OOD image folder with the COCO val annotations (e.g. corrupted val2017)')
    full.add_argument('--ood-ade', help='OOD image folder with the ADE20K validation annotations')
    full.add_argument('--ood-imagenet', help='OOD split folder in ImageNet val layout, relative to --imagenet')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import warnings
    # mmengine / mmcv import pkg_resources; the notice would bury the progress line
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    import dualopt_mm  # noqa: F401  (registries)
    from dualopt_mm.benchmark import expand, get_suite, planned_count
    from dualopt_mm.benchmark.driver import load_results, run_suite
    from dualopt_mm.benchmark.report import write_report

    kwargs = {}
    if args.suite == 'full':
        ood = {k: v for k, v in (('coco', args.ood_coco), ('ade', args.ood_ade), ('imagenet', args.ood_imagenet)) if v}
        kwargs = dict(coco=args.coco, ade=args.ade, imagenet=args.imagenet,
                      upstream_checkpoint=args.upstream_checkpoint, ood=ood)
    suite = get_suite(args.suite, **kwargs)
    out = args.out or osp.join('results', suite.name)
    control = {'--report-only', '--list'}
    command = 'python tools/benchmark.py ' + ' '.join(
        a for a in (argv if argv is not None else sys.argv[1:]) if a not in control)
    if args.list:
        results = load_results(out)
        cells = expand(suite, results)
        for c in cells:
            print(f"{'done' if c.id in results else 'todo'}  {c.id}  ({c.config})")
        print(f'{len(cells)} cells known now, {planned_count(suite)} planned, {len(results)} finished')
        return 0
    if not args.report_only:
        os.makedirs(out, exist_ok=True)
        run_suite(suite, out, args.work_root, force=tuple(args.force), only=tuple(args.only))
    results = load_results(out)
    if not results:
        print(f'{out}: no finished cells to report')
        return 1
    write_report(suite, results, out, command)
    readme = open(osp.join(out, 'README.md')).read()
    body = readme.split('## Learning-rate grid')[0]
    print('\n' + '\n'.join(line for line in body.splitlines() if not line.startswith('![')))
    print(f'(tables, grid and plots: {osp.join(out, "README.md")})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
