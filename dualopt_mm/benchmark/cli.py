"""Run a benchmark suite (protocol v2): a tuning phase, then a reporting phase, from a suite file.

    python -m dualopt_mm.benchmark demo                     # minutes: a paired first look
    python -m dualopt_mm.benchmark mini                     # = configs/benchmark/mini.py, both phases
    python -m dualopt_mm.benchmark mini --phase tuning      # one phase (each fits one ~2.5 h run on 2 cores)
    python -m dualopt_mm.benchmark configs/benchmark/my_suite.py   # any suite file: your optimizer vs ours
    python -m dualopt_mm.benchmark full --cfg-options data_root.coco=/data/coco/   # GPU, full scale
    python -m dualopt_mm.benchmark mini --list              # the cells and which are finished
    python -m dualopt_mm.benchmark mini --show-config CELL_ID   # the exact config a cell trains

Results go to ``results/<suite>/`` (cells/*.json, tuning.json, results.csv/.json, README.md,
figures); training logs to ``work_dirs/benchmark/<suite>/``. Finished cells are skipped, so an
interrupted run continues where it stopped; ``--force PATTERN`` re-runs matching cells (their old
result is kept under replaced/). The protocol is in results/README.md.
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

PROG = 'python -m dualopt_mm.benchmark'


def parse_args(argv=None, prog: str = PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__.replace(PROG, prog),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('suite', help='a suite name in configs/benchmark/ (demo, mini, full) or a suite file')
    p.add_argument('--phase', choices=['tuning', 'reporting', 'all'], default='all')
    p.add_argument('--out', help='results folder (default: results/<suite name>)')
    p.add_argument('--work-root', default=osp.join('work_dirs', 'benchmark'))
    p.add_argument('--force', nargs='+', default=[], metavar='PATTERN',
                   help='cell ids (shell patterns) to train again even though they are finished')
    p.add_argument('--only', nargs='+', default=[], metavar='PATTERN', help='run only matching cell ids')
    p.add_argument('--list', action='store_true', help='list the cells and their state, run nothing')
    p.add_argument('--show-config', metavar='CELL_ID', help='print the config a cell trains, run nothing')
    p.add_argument('--report-only', action='store_true', help='rewrite tables and figures from finished cells')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                   help='override keys of the suite file (e.g. data paths of the full suite)')
    return p.parse_args(argv)


def main(argv=None, prog: str = PROG):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); ``prog`` is how the run was invoked,
    as recorded in the report."""
    args = parse_args(argv, prog)
    import warnings
    # mmengine / mmcv import pkg_resources; the notice would bury the progress line
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    import dualopt_mm  # noqa: F401  (registries)
    from dualopt_mm.benchmark import SuiteError, load_suite
    from dualopt_mm.engine.config import parse_cfg_options

    try:
        suite = load_suite(args.suite, overrides=parse_cfg_options(args.cfg_options) if args.cfg_options else None)
    except SuiteError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    from dualopt_mm.benchmark.analysis import TuningIncomplete
    from dualopt_mm.benchmark.driver import CorruptResultError, StaleResultError
    try:
        return _run(args, argv, suite, prog)
    except (CorruptResultError, StaleResultError, TuningIncomplete, PermissionError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2


def _run(args, argv, suite, prog):
    from dualopt_mm.benchmark import reporting_cells, tuning_cells
    from dualopt_mm.benchmark.driver import load_results, load_tuning, run_suite
    from dualopt_mm.benchmark.report import write_report
    out = args.out or osp.join('results', suite.name)
    control = {'--report-only', '--list'}
    command = prog + ' ' + ' '.join(
        a for a in (argv if argv is not None else sys.argv[1:]) if a not in control)
    results = load_results(out)
    tuning = load_tuning(suite, out)
    if args.list or args.show_config:
        cells = tuning_cells(suite) + (reporting_cells(suite, tuning) if tuning else [])
        if args.show_config:
            from dualopt_mm.benchmark.cell import build_cell_config
            cell = next((c for c in cells if c.id == args.show_config), None)
            if cell is None:
                print(f'error: no cell {args.show_config!r} in suite {suite.name!r} (see --list)', file=sys.stderr)
                return 2
            print(build_cell_config(suite, cell, osp.join(args.work_root, suite.name, cell.id)).pretty_text)
            return 0
        for c in cells:
            print(f"{'done' if c.id in results else 'todo'}  {c.phase:9s} {c.id}")
        n_rep = f'{len(reporting_cells(suite, tuning))} reporting' if tuning else 'reporting cells known once tuning is frozen'
        print(f'{len(tuning_cells(suite))} tuning cells, {n_rep}; {len(results)} finished')
        return 0
    phases = ('tuning', 'reporting') if args.phase == 'all' else (args.phase,)
    if not args.report_only:
        os.makedirs(out, exist_ok=True)
        results = run_suite(suite, out, args.work_root, phases=phases, force=tuple(args.force),
                            only=tuple(args.only))
        tuning = load_tuning(suite, out)
    if tuning is None:
        print(f'{out}: tuning not finished; nothing to report yet')
        return 0 if results else 1
    reported = [c for c in reporting_cells(suite, tuning) if c.id in results]
    if not reported:
        from dualopt_mm.benchmark.report import write_tuning_report
        print('\n'.join(write_tuning_report(suite, tuning)))
        print(f'{out}: no reporting cells finished yet (run --phase reporting)')
        return 0
    write_report(suite, tuning, results, out, command)
    readme = open(osp.join(out, 'README.md')).read()
    body = '\n## '.join(readme.split('\n## ')[0:2])  # the header and the claims
    print('\n' + '\n'.join(line for line in body.splitlines() if not line.startswith('![')).strip())
    print(f'\n(leaderboards, tuning table and figures: {osp.join(out, "README.md")})')
    return 0
