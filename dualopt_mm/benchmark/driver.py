"""Run a suite's two phases: every cell once, resumable, with progress, never overwriting a
finished result without being told to.

Layout of ``out_dir`` (committed): ``cells/<cell id>.json`` one finished cell each (spec, its
hash, metrics, cost, curves, environment and commit); ``tuning.json`` the frozen winners (written
once, when the last tuning cell finishes: the barrier between the phases); ``upstream.json`` the
pre-trained classifier's own upstream scores. Work dirs (logs) go under
``work_root/<suite>/<cell id>``. A cell counts as finished when its json exists (written
atomically); an interrupted cell has none and is trained again from its start.
"""
from __future__ import annotations

import datetime
import fnmatch
import json
import os
import os.path as osp
import shutil
import sys
import time

from .claim import CellLock, LockHeld
from .suite import Suite, reporting_cells, tuning_cells

__all__ = ['run_suite', 'run_cells', 'load_results', 'load_tuning', 'check_upstream', 'StaleResultError',
           'CorruptResultError', 'Progress', 'PHASES', 'record_cell', 'cell_state']

PHASES = ('tuning', 'reporting')


class StaleResultError(RuntimeError):
    pass


class CorruptResultError(RuntimeError):
    pass


def load_results(out_dir: str) -> dict:
    folder = osp.join(out_dir, 'cells')
    results = {}
    for name in sorted(os.listdir(folder)) if osp.isdir(folder) else []:
        if name.endswith('.json'):
            path = osp.join(folder, name)
            try:
                with open(path) as f:
                    r = json.load(f)
                results[r['id']] = r
            except (ValueError, KeyError, TypeError) as e:
                raise CorruptResultError(
                    f'{path} is not a finished cell result ({type(e).__name__}: {e}); it was not written by '
                    'this tool in one piece. Delete it and the cell is trained again.') from None
    return results


def _check_writable(folder: str) -> None:
    """Fail before anything trains if the results cannot be written."""
    probe = osp.join(folder, f'.write-test-{os.getpid()}')
    try:
        os.makedirs(folder, exist_ok=True)
        with open(probe, 'w') as f:
            f.write('ok')
        os.remove(probe)
    except OSError as e:
        raise PermissionError(f'cannot write results into {folder}: {e.strerror}; nothing was trained') from None


def _fmt(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f'{h}:{m:02d}:{s:02d}' if h else f'{m}:{s:02d}'


class Progress:
    """One status line: the cell (n of the phase's total), its iteration, and the time left for
    the cell and the phase. Rewritten in place on a terminal; on a log file, a line every tenth of
    a cell."""

    def __init__(self, total: int, stream=None, default_cell_s: float = 60.0):
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.default_cell_s = default_cell_s
        self.index = 0
        self.label = ''
        self.pending_s = 0.0
        self._last_tenth = -1
        self.t0 = time.perf_counter()

    def start_cell(self, index: int, label: str, pending_s: float):
        self.index, self.label, self.pending_s = index, label, pending_s
        self.t0 = time.perf_counter()
        self._last_tenth = -1

    def __call__(self, it: int, max_iters: int):
        elapsed = time.perf_counter() - self.t0
        cell_left = elapsed / it * (max_iters - it) if it else 0.0
        tenth = int(10 * it / max_iters)
        line = (f'[{self.index}/{self.total}] {self.label} | iter {it}/{max_iters} | '
                f'cell {_fmt(cell_left)} left | phase ~{_fmt(cell_left + self.pending_s)} left')
        if self.tty:
            width = 30
            done = int(width * it / max_iters)
            self.stream.write('\r' + '#' * done + '.' * (width - done) + ' ' + line + '\x1b[K')
            self.stream.flush()
        elif tenth != self._last_tenth:
            self._last_tenth = tenth
            self.stream.write(line + '\n')
            self.stream.flush()

    def message(self, text: str):
        self.stream.write(('\r\x1b[K' if self.tty else '') + text + '\n')
        self.stream.flush()


def _estimate(cell, results: dict, default: float) -> float:
    def t(r):
        return r['cost']['train_s'] + r['cost'].get('eval_s', 0.0)
    same = [t(r) for r in results.values() if r['task'] == cell.task and r.get('method') == cell.method
            and r.get('phase') == cell.phase]
    same = same or [t(r) for r in results.values() if r['task'] == cell.task]
    return sum(same) / len(same) if same else default


def load_tuning(suite: Suite, out_dir: str):
    """The frozen ``tuning.json`` (None if absent); stale if the suite's tuning cells changed."""
    path = osp.join(out_dir, 'tuning.json')
    if not osp.exists(path):
        return None
    with open(path) as f:
        tuning = json.load(f)
    now = {c.id: c.spec_hash for c in tuning_cells(suite)}
    if tuning.get('cells') != now:
        changed = sorted(set(now.items()) ^ set(tuning.get('cells', {}).items()))
        raise StaleResultError(
            f'{path} froze winners from other tuning cells than the suite now defines '
            f'({len(changed)} differ, e.g. {changed[:2]}): the search spaces, budget, seeds or tasks changed. '
            'Delete it (and the affected cells) to tune again, or restore the suite.')
    return tuning


def _write_json_atomic(path: str, obj) -> None:
    """Written to a temporary file, flushed to disk, then renamed: a crash or a power loss
    leaves either the old file or the complete new one, never a truncated one."""
    tmp = f'{path}.tmp{os.getpid()}'  # per process: two drivers writing the manifest at once
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1, default=float)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _matches(cid: str, patterns) -> bool:
    return any(fnmatch.fnmatch(cid, p) for p in patterns)


def check_upstream(suite: Suite, results: dict, tuning: dict | None, fingerprint: str | None, out_dir: str,
                   force: tuple = ()) -> None:
    """Stop before training if finished fine-tuning cells (or the winners frozen from them) were
    fine-tuned from other weights than the upstream checkpoint now on disk: their numbers and new
    ones would not be comparable, and the pairing by seed would silently break. The checkpoint is
    identified by its content (:func:`~.upstream.checkpoint_fingerprint`); cells matched by
    ``force`` are exempt (they are about to be trained again)."""
    if fingerprint is None:
        return
    finetune = {t.key for t in suite.tasks if t.regime == 'finetune'}
    ckpt = suite.upstream[1]
    other = sorted(cid for cid, r in results.items()
                   if r.get('task') in finetune and r.get('upstream_checkpoint') != fingerprint
                   and not _matches(cid, force))
    if other:
        seen = sorted({str(results[c].get('upstream_checkpoint') or 'not recorded') for c in other})
        raise StaleResultError(
            f'{len(other)} finished fine-tuning cell(s) in {out_dir}/cells (e.g. {other[:2]}) were fine-tuned '
            f'from another upstream checkpoint than {ckpt} (recorded: {", ".join(seen)}; on disk now: '
            f'{fingerprint}). New cells would start from other weights than theirs. Restore that checkpoint, '
            'or delete those cells (and tuning.json) to train them again from this one.')
    if tuning is not None and finetune and tuning.get('upstream_checkpoint') != fingerprint:
        raise StaleResultError(
            f'{out_dir}/tuning.json froze winners from cells fine-tuned from another upstream checkpoint '
            f'(recorded: {tuning.get("upstream_checkpoint") or "not recorded"}; {ckpt} on disk now: '
            f'{fingerprint}). Delete it to freeze the winners again once the tuning cells are retrained.')


def cell_state(result: dict) -> str:
    """``val accuracy/top1 = 57.1`` or ``DIVERGED`` (a finished result, protocol rule 6)."""
    split = 'val' if result.get('phase') == 'tuning' else 'test'
    value = (result.get(split) or {}).get(result['metric'])
    return 'DIVERGED' if result.get('diverged') else f'{split} {result["metric"]} = ' \
        f'{value if value is None else round(value, 4)}'


def record_cell(suite: Suite, c, out_dir: str, work_root: str, progress=None, upstream_ref: dict | None = None,
                configs_root: str | None = None, env: dict | None = None, force: bool = False,
                launcher: str = 'none', write: bool = True) -> dict | None:
    """Train one cell and write its json: the one way a cell becomes finished, for the sequential
    driver and for a worker process alike. The cell is claimed first (:class:`~.claim.CellLock`;
    :class:`~.claim.LockHeld` if another process trains it); a cell that has a json by then was
    finished by another process: None, nothing trained (unless ``force``: the old json moves to
    ``replaced/``). The json is written atomically, the lock released after it.

    ``write=False``: a non-zero rank of a distributed cell trains with the others and writes
    nothing (no claim: rank 0 holds it)."""
    from . import cell as cell_mod
    from .env import environment
    configs_root = configs_root or cell_mod.CONFIGS
    path = osp.join(out_dir, 'cells', f'{c.id}.json')
    lock = CellLock(out_dir, c.id) if write else None
    if lock is not None:
        lock.acquire()
    try:
        if osp.exists(path) and not force:
            return None
        work_dir = osp.join(work_root, suite.name, c.id)
        if write and osp.isdir(work_dir):
            shutil.rmtree(work_dir)  # an interrupted attempt: start the cell again
        t0 = time.perf_counter()
        extra = {} if launcher == 'none' else {'launcher': launcher}
        result = cell_mod.run_cell(suite, c, work_dir, progress=progress, upstream_ref=upstream_ref,
                                   configs_root=configs_root, **extra)
        task = suite.task(c.task)
        if task.regime == 'finetune':  # what it started from, by content (see check_upstream)
            from .upstream import checkpoint_fingerprint
            result['upstream_checkpoint'] = checkpoint_fingerprint(suite.upstream[1])
        result = {'id': c.id, **c.spec(), 'spec_hash': c.spec_hash, 'metric': task.metric,
                  **result, 'wall_s': time.perf_counter() - t0, 'env': env or environment(),
                  'date': datetime.datetime.now().isoformat(timespec='seconds')}
        if not write:
            return result
        if osp.exists(path):
            stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
            os.makedirs(osp.join(out_dir, 'replaced'), exist_ok=True)
            old = osp.join(out_dir, 'replaced', f'{c.id}.{stamp}.json')
            shutil.move(path, old)
            if progress is not None:
                progress.message(f'{c.id}: forced; the previous result moved to {old}')
        _write_json_atomic(path, result)  # the json appears only complete: it marks the cell finished
        return result
    finally:
        if lock is not None:
            lock.release()


def run_cells(suite: Suite, cells: list, out_dir: str, results: dict, work_root: str, force: tuple = (),
              only: tuple = (), progress: Progress | None = None, upstream_ref: dict | None = None,
              configs_root: str | None = None, default_cell_s: float = 60.0, label: str = '',
              executor=None, suite_ref: str | None = None, cfg_options: tuple = (), failed: dict | None = None) -> int:
    """Run every cell of ``cells`` without a finished result; returns how many ran.

    ``executor`` (:class:`~.executors.ExecutorOptions`, kind local or slurm): each cell in its own
    process (``run-cell``), through the phase's manifest; ``suite_ref`` / ``cfg_options``: how
    those processes load the suite again. Cells that fail every attempt go into ``failed``."""
    from . import cell as cell_mod
    from .env import environment
    configs_root = configs_root or cell_mod.CONFIGS

    def is_forced(cid):
        return _matches(cid, force)

    def wanted(cid):
        return not only or _matches(cid, only)

    for c in cells:
        r = results.get(c.id)
        if r is not None and r.get('spec_hash') != c.spec_hash and not is_forced(c.id):
            raise StaleResultError(
                f'{out_dir}/cells/{c.id}.json was produced by a different spec than the suite now '
                f'defines (task config, schedule, method, setting or seed changed). Re-run it with '
                f'--force "{c.id}" (the old result is kept in replaced/), or restore the suite.')
    todo = [c for c in cells if wanted(c.id) and (c.id not in results or is_forced(c.id))]
    progress = progress or Progress(len(cells))
    if only and not any(wanted(c.id) for c in cells):
        progress.message(f'{label}--only {" ".join(only)}: matches none of the {len(cells)} cells of this phase '
                         '(see --list for their ids)')
    progress.total = len(cells)
    if executor is not None and executor.kind != 'sequential':
        return _run_cells_elsewhere(suite, cells, todo, out_dir, results, work_root, progress, upstream_ref,
                                    configs_root, label, executor, suite_ref, cfg_options, failed,
                                    [c for c in cells if wanted(c.id)])
    env = environment()
    done = len(cells) - len(todo)
    ran = 0
    for k, c in enumerate(todo):
        pending = sum(_estimate(x, results, default_cell_s) for x in todo[k + 1:])
        progress.start_cell(done + 1, f'{c.task} {c.method} {c.tag} seed={c.seed}', pending)
        try:
            result = record_cell(suite, c, out_dir, work_root, progress=progress, upstream_ref=upstream_ref,
                                 configs_root=configs_root, env=env, force=is_forced(c.id))
        except LockHeld as e:
            progress.message(f'{label}{c.id}: skipped, {e}')
            continue
        if result is None:  # finished by another process since this run looked
            results.update({c.id: r for cid, r in load_results(out_dir).items() if cid == c.id})
            progress.message(f'{label}{c.id}: finished meanwhile by another process')
            continue
        results[c.id] = result
        done += 1
        ran += 1
        progress.message(f'[{done}/{len(cells)}] {label}{c.id}: {cell_state(result)} ({_fmt(result["wall_s"])})')
    return ran


def _run_cells_elsewhere(suite, cells, todo, out_dir, results, work_root, progress, upstream_ref, configs_root,
                         label, executor, suite_ref, cfg_options, failed, scope) -> int:
    """The manifest lists the whole phase (any of its cells may be run by hand); the progress
    counts the cells in this run's scope (``--only``)."""
    from .executors import run_phase
    from .manifest import write_phase
    if suite_ref is None:
        raise ValueError('running cells in their own processes needs the suite as the workers load it (suite_ref)')
    for c in todo:
        path = osp.join(out_dir, 'cells', f'{c.id}.json')
        if osp.exists(path):  # forced: the worker finds no json and trains the cell again
            stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
            os.makedirs(osp.join(out_dir, 'replaced'), exist_ok=True)
            old = osp.join(out_dir, 'replaced', f'{c.id}.{stamp}.json')
            shutil.move(path, old)
            results.pop(c.id, None)
            progress.message(f'{c.id}: forced; the previous result moved to {old}')
    if not cells:
        return 0
    write_phase(out_dir, suite_ref, list(cfg_options), work_root, cells[0].phase, cells, upstream_ref, configs_root)
    if not todo:
        return 0
    outcome = run_phase(suite, suite_ref, cells[0].phase, scope, [c.id for c in todo], out_dir, work_root,
                        executor, progress.stream, label='')
    results.update(load_results(out_dir))
    if failed is not None:
        failed.update(outcome['failed'])
    return len(outcome['finished'])


def run_suite(suite: Suite, out_dir: str, work_root: str = osp.join('work_dirs', 'benchmark'),
              phases: tuple = PHASES, force: tuple = (), only: tuple = (), stream=None,
              configs_root: str | None = None, default_cell_s: float = 60.0, executor=None,
              suite_ref: str | None = None, cfg_options: tuple = (), failed: dict | None = None) -> dict:
    """Run the suite's ``phases`` in order; returns all results. The tuning phase ends by freezing
    ``tuning.json``; the reporting phase needs it.

    ``force``: cell-id patterns (fnmatch) to train again; their old result is moved to
    ``out_dir/replaced/``. ``only``: cell-id patterns to restrict this run to. A finished cell
    whose recorded spec differs from the suite's stops the run with :class:`StaleResultError`
    unless it is forced.

    ``executor`` / ``suite_ref`` / ``cfg_options`` / ``failed``: see :func:`run_cells`; the
    tuning winners are frozen (the barrier) before the reporting phase's manifest is written."""
    from .analysis import TuningIncomplete, freeze_tuning
    from .upstream import checkpoint_fingerprint, ensure_upstream, reference_accuracy
    for p in phases:
        if p not in PHASES:
            raise ValueError(f'unknown phase {p!r}; phases: {PHASES}')
    _check_writable(osp.join(out_dir, 'cells'))
    results = load_results(out_dir)
    progress = Progress(0, stream, default_cell_s)
    finetune = any(t.regime == 'finetune' for t in suite.tasks)
    fingerprint = None
    if finetune:
        ensure_upstream(suite, progress)
        fingerprint = checkpoint_fingerprint(suite.upstream[1])
    ran = {}
    scale = dict(executor=executor, suite_ref=suite_ref, cfg_options=cfg_options, failed=failed)
    tuning = load_tuning(suite, out_dir)
    check_upstream(suite, results, tuning, fingerprint, out_dir, force)
    if 'tuning' in phases:
        cells = tuning_cells(suite)
        ran['tuning'] = run_cells(suite, cells, out_dir, results, work_root, force, only, progress,
                                  configs_root=configs_root, default_cell_s=default_cell_s, label='tuning ',
                                  **scale)
        if tuning is None:
            try:
                tuning = freeze_tuning(suite, results)
            except TuningIncomplete as e:
                progress.message(f'{suite.name}: tuning not finished ({e}); winners not frozen yet')
            else:
                if fingerprint is not None:
                    tuning['upstream_checkpoint'] = fingerprint
                _write_json_atomic(osp.join(out_dir, 'tuning.json'), tuning)
                progress.message(f'{suite.name}: tuning finished; winners frozen in {out_dir}/tuning.json')
    if 'reporting' in phases:
        if tuning is None:
            raise TuningIncomplete(f'{suite.name}: the reporting phase needs {out_dir}/tuning.json: run the '
                                   'tuning phase to its end first')
        upstream_ref = reference_accuracy(suite, out_dir, configs_root) if finetune else None
        cells = reporting_cells(suite, tuning)
        ran['reporting'] = run_cells(suite, cells, out_dir, results, work_root, force, only, progress,
                                     upstream_ref=upstream_ref, configs_root=configs_root,
                                     default_cell_s=default_cell_s, label='reporting ', **scale)
    progress.message(f'{suite.name}: ' + ', '.join(f'{p} {n} cell(s) run now' for p, n in ran.items())
                     + f'; {len(results)} finished in {out_dir}')
    return results
