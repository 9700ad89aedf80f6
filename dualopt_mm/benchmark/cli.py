"""Run a benchmark suite (protocol v2): a tuning phase, then a reporting phase, from a suite file.

    python -m dualopt_mm.benchmark demo                     # minutes: a paired first look
    python -m dualopt_mm.benchmark mini                     # = configs/benchmark/mini.py, both phases
    python -m dualopt_mm.benchmark mini --phase tuning      # one phase (each fits one ~2.5 h run on 2 cores)
    python -m dualopt_mm.benchmark configs/benchmark/my_suite.py   # any suite file: your optimizer vs ours
    python -m dualopt_mm.benchmark full --cfg-options data_root.coco=/data/coco/   # GPU, full scale
    python -m dualopt_mm.benchmark mini --list              # the cells and which are finished
    python -m dualopt_mm.benchmark mini --show-config CELL_ID   # the exact config a cell trains
    python -m dualopt_mm.benchmark mini --executor local --workers 2   # one process per cell, 2 at a time
    python -m dualopt_mm.benchmark full --executor slurm --slurm-partition gpu --slurm-time-min 720
    python -m dualopt_mm.benchmark run-cell mini CELL_ID    # one cell of the manifest (what workers run)

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
    x = p.add_argument_group('running cells as separate processes (results/README.md, "Cells are processes")')
    x.add_argument('--executor', choices=['sequential', 'local', 'slurm'], default=None,
                   help='sequential (default): every cell in this process; local: worker processes on this '
                        'machine; slurm: submitit job arrays')
    x.add_argument('--workers', type=int, help='local: worker processes (default: one per GPU, else 1); '
                   'slurm: cells running at once (= --slurm-array-parallelism)')
    x.add_argument('--threads', type=int, help='torch threads per cell (default: the cores split between workers; '
                   'sequential: torch\'s default)')
    x.add_argument('--retries', type=int, help='attempts after the first for a cell that ends without its result '
                   '(default 2); then it is reported as failed')
    x.add_argument('--gpus-per-cell', type=int, help='GPUs per cell: >1 runs a distributed cell (mmengine launcher '
                   'pytorch locally, slurm on Slurm); 0: CPU only')
    for key, kind, text in (('partition', str, 'Slurm partition'), ('time-min', int, 'time limit per cell, minutes'),
                            ('mem-gb', float, 'memory per cell, GB'), ('account', str, 'Slurm account'),
                            ('qos', str, 'Slurm QOS'), ('constraint', str, 'Slurm node constraint'),
                            ('array-parallelism', int, 'cells running at once'),
                            ('cpus-per-task', int, 'CPUs per cell'),
                            ('max-requeues', int, 'requeues after preemption / timeout (submitit)')):
        x.add_argument(f'--slurm-{key}', type=kind, help=text)
    return p.parse_args(argv)


def parse_run_cell_args(argv, prog: str = PROG):
    p = argparse.ArgumentParser(prog=f'{prog} run-cell', description='Train one cell of a manifest the driver wrote '
                                '(results/<suite>/manifest.json) and write its json; what each worker process runs.')
    p.add_argument('suite', help='the suite as the driver was given it')
    p.add_argument('cell', help='a cell id of the manifest')
    p.add_argument('--out', help='results folder (default: results/<suite name>)')
    p.add_argument('--threads', type=int, help='torch threads')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                   help='a distributed cell: one process per GPU (torchrun, or Slurm tasks)')
    return p.parse_args(argv)


def run_cell_main(argv, prog: str = PROG) -> int:
    """``run-cell``: exit 0 when the cell is finished (now or before), 2 for bad input (a cell not
    in the manifest, a stale manifest), 3 when another live process trains it."""
    args = parse_run_cell_args(argv, prog)
    import warnings
    warnings.filterwarnings('ignore', message='pkg_resources is deprecated')
    import dualopt_mm  # noqa: F401  (registries)
    from dualopt_mm.benchmark import SuiteError
    from dualopt_mm.benchmark.claim import LockHeld
    from dualopt_mm.benchmark.driver import StaleResultError
    from dualopt_mm.benchmark.executors import EXIT_BAD_INPUT, EXIT_HELD, run_cell_command
    from dualopt_mm.benchmark.manifest import ManifestError
    try:
        run_cell_command(args.suite, args.cell, args.out, args.threads, args.launcher)
    except (ManifestError, SuiteError, StaleResultError) as e:
        print(f'error: {e}', file=sys.stderr)
        return EXIT_BAD_INPUT
    except LockHeld as e:
        print(f'{args.cell}: not run: {e}', file=sys.stderr)
        return EXIT_HELD
    return 0


def main(argv=None, prog: str = PROG):
    """Run the command line ``argv`` (default ``sys.argv[1:]``); ``prog`` is how the run was invoked,
    as recorded in the report."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['run-cell']:
        return run_cell_main(argv[1:], prog)
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
    from dualopt_mm.benchmark.executors import ExecutorError, preflight, resolve_options
    try:
        executor = resolve_options(args.executor or 'sequential', suite.executor,
                                   {'workers': args.workers, 'threads': args.threads, 'retries': args.retries,
                                    'gpus_per_cell': args.gpus_per_cell},
                                   {'partition': args.slurm_partition, 'time_min': args.slurm_time_min,
                                    'mem_gb': args.slurm_mem_gb, 'account': args.slurm_account, 'qos': args.slurm_qos,
                                    'constraint': args.slurm_constraint,
                                    'array_parallelism': args.slurm_array_parallelism,
                                    'cpus_per_task': args.slurm_cpus_per_task,
                                    'max_requeues': args.slurm_max_requeues})
        if not (args.list or args.show_config or args.report_only):
            preflight(executor)
    except ExecutorError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    try:
        return _run(args, argv, suite, prog, executor)
    except (CorruptResultError, StaleResultError, TuningIncomplete, PermissionError, ExecutorError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2


def _run(args, argv, suite, prog, executor=None):
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
        from dualopt_mm.benchmark.executors import _held_elsewhere
        for c in cells:
            state = 'done' if c.id in results else 'run ' if _held_elsewhere(out, c.id) else 'todo'
            print(f"{state}  {c.phase:9s} {c.id}")
        n_rep = f'{len(reporting_cells(suite, tuning))} reporting' if tuning else 'reporting cells known once tuning is frozen'
        print(f'{len(tuning_cells(suite))} tuning cells, {n_rep}; {len(results)} finished')
        return 0
    phases = ('tuning', 'reporting') if args.phase == 'all' else (args.phase,)
    if executor is not None and executor.kind == 'sequential' and executor.threads:
        import torch
        torch.set_num_threads(executor.threads)
    failed = {}
    if not args.report_only:
        os.makedirs(out, exist_ok=True)
        try:
            results = run_suite(suite, out, args.work_root, phases=phases, force=tuple(args.force),
                                only=tuple(args.only), executor=executor, suite_ref=args.suite,
                                cfg_options=tuple(args.cfg_options), failed=failed)
        finally:
            # said even when the reporting phase then cannot start (its tuning cells failed)
            if failed:
                print(f'\n{len(failed)} cell(s) FAILED (no result after every attempt; the same command tries '
                      'them again):', file=sys.stderr)
                for cid, why in sorted(failed.items()):
                    print(f'  {cid}: {why}', file=sys.stderr)
        tuning = load_tuning(suite, out)
    status = 1 if failed else 0
    if tuning is None:
        print(f'{out}: tuning not finished; nothing to report yet')
        return status if results else 1
    reported = [c for c in reporting_cells(suite, tuning) if c.id in results]
    if not reported:
        from dualopt_mm.benchmark.report import write_tuning_report
        print('\n'.join(write_tuning_report(suite, tuning)))
        print(f'{out}: no reporting cells finished yet (run --phase reporting)')
        return status
    write_report(suite, tuning, results, out, command)
    readme = open(osp.join(out, 'README.md')).read()
    body = '\n## '.join(readme.split('\n## ')[0:2])  # the header and the claims
    print('\n' + '\n'.join(line for line in body.splitlines() if not line.startswith('![')).strip())
    print(f'\n(leaderboards, tuning table and figures: {osp.join(out, "README.md")})')
    return status
