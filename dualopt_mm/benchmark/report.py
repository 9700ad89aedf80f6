"""Aggregate a suite's cells into ``results.csv`` / ``results.json``, a leaderboard README with the
claims table, and plots.

Per (task, method) only the cells at the grid's winning lr count (the first seed's grid picks it);
mean ± sample standard deviation over seeds. A claim "A beats B" is *reproduced* when the mean
difference exceeds twice its standard error (Welch, sqrt(s_a^2/n_a + s_b^2/n_b)), *inconclusive*
when it is positive but within that, and *not reproduced* when it is zero or negative; "A is on par
with B" is reproduced when A is not worse by more than twice the standard error.
"""
from __future__ import annotations

import csv
import json
import math
import os.path as osp
import statistics
from dataclasses import dataclass

from .suite import Suite, Task, cell_id, select_lr

__all__ = ['Column', 'columns', 'summarize', 'cell_rows', 'claims', 'verdict', 'write_report', 'mean_std']


@dataclass(frozen=True)
class Column:
    key: str          # name in tables / csv
    source: tuple     # path into a cell result, e.g. ('val', 'mIoU')
    higher: bool      # higher is better
    label: str
    fmt: str = '.2f'


def _fmt_for(metric: str) -> str:
    return '.3f' if metric.startswith('coco/') else '.2f'


def columns(task: Task) -> list:
    m = task.metric
    cols = [Column('val', ('val', m), True, f'{m} (val)', _fmt_for(m))]
    if task.ood:
        cols.append(Column('ood', ('ood', m), True, f'{m} (OOD)', _fmt_for(m)))
    if task.forgetting:
        cols.append(Column('forgetting', ('forgetting', 'drop'), False, 'forgetting (upstream top-1 drop)'))
    for e in task.extra_metrics:
        cols.append(Column(f'val:{e}', ('val', e), True, f'{e} (val)', _fmt_for(e)))
    cols += [Column('early_loss', ('derived', 'early_loss'), False, 'train loss, 1st half', '.3f'),
             Column('train_s', ('cost', 'train_s'), False, 'train time (s)', '.0f'),
             Column('step_ms', ('cost', 'step_ms'), False, 'optimizer step (ms)', '.1f'),
             Column('peak_mem_mb', ('cost', 'peak_mem_mb'), False, 'peak memory (MiB)', '.0f'),
             Column('optimizer_state_mb', ('cost', 'optimizer_state_mb'), False, 'optimizer state (MiB)', '.1f')]
    return cols


def _derived(r: dict) -> dict:
    loss = [v for _, v in r.get('curves', {}).get('loss', []) if isinstance(v, (int, float)) and math.isfinite(v)]
    half = loss[:max(1, len(loss) // 2)]
    return {'early_loss': statistics.fmean(half) if half else float('nan'),
            'final_loss': loss[-1] if loss else float('nan')}


def _get(r: dict, source: tuple):
    node = _derived(r) if source[0] == 'derived' else r
    for k in (source[1:] if source[0] == 'derived' else source):
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return float(node) if isinstance(node, (int, float)) else None


def mean_std(values):
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None, None, 0
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0), len(vals)


def summarize(suite: Suite, results: dict) -> dict:
    """task key -> {'columns': [...], 'methods': {name: {...}}, 'best': {col: [methods]}}."""
    out = {}
    for task in suite.tasks:
        cols = columns(task)
        methods = {}
        for m in task.methods:
            lr = select_lr(task, m, results, suite.seeds[0])
            grid = {}
            for g in m.lrs:
                r = results.get(cell_id(task.key, m.name, g, suite.seeds[0]))
                grid[float(g)] = _get(r, ('val', task.metric)) if r else None
            ids = [cell_id(task.key, m.name, lr, s) for s in suite.seeds] if lr is not None else []
            cells = [results[cid] for cid in ids if cid in results]
            stats = {c.key: mean_std([_get(r, c.source) for r in cells]) for c in cols}
            methods[m.name] = {'lr': lr, 'grid': grid, 'n': len(cells), 'stats': stats,
                               'values': {c.key: [_get(r, c.source) for r in cells] for c in cols}}
        best = {}
        for c in cols:
            means = {n: v['stats'][c.key][0] for n, v in methods.items() if v['stats'][c.key][0] is not None}
            if means:
                target = (max if c.higher else min)(means.values())
                best[c.key] = [n for n, v in means.items() if v == target]
        out[task.key] = {'task': task, 'columns': cols, 'methods': methods, 'best': best}
    return out


def verdict(a: list, b: list, higher: bool = True, kind: str = 'better') -> tuple:
    """(verdict, difference of means in the "better" direction, its standard error)."""
    ma, sa, na = mean_std(a)
    mb, sb, nb = mean_std(b)
    if na == 0 or nb == 0:
        return 'not run', None, None
    diff = (ma - mb) if higher else (mb - ma)
    if na < 2 or nb < 2:
        return 'inconclusive (one seed)', diff, None
    se = math.sqrt(sa ** 2 / na + sb ** 2 / nb)
    if kind == 'on_par':
        return ('reproduced' if diff >= -2 * se else 'not reproduced'), diff, se
    if diff > 2 * se:
        return 'reproduced', diff, se
    if diff > 0:
        return 'inconclusive', diff, se
    return 'not reproduced', diff, se


# (paper claim, method, baseline, column key, kind, task regime or key filter)
CLAIMS = [
    ('DualOpt (rollback): better fine-tuning than AdamW', 'dualopt_adamw', 'adamw', 'val', 'better', 'finetune'),
    ('DualOpt (rollback): better fine-tuning than L2-SP', 'dualopt_adamw', 'l2sp_adamw', 'val', 'better', 'finetune'),
    ('DualOpt (rollback): less forgetting than AdamW', 'dualopt_adamw', 'adamw', 'forgetting', 'better', 'finetune'),
    ('SPD: better in distribution than AdamW', 'spd_adamw', 'adamw', 'val', 'better', 'finetune'),
    ('SPD: more robust out of distribution than AdamW', 'spd_adamw', 'adamw', 'ood', 'better', 'finetune'),
    ('SPD: more robust out of distribution than L2-SP', 'spd_adamw', 'l2sp_adamw', 'ood', 'better', 'finetune'),
    ('DualOpt (layer-wise decay): better from scratch than AdamW', 'dualopt_adamw_scratch', 'adamw', 'val',
     'better', 'scratch'),
    ('OSGD: better early exit 0 than SGD', 'osgd', 'sgd', 'val:exit0/top1', 'better', 'scratch'),
    ('OSGD: better early exit 1 than SGD', 'osgd', 'sgd', 'val:exit1/top1', 'better', 'scratch'),
    ('OSGD: better early exit 2 than SGD', 'osgd', 'sgd', 'val:exit2/top1', 'better', 'scratch'),
    ('Random scaling: SGD-momentum-level accuracy', 'random_scaled_sgd', 'sgd', 'val', 'on_par', 'scratch'),
    ('Hybrid update: faster convergence than SGD (lower early training loss)', 'hybrid_sgd', 'sgd',
     'early_loss', 'better', 'scratch'),
    ('Hybrid update: accuracy at least SGD\'s', 'hybrid_sgd', 'sgd', 'val', 'on_par', 'scratch'),
]


def claims(suite: Suite, summary: dict) -> list:
    rows = []
    for claim, method, base, col, kind, regime in CLAIMS:
        for key, s in summary.items():
            task = s['task']
            if task.regime != regime or method not in s['methods'] or base not in s['methods']:
                continue
            c = next((c for c in s['columns'] if c.key == col), None)
            if c is None:
                continue
            v, diff, se = verdict(s['methods'][method]['values'][col], s['methods'][base]['values'][col],
                                  c.higher, kind)
            rows.append({'claim': claim, 'task': key, 'method': method, 'baseline': base, 'column': c.label,
                         'diff': diff, 'se': se, 'verdict': v, 'fmt': c.fmt})
    return rows


def cell_rows(suite: Suite, results: dict) -> list:
    rows = []
    winners = {}
    for task in suite.tasks:
        for m in task.methods:
            winners[(task.key, m.name)] = select_lr(task, m, results, suite.seeds[0])
    for r in sorted(results.values(), key=lambda r: r['id']):
        try:
            task = suite.task(r['task'])
        except KeyError:
            continue
        row = {'id': r['id'], 'task': r['task'], 'regime': r['regime'], 'method': r['method'], 'lr': r['lr'],
               'seed': r['seed'], 'selected_lr': winners.get((r['task'], r['method'])) == r['lr'],
               'metric': task.metric}
        for c in columns(task):
            row[c.key] = _get(r, c.source)
        row.update({'iters': r['cost']['iters'], 'eval_s': r['cost'].get('eval_s'),
                    'final_loss': _derived(r)['final_loss'], 'upstream_top1': _get(r, ('forgetting', 'upstream_top1')),
                    'machine': r['env']['machine'], 'threads': r['env']['threads'], 'torch': r['env']['torch'],
                    'commit': r['env']['commit'], 'config': r['config']})
        rows.append(row)
    return rows


def _cell(stat, fmt, bold):
    m, s, n = stat
    if m is None:
        return '—'
    text = f'{m:{fmt}} ± {s:{fmt}}' if n > 1 else f'{m:{fmt}}'
    return f'**{text}**' if bold else text


def _leaderboard(s: dict) -> list:
    task, cols, methods = s['task'], s['columns'], s['methods']
    head = [c for c in cols if c.source[0] != 'cost']
    lines = ['| method | lr (won) | n | ' + ' | '.join(c.label for c in head) + f' | Δ val vs {task.baseline} |',
             '|---|---:|---:|' + '---:|' * len(head) + '---:|']
    base = methods[task.baseline]['stats']['val'][0]
    order = [task.baseline] + [m.name for m in task.methods if m.name != task.baseline]
    for name in order:
        v = methods[name]
        cells = [_cell(v['stats'][c.key], c.fmt, name in s['best'].get(c.key, [])) for c in head]
        mv = v['stats']['val'][0]
        delta = '—' if name == task.baseline or mv is None or base is None else f'{mv - base:+{cols[0].fmt}}'
        label = f'{name} (baseline)' if name == task.baseline else name
        lr = '—' if v['lr'] is None else f"{v['lr']:g}"
        lines.append(f'| {label} | {lr} | {v["n"]} | ' + ' | '.join(cells) + f' | {delta} |')
    return lines


def _cost_table(s: dict) -> list:
    cols = [c for c in s['columns'] if c.source[0] == 'cost']
    lines = ['| method | ' + ' | '.join(c.label for c in cols) + ' |', '|---|' + '---:|' * len(cols)]
    for m in s['task'].methods:
        v = s['methods'][m.name]
        lines.append(f'| {m.name} | ' + ' | '.join(_cell(v['stats'][c.key], c.fmt, m.name in s['best'].get(c.key, []))
                                               for c in cols) + ' |')
    return lines


def _grid_table(suite: Suite, summary: dict) -> list:
    lines = ['| task | method | ' + ' | '.join(['lr: val metric (seed %d)' % suite.seeds[0]]) + ' | won |',
             '|---|---|---|---:|']
    for key, s in summary.items():
        for m in s['task'].methods:
            v = s['methods'][m.name]
            fmt = s['columns'][0].fmt
            grid = ', '.join(f'{lr:g}: ' + ('—' if val is None else f'{val:{fmt}}') for lr, val in v['grid'].items())
            lines.append(f"| {key} | {m.name} | {grid} | {'—' if v['lr'] is None else format(v['lr'], 'g')} |")
    return lines


def write_report(suite: Suite, results: dict, out_dir: str, command: str, plots: bool = True) -> dict:
    """Write ``results.csv``, ``results.json``, ``README.md`` (and the plots) into ``out_dir``."""
    summary = summarize(suite, results)
    rows = cell_rows(suite, results)
    fields = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with open(osp.join(out_dir, 'results.csv'), 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    claim_rows = claims(suite, summary)
    with open(osp.join(out_dir, 'results.json'), 'w') as f:
        json.dump({'suite': suite.name, 'seeds': list(suite.seeds), 'cells': rows,
                   'claims': [{k: v for k, v in c.items() if k != 'fmt'} for c in claim_rows],
                   'leaderboard': {k: {n: {'lr': v['lr'], 'n': v['n'],
                                           'mean_std': {c: list(st[:2]) for c, st in v['stats'].items()}}
                                       for n, v in s['methods'].items()} for k, s in summary.items()}},
                  f, indent=1, default=float)
    pngs = {}
    if plots:
        from .plots import make_plots
        pngs = make_plots(suite, results, summary, out_dir)
    envs = {json.dumps({k: v for k, v in r['env'].items() if k != 'commit'}, sort_keys=True) for r in results.values()}
    commits = sorted({r['env']['commit'] for r in results.values()})
    expected = sum(len(m.lrs) + len(suite.seeds) - 1 for t in suite.tasks for m in t.methods)
    L = [f'# Benchmark suite `{suite.name}`: {suite.description}', '',
         f'Produced by `{command}` (resumable; a finished suite reruns nothing). Protocol, metrics and '
         'the claims rule: [results/README.md](../README.md). '
         f'{len(results)} of {expected} cells finished; seeds {", ".join(map(str, suite.seeds))}.', '']
    for e in envs:
        e = json.loads(e)
        L.append(f"Machine: {e['machine']}, {e['threads']} torch threads; python {e['python']}, torch {e['torch']}, "
                 f"mmengine {e['mmengine']}, mmcv {e['mmcv']}, mmdet {e['mmdet']}, mmseg {e['mmseg']}, "
                 f"mmpretrain {e['mmpretrain']}; commit(s) {', '.join(commits)}.")
    notes = {}
    for r in results.values():
        if r.get('notes'):
            notes.setdefault(r['notes'], []).append(r['id'])
    for text, ids in notes.items():
        L += ['', f'Note on {len(ids)} cell(s): {text}']
    L += ['', 'Mean ± standard deviation over the seeds, at each method\'s winning lr (grid below); '
          '**bold** = best mean in the column; forgetting = pre-trained minus fine-tuned upstream top-1 '
          '(points, lower is better).', '']
    for key, s in summary.items():
        iters = sorted({r['cost']['iters'] for r in results.values() if r['task'] == key})
        length = f"schedule length {s['task'].length}" if s['task'].length else 'full schedule'
        L += [f'## {key}', '', f"`configs/{s['task'].config}` with each method's leaf in "
              f"`configs/{s['task'].config.split('/')[0]}/optimizers/`; {length} "
              f"({'/'.join(map(str, iters)) or '?'} training iterations); baseline: {s['task'].baseline}.", '']
        L += _leaderboard(s) + ['', 'Cost (means over seeds):', ''] + _cost_table(s) + ['']
        for name in pngs.get(key, []):
            L.append(f'![{name}]({name})')
        L.append('')
    L += ['## Paper claims at this scale', '',
          '| claim | task | difference (± s.e.) | verdict |', '|---|---|---:|---|']
    for c in claim_rows:
        d = '—' if c['diff'] is None else (f"{c['diff']:+{c['fmt']}}" + ('' if c['se'] is None else f" ± {c['se']:{c['fmt']}}"))
        L.append(f"| {c['claim']} | {c['task']} | {d} | {c['verdict']} |")
    L += ['', 'Difference = method minus baseline in the direction the claim says is better (for '
          'forgetting and loss: baseline minus method).', '', '## Learning-rate grid', ''] + _grid_table(suite, summary)
    with open(osp.join(out_dir, 'README.md'), 'w') as f:
        f.write('\n'.join(L) + '\n')
    return summary
