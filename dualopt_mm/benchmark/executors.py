"""Running a phase's cells as separate processes: ``--executor local`` (worker processes on this
machine) or ``--executor slurm`` (submitit job arrays), each cell ``run-cell SUITE CELL``.

The driver writes the phase's manifest (``manifest.py``), dispatches every cell without a json,
watches them and retries a cell whose attempt ended without its json (a crash, a SIGKILL, a
cancelled job) up to ``retries`` more times; a cell that still has none is reported as failed
(never silently missing). A diverged cell is a finished result. A cell claimed by another live
process (``claim.py``: a second driver, or the workers of a driver that was restarted) is not
dispatched again: the driver waits for its json, and takes the cell back if its claim goes stale.
"""
from __future__ import annotations

import collections
import json
import os
import os.path as osp
import subprocess
import sys
import time
import zlib
from dataclasses import dataclass, field

__all__ = ['EXECUTORS', 'EXECUTOR_KEYS', 'SLURM_KEYS', 'ExecutorError', 'ExecutorOptions', 'check_executor_section',
           'resolve_options', 'run_phase', 'master_port', 'worker_command', 'split_devices', 'run_cell_command',
           'EXIT_HELD', 'EXIT_BAD_INPUT', 'preflight']

EXECUTORS = ('sequential', 'local', 'slurm')
# name -> (check, what it must be)
_POS = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, 'a positive integer')
_NONNEG = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, 'an integer >= 0')
_STR = (lambda v: isinstance(v, str) and v != '', 'a non-empty string')
_NUM = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0, 'a positive number')
EXECUTOR_KEYS = {'workers': _POS, 'threads': _POS, 'retries': _NONNEG, 'gpus_per_cell': _NONNEG, 'slurm': None}
SLURM_KEYS = {'partition': _STR, 'time_min': _POS, 'mem_gb': _NUM, 'account': _STR, 'qos': _STR,
              'constraint': _STR, 'array_parallelism': _POS, 'cpus_per_task': _POS, 'max_requeues': _NONNEG}
DEFAULT_RETRIES = 2
# run-cell's exit codes besides 0 (finished, or found finished): the driver tells them apart
EXIT_BAD_INPUT = 2   # a cell not in the manifest, a stale manifest: retrying cannot help
EXIT_HELD = 3        # another live process trains the cell


class ExecutorError(ValueError):
    """An executor option that cannot be used as given; the message names it."""


def _check(where: str, d, allowed: dict) -> dict:
    if not isinstance(d, dict):
        raise ExecutorError(f'{where} must be a dict, got {d!r}')
    unknown = sorted(set(d) - set(allowed))
    if unknown:
        raise ExecutorError(f'{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}')
    for k, v in d.items():
        rule = allowed[k]
        if rule is not None and not rule[0](v):
            raise ExecutorError(f'{where}.{k} must be {rule[1]}, got {v!r}')
    return dict(d)


def check_executor_section(section: dict) -> dict:
    """Validate a suite file's ``executor=dict(...)`` (keys :data:`EXECUTOR_KEYS`, its ``slurm``
    dict :data:`SLURM_KEYS`); returns it as plain dicts."""
    out = _check('executor', section, EXECUTOR_KEYS)
    if 'slurm' in out:
        out['slurm'] = _check('executor.slurm', out['slurm'], SLURM_KEYS)
    return out


@dataclass
class ExecutorOptions:
    kind: str = 'sequential'
    workers: int | None = None
    threads: int | None = None
    retries: int = DEFAULT_RETRIES
    # None: one GPU per local worker on a GPU machine, none on a CPU one; CPU jobs on Slurm.
    # 0: CPU only. N > 1: a distributed cell, one process per GPU.
    gpus_per_cell: int | None = None
    slurm: dict = field(default_factory=dict)
    poll_s: float = 1.0

    @property
    def launcher(self) -> str:
        """mmengine's launcher for a cell: several GPUs per cell are several processes."""
        if (self.gpus_per_cell or 0) <= 1:
            return 'none'
        return 'slurm' if self.kind == 'slurm' else 'pytorch'


def resolve_options(kind: str, section: dict | None = None, cli: dict | None = None,
                    cli_slurm: dict | None = None) -> ExecutorOptions:
    """The options of a run: the command line's over the suite file's ``executor`` section.
    ``cli`` / ``cli_slurm``: options given on the command line (None = not given)."""
    if kind not in EXECUTORS:
        raise ExecutorError(f'--executor must be one of {list(EXECUTORS)}, got {kind!r}')
    section = check_executor_section(section or {})
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    cli_slurm = {k: v for k, v in (cli_slurm or {}).items() if v is not None}
    _check('the command line', cli, {k: r for k, r in EXECUTOR_KEYS.items() if k != 'slurm'})
    _check('the command line (Slurm)', cli_slurm, SLURM_KEYS)
    if kind == 'sequential':
        # --threads applies to this process too: the same torch threads give the same numbers
        given = sorted(k for k in cli if k != 'threads') + sorted(cli_slurm)
        if given:
            flags = ', '.join('--' + k.replace('_', '-') for k in given)
            raise ExecutorError(f'{flags}: only with --executor local or slurm (the default runs every cell in '
                                'this process, one after another)')
        return ExecutorOptions('sequential', threads=cli.get('threads'))
    if kind == 'local' and cli_slurm:
        flags = ', '.join('--slurm-' + k.replace('_', '-') for k in sorted(cli_slurm))
        raise ExecutorError(f'{flags}: only with --executor slurm')
    merged = {k: v for k, v in section.items() if k != 'slurm'}
    merged.update(cli)
    slurm = dict(section.get('slurm') or {})
    slurm.update(cli_slurm)
    opts = ExecutorOptions(kind, merged.get('workers'), merged.get('threads'),
                           merged.get('retries', DEFAULT_RETRIES), merged.get('gpus_per_cell'),
                           slurm if kind == 'slurm' else {})
    if kind == 'slurm' and opts.workers is not None:
        if 'array_parallelism' in cli_slurm and 'workers' in cli:
            raise ExecutorError('--workers and --slurm-array-parallelism say the same for --executor slurm: give one')
        opts.slurm.setdefault('array_parallelism', opts.workers)
    return opts


def preflight(opts: ExecutorOptions) -> None:
    """Refuse, before anything is written or trained, an executor this machine cannot run."""
    import shutil
    if opts.kind == 'slurm':
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise ExecutorError('--executor slurm needs submitit (pip install submitit, or the `slurm` extra)') from None
        if shutil.which('sbatch') is None or shutil.which('srun') is None:
            raise ExecutorError('--executor slurm: no sbatch / srun on this machine (not a Slurm login node? '
                                'tools/setup_slurm.sh starts a single-node cluster)')
    elif opts.kind == 'local' and (opts.gpus_per_cell or 0) > 1:
        import torch
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n < opts.gpus_per_cell:
            raise ExecutorError(f'--gpus-per-cell {opts.gpus_per_cell}: this machine shows {n} GPU(s)')


def master_port(job_id: str) -> int:
    """A rendezvous port derived from the job's id, so that distributed cells sharing a node do
    not collide (a fixed 29500 would): 20000-59999."""
    return 20000 + zlib.crc32(str(job_id).encode()) % 40000


def split_devices(visible: list, workers: int | None, gpus_per_cell: int) -> list:
    """The device groups of the local workers: ``gpus_per_cell`` devices each, disjoint."""
    groups = len(visible) // gpus_per_cell
    if groups == 0:
        raise ExecutorError(f'--gpus-per-cell {gpus_per_cell}: this machine shows {len(visible)} GPU(s)')
    n = groups if workers is None else workers
    if n > groups:
        raise ExecutorError(f'--workers {n} x --gpus-per-cell {gpus_per_cell} needs {n * gpus_per_cell} GPUs; '
                            f'this machine shows {len(visible)} ({",".join(visible)})')
    return [visible[i * gpus_per_cell:(i + 1) * gpus_per_cell] for i in range(n)]


def _package_parent() -> str:
    import dualopt_mm
    return osp.dirname(osp.dirname(osp.abspath(dualopt_mm.__file__)))


def worker_command(suite_ref: str, cell_id: str, out_dir: str, threads: int | None = None,
                   gpus_per_cell: int | None = None, port: int | None = None) -> list:
    """The command line of one cell's process (``torchrun`` around it for a distributed cell)."""
    args = ['-m', 'dualopt_mm.benchmark', 'run-cell', suite_ref, cell_id, '--out', out_dir]
    if threads:
        args += ['--threads', str(threads)]
    if (gpus_per_cell or 0) > 1:
        return [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(gpus_per_cell),
                '--master_port', str(port), *args, '--launcher', 'pytorch']
    return [sys.executable, *args]


# ----------------------------------------------------------------------------- one cell (worker side)

def run_cell_command(suite_ref: str, cell_id: str, out_dir: str | None = None, threads: int | None = None,
                     launcher: str = 'none', stream=None) -> str:
    """Train one cell of a manifest in this process: ``finished`` (its json written now),
    ``found`` (it had one already). Raises :class:`~.manifest.ManifestError` (bad input),
    :class:`~.claim.LockHeld` (another process trains it)."""
    from .driver import Progress, load_tuning, record_cell
    from .manifest import manifest_cell, read_manifest
    from .suite import load_suite
    stream = stream or sys.stderr
    if threads:
        import torch
        torch.set_num_threads(threads)
    if out_dir is None:
        out_dir = osp.join('results', load_suite(suite_ref, check_optimizers=False).name)
    manifest = read_manifest(out_dir)
    if manifest['suite'] != suite_ref:
        from .manifest import ManifestError
        raise ManifestError(f'{out_dir}/manifest.json was written for suite {manifest["suite"]!r}, not {suite_ref!r}')
    overrides = None
    if manifest['cfg_options']:
        from ..engine.config import parse_cfg_options
        overrides = parse_cfg_options(manifest['cfg_options'])
    suite = load_suite(suite_ref, overrides=overrides)
    phase, c, entry = manifest_cell(manifest, suite, cell_id, out_dir)
    if phase == 'reporting':
        load_tuning(suite, out_dir)  # stale tuning.json: StaleResultError
    rank = int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', 0))) if launcher != 'none' else 0
    progress = Progress(1, stream)
    progress.start_cell(1, c.id, 0.0)
    result = record_cell(suite, c, out_dir, manifest['work_root'], progress=progress,
                         upstream_ref=entry.get('upstream_ref'), configs_root=manifest.get('configs_root'),
                         launcher=launcher, write=rank == 0)
    if result is None:
        progress.message(f'{cell_id}: already finished (its json exists); nothing trained')
        return 'found'
    from .driver import cell_state
    progress.message(f'{cell_id}: {cell_state(result)}')
    return 'finished'


# ----------------------------------------------------------------------------- executors (driver side)

def _attempt_path(log_root: str, cid: str, attempt: int, ext: str) -> str:
    """``<log root>/<cell id>/attempt-<k><ext>``: the first k >= ``attempt`` not taken, so the
    logs of an earlier driver's attempts are kept, not overwritten."""
    d = osp.join(log_root, cid)
    os.makedirs(d, exist_ok=True)
    k = attempt
    while osp.lexists(osp.join(d, f'attempt-{k}{ext}')):
        k += 1
    return osp.join(d, f'attempt-{k}{ext}')


class _LocalExecutor:
    """N worker processes on this machine: one device group each on a GPU machine, the CPU
    threads split between them otherwise."""

    def __init__(self, opts: ExecutorOptions, suite_ref: str, out_dir: str, log_root: str):
        import torch
        self.suite_ref, self.out_dir, self.log_root = suite_ref, out_dir, log_root
        self.opts = opts
        env_visible = os.environ.get('CUDA_VISIBLE_DEVICES')
        n_gpu = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if n_gpu and opts.gpus_per_cell != 0:
            visible = env_visible.split(',') if env_visible else [str(i) for i in range(n_gpu)]
            self.devices = split_devices(visible[:n_gpu], opts.workers, opts.gpus_per_cell or 1)
            self.threads = opts.threads
        else:
            if (opts.gpus_per_cell or 0) > 1:
                raise ExecutorError(f'--gpus-per-cell {opts.gpus_per_cell}: this machine shows no GPU')
            # '' hides the GPUs of a machine told to run CPU cells (--gpus-per-cell 0)
            self.devices = [[] if n_gpu else None] * (opts.workers or 1)
            # split the cores: 2 workers x 1 thread on 2 cores, not 2 x 2 fighting for them
            self.threads = opts.threads or max(1, (os.cpu_count() or 1) // len(self.devices))
        self.slots = [None] * len(self.devices)  # slot -> (cell id, Popen, log file)

    @property
    def parallel(self) -> int:
        return len(self.slots)

    def free(self) -> int:
        return sum(s is None for s in self.slots)

    def submit(self, cells: list, attempts: dict) -> dict:
        started = {}
        for cid in cells:
            slot = self.slots.index(None)
            env = dict(os.environ)
            # the worker imports this very package, also when the driver runs from a clone
            env['PYTHONPATH'] = os.pathsep.join([_package_parent()] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
            if self.devices[slot] is not None:
                env['CUDA_VISIBLE_DEVICES'] = ','.join(self.devices[slot])
            if self.threads:
                env['OMP_NUM_THREADS'] = env['MKL_NUM_THREADS'] = str(self.threads)
            port = master_port(f'{os.getpid()}-{slot}')
            cmd = worker_command(self.suite_ref, cid, self.out_dir, self.threads, self.opts.gpus_per_cell, port)
            log_path = _attempt_path(self.log_root, cid, attempts[cid], '.log')
            log = open(log_path, 'w')
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=os.getcwd(),
                                    start_new_session=True)
            self.slots[slot] = (cid, proc, log, log_path)
            started[cid] = log_path
        return started

    def poll(self) -> list:
        """[(cell id, outcome, detail)] of the attempts that ended: outcome ``ok`` | ``held`` |
        ``bad_input`` | ``failed``."""
        ended = []
        for i, s in enumerate(self.slots):
            if s is None:
                continue
            cid, proc, log, log_path = s
            rc = proc.poll()
            if rc is None:
                continue
            log.close()
            self.slots[i] = None
            outcome = {0: 'ok', EXIT_HELD: 'held', EXIT_BAD_INPUT: 'bad_input'}.get(rc, 'failed')
            why = f'exit status {rc}' if rc >= 0 else f'killed by signal {-rc}'
            ended.append((cid, outcome, f'{why}; log: {log_path}'))
        return ended

    def running(self) -> list:
        return [s[0] for s in self.slots if s is not None]

    def stop(self) -> None:
        """The driver stops (Ctrl-C): its workers stop with it (each leaves no json; its lock is
        released by the worker, or is stale once it is gone)."""
        for s in self.slots:
            if s is not None:
                s[1].terminate()
        for s in self.slots:
            if s is not None:
                try:
                    s[1].wait(timeout=30)
                except subprocess.TimeoutExpired:
                    s[1].kill()
                s[2].close()


class _SlurmExecutor:
    """One submitit job array per dispatch (resubmissions carry only the failed cells); a job
    preempted or timed out is requeued by submitit (the cell starts again from its start)."""

    def __init__(self, opts: ExecutorOptions, suite_ref: str, out_dir: str, log_root: str, job_root: str,
                 suite_name: str = 'suite'):
        try:
            import submitit
        except ImportError:
            raise ExecutorError('--executor slurm needs submitit (pip install submitit)') from None
        import shutil
        if shutil.which('sbatch') is None or shutil.which('srun') is None:
            raise ExecutorError('--executor slurm: no sbatch / srun on this machine (not a Slurm login node?)')
        self.suite_ref, self.out_dir, self.log_root, self.opts = suite_ref, out_dir, log_root, opts
        s = opts.slurm
        g = opts.gpus_per_cell or 0
        self.threads = opts.threads or s.get('cpus_per_task') or 1
        self.executor = submitit.AutoExecutor(folder=job_root, cluster='slurm',
                                              slurm_max_num_timeout=s.get('max_requeues', 3))
        params = dict(name=f'bench-{suite_name}', timeout_min=s.get('time_min', 60 * 24),
                      cpus_per_task=s.get('cpus_per_task', self.threads), tasks_per_node=max(1, g), nodes=1,
                      slurm_array_parallelism=s.get('array_parallelism', 256),
                      # the job imports this very package, also when the driver runs from a clone
                      slurm_setup=[f'export PYTHONPATH={_package_parent()}:$PYTHONPATH'])
        if s.get('mem_gb'):
            params['mem_gb'] = s['mem_gb']
        if g:
            params['gpus_per_node'] = g
        for k in ('partition', 'account', 'qos', 'constraint'):
            if s.get(k):
                params[f'slurm_{k}'] = s[k]
        self.executor.update_parameters(**params)
        self.jobs = {}  # cell id -> submitit job

    parallel = property(lambda self: self.opts.slurm.get('array_parallelism', 256))

    def free(self) -> int:
        return 1 << 30  # Slurm queues them; slurm_array_parallelism caps how many run at once

    def submit(self, cells: list, attempts: dict) -> dict:
        from .slurm_task import CellTask
        task = CellTask(self.suite_ref, self.out_dir, self.threads, self.opts.launcher)
        jobs = self.executor.map_array(task, cells)
        started = {}
        for cid, job in zip(cells, jobs):
            self.jobs[cid] = job
            # the logs per cell under the work root: links to submitit's files of each attempt
            # (a distributed cell's job has one task per GPU: rank 0 writes the cell)
            paths = _rank0(job).paths
            out_link = _attempt_path(self.log_root, cid, attempts[cid], '.out')
            os.symlink(osp.abspath(str(paths.stdout)), out_link)
            os.symlink(osp.abspath(str(paths.stderr)), out_link[:-len('.out')] + '.err')
            started[cid] = f'Slurm job {job.job_id}; log: {out_link}'
        return started

    def poll(self) -> list:
        from .claim import slurm_jobs_alive
        ended = []
        if not self.jobs:
            return ended
        alive = slurm_jobs_alive([j.job_id for j in self.jobs.values()])
        for cid, job in list(self.jobs.items()):
            paths = _rank0(job).paths
            if paths.result_pickle.exists():
                from submitit.core.utils import pickle_load
                try:
                    outcome, value = pickle_load(paths.result_pickle)
                except (EOFError, OSError):
                    continue  # being written
                if outcome == 'success':
                    state = {'held': 'held'}.get(value, 'ok')
                    ended.append((cid, state, f'Slurm job {job.job_id}'))
                else:
                    bad = 'ManifestError' in str(value)
                    last = str(value).strip().splitlines()[-1] if str(value).strip() else ''
                    ended.append((cid, 'bad_input' if bad else 'failed', f'Slurm job {job.job_id}: {last}; '
                                  f'log: {paths.stderr}'))
                del self.jobs[cid]
            elif alive is not None and job.job_id not in alive:
                # gone from the queue without a result: cancelled, killed, node failure
                ended.append((cid, 'failed', f'Slurm job {job.job_id} left the queue without a result '
                              f'(cancelled or killed); log: {paths.stderr}'))
                del self.jobs[cid]
        return ended

    def running(self) -> list:
        return list(self.jobs)

    def stop(self) -> None:
        """A stopped driver leaves its Slurm jobs running: they write their cells, and the next
        driver finds them claimed (or finished) and does not submit them again."""


def _rank0(job):
    return job.task(0) if job.num_tasks > 1 else job


# ----------------------------------------------------------------------------- the driver loop

def _fmt(seconds: float) -> str:
    from .driver import _fmt as f
    return f(seconds)


class ScaleProgress:
    """One display for the whole phase: cells done / running / left / failed and the time left.
    A terminal line rewritten in place; on a log file a line whenever the counts change."""

    def __init__(self, total: int, label: str, parallel: int, stream=None):
        self.total, self.label, self.parallel = total, label, max(1, parallel)
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.t0 = time.perf_counter()
        self.walls = []
        self._last = None

    def line(self, done: int, running: int, left: int, failed: int) -> str:
        if self.walls:
            per = sum(self.walls) / len(self.walls)
            # as many at once as run now (a Slurm array's cap may exceed what the cluster gives)
            parallel = max(1, min(self.parallel, running)) if running else self.parallel
            eta = f'~{_fmt(per * (left + running / 2) / parallel)} left'
        else:
            eta = 'time left known after the first cell'
        return (f'[{self.label}] {done}/{self.total} done | {running} running | {left} left | {failed} failed | '
                f'{eta} | {_fmt(time.perf_counter() - self.t0)} elapsed')

    def update(self, done, running, left, failed):
        counts = (done, running, left, failed)
        text = self.line(*counts)
        if self.tty:
            self.stream.write('\r' + text + '\x1b[K')
            self.stream.flush()
        elif counts != self._last:
            self.stream.write(text + '\n')
            self.stream.flush()
        self._last = counts

    def message(self, text: str):
        self.stream.write(('\r\x1b[K' if self.tty else '') + text + '\n')
        self.stream.flush()


def _held_elsewhere(out_dir: str, cid: str) -> bool:
    """The cell's lock belongs to a process that may still run."""
    from .claim import CellLock, lock_path, owner_alive
    owner = CellLock.read(lock_path(out_dir, cid))
    if owner is None:
        return False
    if owner.get('partial'):
        return True
    return owner_alive(owner) is not False


def run_phase(suite, suite_ref: str, phase: str, cells: list, todo: list, out_dir: str, work_root: str,
              opts: ExecutorOptions, stream=None, label: str = '') -> dict:
    """Run ``todo`` (cells of ``cells`` without a json) through the executor, with retries.
    Returns ``{'finished': [...], 'failed': {cell id: why}, 'attempts': {cell id: n}}``."""
    progress_stream = stream or sys.stderr
    done_path = lambda cid: osp.join(out_dir, 'cells', f'{cid}.json')  # noqa: E731
    log_root = osp.join(work_root, suite.name, '_logs')
    if opts.kind == 'local':
        ex = _LocalExecutor(opts, suite_ref, out_dir, log_root)
    else:
        ex = _SlurmExecutor(opts, suite_ref, out_dir, log_root, osp.join(work_root, suite.name, '_slurm'), suite.name)
    progress = ScaleProgress(len(cells), f'{label}{phase}', ex.parallel, progress_stream)
    already = len(cells) - len(todo)
    pending = collections.deque(todo)
    attempts = collections.Counter()
    elsewhere, failed, finished = set(), {}, []
    dispatched_at = {}

    startup = []  # local processes: their wall time minus the cell's own (imports, suite loading)

    def finish(cid, process_s=None):
        finished.append(cid)
        try:
            with open(done_path(cid)) as f:
                r = json.load(f)
            from .driver import cell_state
            progress.walls.append(r.get('wall_s', 0.0))
            state = cell_state(r)
            if process_s is not None and opts.kind == 'local':
                startup.append(process_s - r['wall_s'])
        except (OSError, ValueError, KeyError):
            state = 'finished'
        progress.message(f'[{already + len(finished)}/{len(cells)}] {label}{cid}: {state}')

    try:
        while pending or ex.running() or elsewhere:
            for cid, outcome, detail in ex.poll():
                if osp.exists(done_path(cid)):
                    # the json is the only truth, whatever the exit status said
                    finish(cid, time.perf_counter() - dispatched_at[cid] if outcome == 'ok' else None)
                elif outcome == 'held':
                    elsewhere.add(cid)
                    progress.message(f'{cid}: claimed by another process; waiting for its result')
                elif outcome == 'bad_input':
                    failed[cid] = detail
                    progress.message(f'{cid}: FAILED, cannot be retried ({detail})')
                elif attempts[cid] <= opts.retries:
                    progress.message(f'{cid}: attempt {attempts[cid]} ended without a result ({detail}); '
                                     f'retrying ({opts.retries + 1 - attempts[cid]} attempt(s) left)')
                    pending.append(cid)
                else:
                    failed[cid] = f'{attempts[cid]} attempt(s), none finished; last: {detail}'
                    progress.message(f'{cid}: FAILED after {attempts[cid]} attempt(s) ({detail})')
            for cid in sorted(elsewhere):
                if osp.exists(done_path(cid)):
                    elsewhere.discard(cid)
                    finish(cid)
                elif not _held_elsewhere(out_dir, cid):
                    elsewhere.discard(cid)
                    if not osp.exists(done_path(cid)):
                        pending.append(cid)  # its owner is gone without a result: ours again
            batch = []
            free = ex.free()
            while pending and len(batch) < free:
                cid = pending.popleft()
                if osp.exists(done_path(cid)):
                    finish(cid)
                elif _held_elsewhere(out_dir, cid):
                    elsewhere.add(cid)
                    progress.message(f'{cid}: claimed by another process; waiting for its result')
                else:
                    attempts[cid] += 1
                    batch.append(cid)
            if batch:
                for cid, where in ex.submit(batch, attempts).items():
                    dispatched_at[cid] = time.perf_counter()
                    if attempts[cid] > 1:
                        progress.message(f'{cid}: attempt {attempts[cid]} started ({where})')
            progress.update(already + len(finished), len(ex.running()) + len(elsewhere), len(pending), len(failed))
            if pending or ex.running() or elsewhere:
                time.sleep(opts.poll_s)
    except BaseException:
        ex.stop()
        raise
    if progress.tty:
        progress.stream.write('\n')
    if startup:
        startup.sort()
        progress.message(f'{label}{phase}: {len(startup)} cell process(es); start-up per process (its wall time minus '
                         f'the cell\'s own) median {startup[len(startup) // 2]:.1f} s, range {startup[0]:.1f}-'
                         f'{startup[-1]:.1f} s')
    return {'finished': finished, 'failed': failed, 'attempts': dict(attempts), 'startup_s': startup}
