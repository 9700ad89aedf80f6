"""Run a suite: every cell once, resumable, with progress, never overwriting a finished result
without being told to.

Layout of ``out_dir`` (committed): ``cells/<cell id>.json`` one finished cell each (spec, metrics,
cost, curves, environment); ``configs/<cell id>.py`` the exact config it trained;
``upstream.json`` the pre-trained classifier's own upstream score. Work dirs (logs) go under
``work_root/<suite>/<cell id>``. A cell counts as finished when its json exists; an interrupted
cell has none and is trained again from its start.
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
from collections import Counter

from .suite import Suite, expand, planned_count

__all__ = ['run_suite', 'load_results', 'StaleResultError', 'Progress']


class StaleResultError(RuntimeError):
    pass


def load_results(out_dir: str) -> dict:
    folder = osp.join(out_dir, 'cells')
    results = {}
    for name in sorted(os.listdir(folder)) if osp.isdir(folder) else []:
        if name.endswith('.json'):
            with open(osp.join(folder, name)) as f:
                r = json.load(f)
            results[r['id']] = r
    return results


def _fmt(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f'{h}:{m:02d}:{s:02d}' if h else f'{m}:{s:02d}'


class Progress:
    """One status line: the cell (n of planned), its iteration, and the time left for the cell and
    the suite. Rewritten in place on a terminal; on a log file, a line every tenth of a cell."""

    def __init__(self, total: int, stream=None, default_cell_s: float = 60.0):
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.default_cell_s = default_cell_s
        self.index = 0
        self.label = ''
        self.pending_s = 0.0
        self._last_tenth = -1

    def start_cell(self, index: int, label: str, pending_s: float):
        self.index, self.label, self.pending_s = index, label, pending_s
        self.t0 = time.perf_counter()
        self._last_tenth = -1

    def __call__(self, it: int, max_iters: int):
        elapsed = time.perf_counter() - self.t0
        cell_left = elapsed / it * (max_iters - it) if it else 0.0
        tenth = int(10 * it / max_iters)
        line = (f'[{self.index}/{self.total}] {self.label} | iter {it}/{max_iters} | '
                f'cell {_fmt(cell_left)} left | suite ~{_fmt(cell_left + self.pending_s)} left')
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
    same = [r['cost']['train_s'] + r['cost'].get('eval_s', 0.0) for r in results.values()
            if r['task'] == cell.task and r.get('method') == cell.method]
    same = same or [r['cost']['train_s'] + r['cost'].get('eval_s', 0.0) for r in results.values()
                    if r['task'] == cell.task]
    return sum(same) / len(same) if same else default


def _pending_seconds(suite, results, skip_ids, default):
    """Time left for the cells not run yet (but ``skip_ids``), including the seeds whose lr is not
    chosen yet (estimated like the other cells of their task and method)."""
    cells = expand(suite, results)
    left = sum(_estimate(c, results, default) for c in cells if c.id not in skip_ids)
    known = Counter((c.task, c.method) for c in cells)
    for task in suite.tasks:
        for m in task.methods:
            missing = len(m.lrs) + len(suite.seeds) - 1 - known[(task.key, m.name)]
            if missing > 0:
                probe = next(c for c in cells if (c.task, c.method) == (task.key, m.name))
                left += missing * _estimate(probe, results, default)
    return left


def run_suite(suite: Suite, out_dir: str, work_root: str = osp.join('work_dirs', 'benchmark'),
              force: tuple = (), only: tuple = (), stream=None, configs_root: str | None = None,
              default_cell_s: float = 60.0) -> dict:
    """Run every cell of ``suite`` that has no result in ``out_dir`` yet; returns all results.

    ``force``: cell-id patterns (fnmatch) to train again; their old result is moved to
    ``out_dir/replaced/`` and said so. ``only``: cell-id patterns to restrict this run to.
    A finished cell whose recorded spec differs from the suite's (the suite was edited) stops the
    run with :class:`StaleResultError` unless it is forced.
    """
    from . import cell as cell_mod
    from .env import environment
    from .upstream import ensure_upstream, reference_accuracy
    configs_root = configs_root or cell_mod.CONFIGS
    progress = Progress(planned_count(suite), stream, default_cell_s)
    os.makedirs(osp.join(out_dir, 'cells'), exist_ok=True)
    os.makedirs(osp.join(out_dir, 'configs'), exist_ok=True)
    results = load_results(out_dir)
    forced = set()

    def is_forced(cid):
        return any(fnmatch.fnmatch(cid, p) for p in force)

    def wanted(cid):
        return not only or any(fnmatch.fnmatch(cid, p) for p in only)

    env = environment()
    upstream_top1 = None
    if any(t.regime == 'finetune' for t in suite.tasks):  # forgetting implies fine-tuning
        ensure_upstream(suite, progress)
        upstream_top1 = reference_accuracy(suite, out_dir, configs_root)
    ran = 0
    while True:
        cells = expand(suite, results)
        by_id = {c.id: c for c in cells}
        for cid, r in results.items():
            c = by_id.get(cid)
            if c is not None and r.get('spec_hash') != c.spec_hash(suite.task(c.task).cfg_options) \
                    and not is_forced(cid):
                raise StaleResultError(
                    f'{out_dir}/cells/{cid}.json was produced by a different spec than the suite now '
                    f'defines (config, schedule, lr, seed or options changed). Re-run it with '
                    f'--force "{cid}" (the old result is kept in replaced/), or restore the suite.')
        finished = {cid for cid in results if not (is_forced(cid) and cid not in forced)}
        todo = [c for c in cells if wanted(c.id) and c.id not in finished]
        if not todo:
            break
        c = todo[0]
        index = len(finished & set(by_id)) + 1
        pending = _pending_seconds(suite, results, finished | {c.id}, default_cell_s)
        progress.start_cell(index, f'{c.task} {c.method} lr={c.lr:g} seed={c.seed}', pending)
        work_dir = osp.join(work_root, suite.name, c.id)
        if osp.isdir(work_dir):
            shutil.rmtree(work_dir)  # an interrupted attempt: start the cell again
        t0 = time.perf_counter()
        result = cell_mod.run_cell(suite, c, work_dir, progress=progress, upstream_top1=upstream_top1,
                                   configs_root=configs_root)
        config_text = result.pop('config_text')
        result = {'id': c.id, **c.spec(), 'spec_hash': c.spec_hash(suite.task(c.task).cfg_options),
                  'metric': suite.task(c.task).metric, **result, 'wall_s': time.perf_counter() - t0,
                  'env': env, 'date': datetime.datetime.now().isoformat(timespec='seconds')}
        path = osp.join(out_dir, 'cells', f'{c.id}.json')
        if osp.exists(path):
            stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
            os.makedirs(osp.join(out_dir, 'replaced'), exist_ok=True)
            old = osp.join(out_dir, 'replaced', f'{c.id}.{stamp}.json')
            shutil.move(path, old)
            progress.message(f'{c.id}: forced; the previous result moved to {old}')
        with open(path + '.tmp', 'w') as f:
            json.dump(result, f, indent=1, default=float)
        with open(osp.join(out_dir, 'configs', f'{c.id}.py'), 'w') as f:
            f.write(config_text)
        os.replace(path + '.tmp', path)  # the json appears only complete: it marks the cell finished
        forced.add(c.id)
        results[c.id] = result
        value = result['val'].get(result['metric'])
        progress.message(f'[{index}/{progress.total}] {c.id}: {result["metric"]} = '
                         f'{value if value is None else round(value, 4)} ({_fmt(result["wall_s"])})')
        ran += 1
    progress.message(f'{suite.name}: {len(results)} cells finished ({ran} run now, '
                     f'{len(results) - ran} found finished)')
    return results
