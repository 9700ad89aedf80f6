"""From finished cells to decisions (protocol v2): the frozen tuning winners, the per-seed values
of every reported column, and the claims' verdicts.

* :func:`freeze_tuning` — once every tuning cell is finished: per task and method the
  configuration with the best mean val metric over the tuning seeds (a diverged run scores the
  metric's floor; ties go to the first configuration), its untuned defaults, whether the task's
  baseline reached the admission level (rule 7: >= half-way from trivial to the task config's
  own full-schedule reference, else the task is *exploratory*), the margins in metric units
  (relative margins are fractions of the baseline's tuning mean) and the convergence target
  (the baseline's training loss at half its schedule, averaged over the tuning seeds). Written to
  ``tuning.json`` and never recomputed from other cells.
* :func:`column_values` — a reporting cell's value of a column, at the floor when it diverged.
* :func:`evaluate_claims` — per claim and task the paired comparison of :mod:`.stats`, Holm
  within each paper's secondary rows.
"""
from __future__ import annotations

import math
import re
import statistics

from .suite import Suite, Task, tuning_cells

__all__ = ['freeze_tuning', 'column_value', 'column_meta', 'leaderboard', 'evaluate_claims', 'loss_at',
           'iters_to_target', 'TuningIncomplete', 'admission_level']

PROTOCOL = 2
CHANCE_TOP1 = 20.0  # 5 classes in every synthetic world: a forgotten backbone scores chance


class TuningIncomplete(RuntimeError):
    pass


def admission_level(task: Task):
    if not task.admission:
        return None
    ref, triv = float(task.admission['reference']), float(task.admission['trivial'])
    return triv + 0.5 * (ref - triv)


def _val_score(r: dict, task: Task):
    """(score, what happened): a diverged run, or one whose evaluation produced no metric (a
    detector that detects nothing: mmdet's CocoMetric then reports nothing), scores the floor."""
    if r.get('diverged'):
        return task.metric_floor, 'diverged'
    v = (r.get('val') or {}).get(task.metric)
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        return task.metric_floor, 'no metric'
    return float(v), None


def loss_at(curve: list, it: float):
    """The block-mean training loss of the block that contains iteration ``it``."""
    for end, loss in curve:
        if end >= it:
            return loss
    return curve[-1][1] if curve else float('nan')


def iters_to_target(curve: list, target: float, max_iters: int):
    """(first block end with loss <= target, censored?) — never reaching it censors the run at
    its last iteration (rule 9)."""
    for end, loss in curve:
        if isinstance(loss, (int, float)) and math.isfinite(loss) and loss <= target:
            return end, False
    return max_iters, True


def _margin(suite: Suite, key: str, baseline_mean: float | None):
    spec = suite.margins.get(key)
    if spec is None:
        return None
    if isinstance(spec, dict):
        if key in ('iters_to_target', 'seconds_to_target'):
            return math.log1p(spec['relative'])
        if baseline_mean is None or baseline_mean <= 0:
            return None
        return spec['relative'] * baseline_mean
    if key in ('iters_to_target', 'seconds_to_target'):
        return math.log1p(spec)
    return float(spec)


def freeze_tuning(suite: Suite, results: dict) -> dict:
    """The content of ``tuning.json`` (see the module docstring); :class:`TuningIncomplete` while a
    tuning cell is unfinished."""
    cells = tuning_cells(suite)
    missing = [c.id for c in cells if c.id not in results]
    if missing:
        raise TuningIncomplete(f'{len(missing)} tuning cell(s) unfinished, e.g. {missing[:3]}')
    out = {'protocol': PROTOCOL, 'suite': suite.name, 'source': suite.source, 'budget': suite.budget,
           'sampler': suite.sampler, 'tuning_seeds': list(suite.tuning_seeds),
           'cells': {c.id: c.spec_hash for c in cells}, 'tasks': {}}
    for task in suite.tasks:
        methods = {}
        for name in task.methods:
            m = suite.method(name)
            if not m.tuned:
                continue
            configs = []
            tags = sorted({c.tag for c in cells if c.task == task.key and c.method == name and c.tag != 'default'},
                          key=lambda t: int(t[1:]))
            for tag in tags:
                rs = [results[c.id] for c in cells if c.task == task.key and c.method == name and c.tag == tag]
                scores = {r['seed']: _val_score(r, task) for r in rs}
                configs.append({'tag': tag, 'setting': rs[0]['setting'],
                                'scores': {str(s): v for s, (v, _) in sorted(scores.items())},
                                'diverged': sorted(s for s, (_, d) in scores.items() if d == 'diverged'),
                                'no_metric': sorted(s for s, (_, d) in scores.items() if d == 'no metric'),
                                'mean': statistics.fmean(v for v, _ in scores.values())})
            best = max(range(len(configs)), key=lambda i: (configs[i]['mean'], -i))
            entry = {'configs': configs, 'winner': configs[best]}
            drs = [results[c.id] for c in cells if c.task == task.key and c.method == name and c.tag == 'default']
            if drs:
                ds = {r['seed']: _val_score(r, task) for r in drs}
                entry['defaults'] = {'setting': drs[0]['setting'], 'scores': {str(s): v for s, (v, _) in sorted(ds.items())},
                                     'diverged': sorted(s for s, (_, d) in ds.items() if d == 'diverged'),
                                     'no_metric': sorted(s for s, (_, d) in ds.items() if d == 'no metric'),
                                     'mean': statistics.fmean(v for v, _ in ds.values())}
            methods[name] = entry
        base = methods[task.baseline]['winner']
        level = admission_level(task)
        # the convergence target: the baseline's loss at half its schedule, over the tuning seeds
        brs = [results[c.id] for c in cells if c.task == task.key and c.method == task.baseline
               and c.tag == base['tag']]
        losses = [loss_at(r['curves']['loss'], r['cost']['max_iters'] / 2) for r in brs if not r.get('diverged')]
        target = statistics.fmean(losses) if losses and all(math.isfinite(v) for v in losses) else None
        margins = {k: _margin(suite, k, base['mean']) for k in suite.margins}
        out['tasks'][task.key] = {
            'methods': methods,
            'admission': None if level is None else {
                **task.admission, 'level': level, 'baseline_mean': base['mean'],
                'admitted': base['mean'] >= level},
            'status': 'confirmatory' if level is None or base['mean'] >= level else 'exploratory',
            'loss_target': target, 'margins': margins}
    return out


# ----------------------------------------------------------------------------- columns

def column_meta(column: str, task: Task) -> dict:
    """label, direction, margin key and unit of a reported column."""
    m = task.metric
    unit = {'accuracy/top1': 'top-1 points', 'mIoU': 'mIoU points'}.get(m, m.split('/')[-1])
    if column == 'metric':
        return dict(label=f'{m} (test)', higher=True, margin=m, unit=unit)
    if column == 'ood':
        return dict(label=f'{m} (OOD)', higher=True, margin=m, unit=unit)
    if column == 'ood_gap':
        return dict(label='OOD - test gap', higher=True, margin=m, unit=unit)
    if column == 'forgetting':
        return dict(label='forgetting (BN re-est.)', higher=False, margin='forgetting', unit='upstream top-1 points')
    if column == 'forgetting_raw':
        return dict(label='forgetting (raw)', higher=False, margin='forgetting', unit='upstream top-1 points')
    if column == 'iters_to_target':
        return dict(label='iterations to target', higher=False, margin='iters_to_target', unit='log ratio',
                    log=True)
    if column == 'seconds_to_target':
        return dict(label='seconds to target', higher=False, margin='iters_to_target', unit='log ratio', log=True)
    if column == 'exit_mean':
        return dict(label='mean exit top-1', higher=True, margin='accuracy/top1', unit='top-1 points')
    if column.startswith('test:'):
        key = column[5:]
        mk = 'accuracy/top1' if key.endswith('top1') else key
        return dict(label=f'{key} (test)', higher=True, margin=mk, unit=mk.split('/')[-1])
    if column.startswith('cost:'):
        key = column[5:]
        label = {'train_s': 'train time (s)', 'step_ms': 'optimizer step (ms)', 'peak_mem_mb': 'peak memory (MiB)',
                 'optimizer_state_mb': 'optimizer state (MiB)'}.get(key, key)
        return dict(label=label, higher=False, margin=None, unit='')
    raise KeyError(f'unknown column {column!r}')


def _exit_keys(r: dict):
    return sorted(k for k in (r.get('test') or {}) if re.match(r'exit\d+/top1$', k))


def column_value(r: dict, column: str, task: Task, tuned: dict):
    """(value, diverged) of a reporting cell; a diverged run scores the floor (rule 6): chance or
    0 for metrics, a fully forgotten backbone for forgetting, the last iteration (censored) for
    time to target. ``tuned``: the task's entry of tuning.json."""
    div = bool(r.get('diverged'))
    test = r.get('test') or {}
    floor = task.metric_floor

    def metric(split, key):
        v = (r.get(split) or {}).get(key)
        return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None

    if column in ('metric', 'ood', 'ood_gap'):
        t, o = metric('test', task.metric), metric('ood', task.metric)
        if div or t is None:
            t = floor
        if div or o is None:
            o = floor
        return {'metric': t, 'ood': o, 'ood_gap': o - t}[column], div
    if column in ('forgetting', 'forgetting_raw'):
        f = r.get('forgetting') or {}
        v = f.get('drop_bn' if column == 'forgetting' else 'drop')
        ref = f.get('pretrained_top1_bn' if column == 'forgetting' else 'pretrained_top1')
        if div or v is None:
            return ((ref if ref is not None else 100.0) - CHANCE_TOP1), True
        return float(v), False
    if column in ('iters_to_target', 'seconds_to_target'):
        target = tuned.get('loss_target')
        max_iters = r['cost'].get('max_iters') or r['cost']['iters']
        if target is None:
            return None, div
        it, _ = iters_to_target([] if div else r['curves']['loss'], target, max_iters)
        if column == 'iters_to_target':
            return float(it), div
        per_iter = r['cost']['train_s'] / max(1, r['cost']['iters'])
        return float(it) * per_iter, div
    if column == 'exit_mean':
        keys = _exit_keys(r)
        if div or not keys:
            return floor, True
        return statistics.fmean(test[k] for k in keys), False
    if column.startswith('test:'):
        v = metric('test', column[5:])
        return (floor, True) if div or v is None else (v, False)
    if column.startswith('cost:'):
        v = r['cost'].get(column[5:])
        return (float(v) if v is not None else None), div
    raise KeyError(f'unknown column {column!r}')


def task_columns(task: Task) -> list:
    cols = ['metric']
    if task.ood:
        cols += ['ood', 'ood_gap']
    if task.forgetting:
        cols += ['forgetting', 'forgetting_raw']
    cols += [f'test:{e}' for e in task.extra_metrics]
    if any(e.startswith('exit') for e in task.extra_metrics):
        cols.append('exit_mean')
    cols.append('iters_to_target')
    return cols


COST_COLUMNS = ('cost:train_s', 'cost:step_ms', 'cost:peak_mem_mb', 'cost:optimizer_state_mb')


def _reporting(results: dict, task: Task, method: str) -> list:
    return sorted((r for r in results.values() if r.get('phase') == 'reporting' and r['task'] == task.key
                   and r['method'] == method), key=lambda r: r['seed'])


def leaderboard(suite: Suite, tuning: dict, results: dict) -> dict:
    """task -> {'columns': [...], 'methods': {name: {'values': {col: {seed: v}}, 'diverged': [...],
    'n': n, 'summary': {col: (mean, lo95, hi95)}}}}."""
    from scipy import stats as st
    out = {}
    for task in suite.tasks:
        tt = tuning['tasks'][task.key]
        cols = task_columns(task) + list(COST_COLUMNS)
        methods = {}
        for name in task.methods:
            rs = _reporting(results, task, name)
            values, diverged = {}, sorted({r['seed'] for r in rs if r.get('diverged')})
            for c in cols:
                values[c] = {}
                for r in rs:
                    v, _ = column_value(r, c, task, tt)
                    if v is not None:
                        values[c][r['seed']] = v
            summary = {}
            for c, vs in values.items():
                xs = [vs[s] for s in sorted(vs)]
                if meta_log(c) and xs:
                    xs = [math.log(x) for x in xs]
                if not xs:
                    summary[c] = (None, None, None)
                elif len(xs) == 1 or statistics.pstdev(xs) == 0:
                    summary[c] = (xs[0] if len(xs) == 1 else statistics.fmean(xs),) * 3
                else:
                    m = statistics.fmean(xs)
                    h = st.t.ppf(0.975, len(xs) - 1) * statistics.stdev(xs) / math.sqrt(len(xs))
                    summary[c] = (m, m - h, m + h)
                if meta_log(c) and summary[c][0] is not None:
                    summary[c] = tuple(math.exp(v) for v in summary[c])  # geometric mean and its CI
            methods[name] = {'values': values, 'diverged': diverged, 'n': len(rs), 'summary': summary}
        out[task.key] = {'task': task, 'columns': cols, 'methods': methods}
    return out


def meta_log(column: str) -> bool:
    return column in ('iters_to_target', 'seconds_to_target')


def evaluate_claims(suite: Suite, tuning: dict, results: dict, board: dict | None = None) -> list:
    """One row per (claim, task): the paired comparison over the reporting seeds, its verdict
    (Holm within the paper's secondary, confirmatory rows), or 'exploratory' for a task whose
    baseline did not reach the admission level (numbers shown, nothing decided). ``board``: the
    :func:`leaderboard` of the same results, when the caller has it already."""
    from . import stats
    if board is None:
        board = leaderboard(suite, tuning, results)
    rows = []
    for claim in suite.claims:
        for tk in claim.tasks:
            task = suite.task(tk)
            tt = tuning['tasks'][tk]
            meta = column_meta(claim.column, task)
            a = board[tk]['methods'][claim.method]['values'].get(claim.column, {})
            b = board[tk]['methods'][claim.baseline]['values'].get(claim.column, {})
            if meta.get('log'):
                a = {s: math.log(v) for s, v in a.items()}
                b = {s: math.log(v) for s, v in b.items()}
            delta = tt['margins'].get(meta['margin'])
            row = {'paper': claim.paper, 'claim': claim.claim, 'task': tk, 'method': claim.method,
                   'baseline': claim.baseline, 'column': claim.column, 'label': meta['label'], 'unit': meta['unit'],
                   'kind': claim.kind, 'primary': claim.primary, 'delta': delta, 'status': tt['status'],
                   'diverged': {claim.method: board[tk]['methods'][claim.method]['diverged'],
                                claim.baseline: board[tk]['methods'][claim.baseline]['diverged']}}
            if delta is None:  # a relative margin of a baseline that scored <= 0 in tuning
                row.update(comparison=None, verdict='no margin: the baseline\'s tuning mean is <= 0')
                rows.append(row)
                continue
            if not a or not b or set(a) != set(b):
                row.update(comparison=None, verdict='not run' if not a or not b else 'incomplete')
                rows.append(row)
                continue
            # what one more seed of this comparison costs (both cells), for "the hours that would decide"
            walls = [r['wall_s'] for r in results.values() if r.get('phase') == 'reporting' and r['task'] == tk
                     and r['method'] in (claim.method, claim.baseline) and 'wall_s' in r]
            row['seed_hours'] = 2 * statistics.fmean(walls) / 3600 if walls else None
            diffs = stats.paired_differences(a, b, higher_is_better=meta['higher'])
            row['comparison'] = stats.compare(diffs, delta, kind=claim.kind)
            rows.append(row)
    # Holm within each paper's secondary confirmatory rows
    by_paper = {}
    for i, row in enumerate(rows):
        if row.get('comparison') is not None and not row['primary'] and row['status'] == 'confirmatory':
            by_paper.setdefault(row['paper'], []).append(i)
    for paper, idx in by_paper.items():
        adjusted = stats.adjust_family([rows[i]['comparison'] for i in idx])
        for i, c in zip(idx, adjusted):
            rows[i]['comparison'] = c
    for row in rows:
        c = row.get('comparison')
        if c is None:
            continue
        row['verdict'] = c.verdict if row['status'] == 'confirmatory' else 'exploratory: not decided at this scale'
    return rows
