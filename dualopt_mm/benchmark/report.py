"""Write a suite's results: ``results.csv`` (one row per cell), ``results.json`` (leaderboards,
claims with every per-seed difference), ``README.md`` (per task the leaderboard on the reporting
seeds with CIs, n and diverged counts, the untuned defaults, the tuning table; the claims table
with verdicts) and the figures (forest plot per paper, performance profile, loss curves, cost).
"""
from __future__ import annotations

import csv
import json
import math
import os.path as osp

from .analysis import COST_COLUMNS, column_meta, evaluate_claims, leaderboard, task_columns
from .suite import Suite

__all__ = ['write_report', 'write_tuning_report', 'claim_table']


def _f(v, fmt='.3g'):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return '—'
    return format(v, fmt)


def _fmt_for(task, column):
    if column.startswith('cost:'):
        return '.1f'
    if column in ('iters_to_target',):
        return '.0f'
    if column in ('seconds_to_target',):
        return '.1f'
    m = task.metric if column in ('metric', 'ood', 'ood_gap') else column
    return '.3f' if 'mAP' in m else '.2f'


def _setting(s: dict) -> str:
    return ', '.join(f'{k}={v:g}' if isinstance(v, float) else f'{k}={v}' for k, v in sorted(s.items()))


def _env_line(results: dict) -> list:
    envs = {json.dumps({k: v for k, v in r['env'].items() if k != 'commit'}, sort_keys=True) for r in results.values()}
    commits = sorted({r['env']['commit'] for r in results.values()})
    lines = []
    for e in sorted(envs):
        e = json.loads(e)
        lines.append(f"Machine: {e['machine']}, {e['threads']} torch threads; python {e['python']}, torch {e['torch']}, "
                     f"mmengine {e['mmengine']}, mmcv {e['mmcv']}, mmdet {e['mmdet']}, mmseg {e['mmseg']}, "
                     f"mmpretrain {e['mmpretrain']}; commit(s) {', '.join(commits)}.")
    return lines


def _tuning_table(suite: Suite, tuning: dict, task) -> list:
    tt = tuning['tasks'][task.key]
    fmt = _fmt_for(task, 'metric')
    lines = [f'| method | configurations: setting → mean val {task.metric} over tuning seeds | winner | defaults (untuned) |',
             '|---|---|---|---|']
    for name in task.methods:
        e = tt['methods'].get(name)
        if e is None:
            src = suite.method(name).copy_setting_from
            lines.append(f'| {name} | not tuned: {src}\'s winner + {_setting(suite.method(name).defaults)} | — | — |')
            continue
        cfgs = '; '.join(f"{_setting(c['setting'])} → {_f(c['mean'], fmt)}" + _flags(c) for c in e['configs'])
        d = e.get('defaults')
        dtext = '—' if d is None else f"{_setting(d['setting'])} → {_f(d['mean'], fmt)}"
        edges = _edges(suite.method(name), e['winner']['setting'])
        won = _setting(e['winner']['setting']) + (f" (at the edge of its space: {', '.join(edges)})" if edges else '')
        lines.append(f"| {name} | {cfgs} | {won} | {dtext} |")
    return lines


def _flags(c: dict) -> str:
    parts = [f"{len(c[k])} {label}" for k, label in (('diverged', 'diverged'), ('no_metric', 'no metric: floor'))
             if c.get(k)]
    return f" ({', '.join(parts)})" if parts else ''


def _edges(method, setting: dict) -> list:
    """The numeric knobs whose winning value is the smallest or largest of the method's space
    (the optimum may lie outside it)."""
    out = []
    for k, v in setting.items():
        space = method.space.get(k)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or space is None:
            continue
        values = space if isinstance(space, (list, tuple)) else [space['low'], space['high']]
        nums = [x for x in values if isinstance(x, (int, float)) and not isinstance(x, bool)]
        if len(nums) > 1 and (v <= min(nums) or v >= max(nums)):
            out.append(k)
    return out


def write_tuning_report(suite: Suite, tuning: dict) -> list:
    L = []
    for task in suite.tasks:
        tt = tuning['tasks'][task.key]
        adm = tt.get('admission')
        status = tt['status']
        if adm:
            L.append(f"**{task.key}** ({status}): baseline {task.baseline} reaches {_f(adm['baseline_mean'], '.3f')} "
                     f"val {task.metric} on the tuning seeds; admission level {_f(adm['level'], '.3f')} "
                     f"(half-way from trivial {adm['trivial']:g} to the config's own reference {adm['reference']:g}).")
        else:
            L.append(f'**{task.key}** ({status}): no admission level stated.')
        L.append('')
        L += _tuning_table(suite, tuning, task) + ['']
    return L


def claim_table(rows: list) -> list:
    L = ['| paper | claim | task | primary | n | mean diff [CI95] | margin δ | per-seed differences | perm. p | verdict | n to decide |',
         '|---|---|---|---|---:|---|---:|---|---:|---|---:|']
    for r in rows:
        c = r.get('comparison')
        if c is None:
            L.append(f"| {r['paper']} | {r['claim']} | {r['task']} | {'yes' if r['primary'] else ''} | 0 | — | — | — | — | {r['verdict']} | — |")
            continue
        fmt = '.4f' if 'mAP' in r['label'] else '.3f' if r['unit'] == 'log ratio' else '.2f'
        diffs = ', '.join(f'{s}: {d:+{fmt}}' for s, d in sorted(c.diffs.items()))
        ci = f"{c.mean:+{fmt}} [{_f(c.ci95[0], '+' + fmt)}, {_f(c.ci95[1], '+' + fmt)}]"
        div = {k: v for k, v in r['diverged'].items() if v}
        verdict = r['verdict'] + (f" ({'; '.join(f'{k}: {len(v)} diverged' for k, v in div.items())})" if div else '')
        if c.p_adjusted != c.p and not r['primary']:
            verdict += ' (Holm)'
        ntd = '—'
        if c.verdict == 'undecided':
            ntd = '> 1000' if c.n_to_decide is None else str(c.n_to_decide)
            if c.n_to_decide is not None and r.get('seed_hours'):
                ntd += f" (~{c.n_to_decide * r['seed_hours']:.1f} h)"

        L.append(f"| {r['paper']} | {r['claim']} ({r['label']}) | {r['task']} | {'yes' if r['primary'] else ''} | {c.n} | {ci} | "
                 f"{r['delta']:{fmt}} | {diffs} | {_f(c.p_perm, '.3f')} | {verdict} | {ntd} |")
    return L


def _leaderboard_lines(suite, tuning, board, task) -> list:
    s = board[task.key]
    cols = [c for c in s['columns'] if not c.startswith('cost:')]
    head = ['method', 'setting', 'n (diverged)'] + [column_meta(c, task)['label'] for c in cols] + ['defaults: val (tuning seeds)']
    L = ['| ' + ' | '.join(head) + ' |', '|---|---|---:|' + '---:|' * len(cols) + '---:|']
    tt = tuning['tasks'][task.key]
    for name in task.methods:
        v = s['methods'][name]
        e = tt['methods'].get(name)
        setting = _setting(e['winner']['setting']) if e else f"= {suite.method(name).copy_setting_from}'s + {_setting(suite.method(name).defaults)}"
        cells = []
        for c in cols:
            m, lo, hi = v['summary'][c]
            fmt = _fmt_for(task, c)
            cells.append('—' if m is None else (f'{m:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]' if lo != hi else f'{m:{fmt}}'))
        d = e.get('defaults') if e else None
        label = f'{name} (baseline)' if name == task.baseline else name
        L.append(f"| {label} | {setting} | {v['n']} ({len(v['diverged'])}) | " + ' | '.join(cells)
                 + f" | {'—' if d is None else _f(d['mean'], _fmt_for(task, 'metric'))} |")
    L += ['', 'Cost (median over the reporting seeds; CPU times vary ~15 % between runs on this VM):', '',
          '| method | ' + ' | '.join(column_meta(c, task)['label'] for c in COST_COLUMNS) + ' |',
          '|---|' + '---:|' * len(COST_COLUMNS)]
    import statistics
    for name in task.methods:
        vals = s['methods'][name]['values']
        cells = []
        for c in COST_COLUMNS:
            xs = list(vals.get(c, {}).values())
            cells.append('—' if not xs else f'{statistics.median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})')
        L.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return L


def _figures(suite, tuning, results, board, rows, out_dir) -> dict:
    from . import figures
    made = {'tasks': {}, 'papers': {}, 'profile': None}
    for paper in dict.fromkeys(r['paper'] for r in rows):
        prow = []
        for r in rows:
            c = r.get('comparison')
            if r['paper'] != paper or c is None:
                continue
            prow.append({'label': f"{r['claim']} — {r['task']}", 'method': r['method'], 'diffs': c.diffs,
                         'mean': c.mean, 'ci95': c.ci95, 'ci90': c.ci90, 'delta': r['delta'],
                         'verdict': r['verdict'], 'primary': r['primary'], 'kind': r['kind'], 'unit': r['unit']})
        if prow:
            name = 'forest_' + ''.join(ch if ch.isalnum() else '_' for ch in paper.lower()).strip('_') + '.png'
            figures.forest_plot(prow, osp.join(out_dir, name), f'{paper}: paired differences on the reporting seeds')
            made['papers'][paper] = name
    # performance profile across the tasks that share their methods: the fine-tuning tasks when
    # there are two or more (the from-scratch tasks compare other methods), else every task
    ft = [t for t in suite.tasks if t.regime == 'finetune']
    scores, trivial = {}, {}
    for task in (ft if len(ft) >= 2 else suite.tasks):
        s = board[task.key]['methods']
        scores[task.key] = {n: v['summary']['metric'][0] for n, v in s.items() if v['summary']['metric'][0] is not None}
        trivial[task.key] = float(task.admission['trivial']) if task.admission else 0.0
    if len(scores) >= 2 and any(scores.values()):
        figures.performance_profile({k: v for k, v in scores.items() if v}, osp.join(out_dir, 'performance_profile.png'),
                                    f'{suite.name}: performance profile ({"fine-tuning tasks" if len(ft) >= 2 else "all tasks"}, test metric)', trivial=trivial)
        made['profile'] = 'performance_profile.png'
    for task in suite.tasks:
        files = []
        curves = {}
        for name in task.methods:
            cs = [r['curves']['loss'] for r in results.values() if r.get('phase') == 'reporting'
                  and r['task'] == task.key and r['method'] == name and r['curves']['loss']]
            if cs:
                curves[name] = cs
        if curves:
            f = f'{task.key}_loss.png'
            figures.loss_curves(curves, osp.join(out_dir, f), f'{task.key}: training loss (reporting seeds)',
                                target=tuning['tasks'][task.key].get('loss_target'))
            files.append(f)
        vals = {n: board[task.key]['methods'][n]['values']['metric'] for n in task.methods
                if board[task.key]['methods'][n]['values']['metric']}
        if vals:
            f = f'{task.key}_metric.png'
            figures.metric_plot(vals, osp.join(out_dir, f), f'{task.key}: {task.metric} on the test split',
                                f'{task.metric} (test)')
            files.append(f)
        costs = {}
        for n in task.methods:
            v = board[task.key]['methods'][n]['values']
            entry = {'optimizer step (ms)': list(v['cost:step_ms'].values()),
                     'train time (s)': list(v['cost:train_s'].values())}
            if any(entry.values()):
                costs[n] = entry
        if costs:
            f = f'{task.key}_cost.png'
            figures.cost_plot(costs, osp.join(out_dir, f), f'{task.key}: cost per reporting seed')
            files.append(f)
        made['tasks'][task.key] = files
    return made


def _csv(results: dict, path: str) -> None:
    rows = []
    for r in sorted(results.values(), key=lambda r: r['id']):
        row = {'id': r['id'], 'phase': r.get('phase'), 'task': r['task'], 'method': r['method'], 'tag': r.get('tag'),
               'seed': r['seed'], 'setting': json.dumps(r.get('setting'), sort_keys=True), 'diverged': r.get('diverged'),
               'spec_hash': r.get('spec_hash'), 'commit': r['env']['commit']}
        for split in ('val', 'test', 'ood'):
            for k, v in (r.get(split) or {}).items():
                row[f'{split}:{k}'] = v
        f = r.get('forgetting') or {}
        row['forgetting_bn'] = f.get('drop_bn')
        row['forgetting_raw'] = f.get('drop')
        for k in ('iters', 'train_s', 'eval_s', 'step_ms', 'peak_mem_mb', 'optimizer_state_mb'):
            row[k] = r['cost'].get(k)
        rows.append(row)
    fields = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    with open(path, 'w', newline='') as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def _comparison_json(c):
    if c is None:
        return None
    return {'n': c.n, 'mean': c.mean, 'sd': c.sd, 'ci95': list(c.ci95), 'ci90': list(c.ci90),
            'diffs': {str(k): v for k, v in c.diffs.items()}, 'p': c.p, 'p_adjusted': c.p_adjusted,
            'p_perm': c.p_perm, 'verdict': c.verdict, 'mde': c.mde, 'n_to_decide': c.n_to_decide}


def write_report(suite: Suite, tuning: dict, results: dict, out_dir: str, command: str, figures: bool = True) -> list:
    """Everything the reporting phase produced (``tuning`` = tuning.json); returns the claim rows."""
    _csv(results, osp.join(out_dir, 'results.csv'))
    board = leaderboard(suite, tuning, results)
    rows = evaluate_claims(suite, tuning, results, board)
    with open(osp.join(out_dir, 'results.json'), 'w') as f:
        json.dump({'suite': suite.name, 'source': suite.source, 'tuning_seeds': list(suite.tuning_seeds),
                   'reporting_seeds': list(suite.reporting_seeds),
                   'claims': [{**{k: v for k, v in r.items() if k != 'comparison'},
                               'comparison': _comparison_json(r.get('comparison'))} for r in rows],
                   'leaderboard': {k: {n: {'n': v['n'], 'diverged': v['diverged'], 'summary': v['summary'],
                                           'values': {c: {str(s): x for s, x in vs.items()} for c, vs in v['values'].items()}}
                                       for n, v in b['methods'].items()} for k, b in board.items()}},
                  f, indent=1, default=float)
    made = _figures(suite, tuning, results, board, rows, out_dir) if figures else {'tasks': {}, 'papers': {}, 'profile': None}
    rep = [r for r in results.values() if r.get('phase') == 'reporting']
    tun = [r for r in results.values() if r.get('phase') == 'tuning']
    hours = lambda rs: sum(r['wall_s'] for r in rs) / 3600  # noqa: E731
    L = [f'# Benchmark suite `{suite.name}`: {suite.description}', '',
         f'Produced by `{command}` from `{suite.source}` under protocol v2 ([results/README.md](../README.md)): '
         f'tuning on seeds {", ".join(map(str, suite.tuning_seeds))} (val split, {suite.budget} '
         f'configuration{"s" if suite.budget > 1 else ""} per method, {suite.sampler}), reporting on held-out seeds {", ".join(map(str, suite.reporting_seeds))} '
         f'(test split). {len(tun)} tuning cells ({hours(tun):.2f} h), {len(rep)} reporting cells ({hours(rep):.2f} h).', '']
    L += _env_line(results) + ['']
    L += ['## Claims', '',
          'Paired by seed: d = method − baseline in the claim\'s "better" direction (for forgetting and '
          'iterations to target: baseline − method; iterations as a log ratio). *superior* if CI95 > 0, '
          '*inferior* if CI95 < 0, *no meaningful gain* if CI90 ⊂ (−δ, δ); "on par" claims: *non-inferior* if '
          'CI90 > −δ. Secondary rows are Holm-corrected within their paper; rows of an exploratory task '
          '(its baseline below the admission level) decide nothing. "n to decide": reporting seeds at which an '
          'undecided row would be decided with 80 % power if the observed mean and SD were true, and the '
          'hours of both methods\' cells that many seeds take on this machine.', '']
    L += claim_table(rows) + ['']
    for paper, f in made['papers'].items():
        L.append(f'![{paper}]({f})')
    if made['profile']:
        L.append(f"![performance profile]({made['profile']})")
    L.append('')
    for task in suite.tasks:
        tt = tuning['tasks'][task.key]
        L += [f'## {task.key} ({tt["status"]})', '',
              f'`configs/{task.config}`, {task.regime}; schedule length {task.length or "as in the config"}; '
              f'baseline {task.baseline}. Mean [t-based CI95] over the reporting seeds; a diverged run scores '
              f'the floor ({task.metric_floor:g}).', '']
        L += _leaderboard_lines(suite, tuning, board, task) + ['']
        for f in made['tasks'].get(task.key, []):
            L.append(f'![{f}]({f})')
        L.append('')
    L += ['## Tuning (frozen in tuning.json)', ''] + write_tuning_report(suite, tuning)
    with open(osp.join(out_dir, 'README.md'), 'w') as f:
        f.write('\n'.join(L) + '\n')
    return rows
