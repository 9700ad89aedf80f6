"""PNG plots of a suite: metric bars with error bars, training-loss curves and the distance of each
backbone stage to its starting (pre-trained) weights over training, per task."""
from __future__ import annotations

import math
import os.path as osp
import statistics

from .suite import Suite, cell_id

__all__ = ['make_plots']


def _winner_cells(suite, results, task, method, lr):
    if lr is None:
        return []
    return [results[c] for c in (cell_id(task.key, method, lr, s) for s in suite.seeds) if c in results]


def _mean_curve(curves):
    """Average of [[x, y], ...] curves over seeds at the x values they share."""
    if not curves:
        return [], []
    xs = sorted(set.intersection(*[{x for x, _ in c} for c in curves]))
    by = [dict((x, y) for x, y in c) for c in curves]
    return xs, [statistics.fmean(b[x] for b in by) for x in xs]


def make_plots(suite: Suite, results: dict, summary: dict, out_dir: str) -> dict:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    made = {}
    for key, s in summary.items():
        task, methods = s['task'], s['methods']
        names = [m.name for m in task.methods]
        files = []
        # metric bars
        bar_cols = [c for c in s['columns'] if c.key in ('val', 'ood', 'forgetting') or c.key.startswith('val:exit')]
        fig, axes = plt.subplots(1, len(bar_cols), figsize=(3.2 * len(bar_cols) + 1, 3.4), squeeze=False)
        for ax, c in zip(axes[0], bar_cols):
            means = [methods[n]['stats'][c.key][0] for n in names]
            stds = [methods[n]['stats'][c.key][1] for n in names]
            ax.bar(range(len(names)), [m if m is not None else 0 for m in means],
                   yerr=[sd if sd is not None else 0 for sd in stds], capsize=3,
                   color=['0.55' if n == task.baseline else f'C{i}' for i, n in enumerate(names)])
            ax.set_xticks(range(len(names)))
            ax.set_xticklabels(names, rotation=35, ha='right', fontsize=7)
            ax.set_title(c.label, fontsize=8)
        fig.suptitle(f'{suite.name}: {key} (mean ± std over seeds; grey = baseline)', fontsize=9)
        fig.tight_layout()
        files.append(f'{key}_metrics.png')
        fig.savefig(osp.join(out_dir, files[-1]), dpi=110)
        plt.close(fig)
        # loss curves
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        for i, n in enumerate(names):
            cells = _winner_cells(suite, results, task, n, methods[n]['lr'])
            xs, ys = _mean_curve([c['curves']['loss'] for c in cells])
            if xs:
                ax.plot(xs, ys, label=f"{n} (lr {methods[n]['lr']:g})", color='0.4' if n == task.baseline else f'C{i}')
        ax.set_xlabel('iteration')
        ax.set_ylabel('training loss (mean over seeds)')
        ax.set_yscale('log')
        ax.legend(fontsize=7)
        ax.set_title(f'{suite.name}: {key}', fontsize=9)
        fig.tight_layout()
        files.append(f'{key}_loss.png')
        fig.savefig(osp.join(out_dir, files[-1]), dpi=110)
        plt.close(fig)
        # distance to the starting weights: the whole backbone and each stage (every method), and
        # the stats hook's distance to the anchor per depth bucket (anchored methods)
        panels = []
        for src, names_ in (('backbone_dist', ['backbone', 'stem', 'layer1', 'layer2', 'layer3', 'layer4']),
                            ('anchor_dist', ['d0', 'd1', 'd2', 'd3'])):
            for part in names_:
                if any(part in (d if src == 'anchor_dist' else d[1])
                       for r in results.values() if r['task'] == key
                       for d in (r['curves'].get(src) or {} if src == 'anchor_dist'
                                 else r['curves'].get(src, []))):
                    panels.append((src, part))
        if panels:
            # one row per source: distance to the start above, the stats hook's anchor distance below
            rows = [[p for p in panels if p[0] == src] for src in ('backbone_dist', 'anchor_dist')]
            rows = [r for r in rows if r]
            ncols = max(len(r) for r in rows)
            fig, grid = plt.subplots(len(rows), ncols, figsize=(2.9 * ncols + 0.5, 2.9 * len(rows) + 0.4),
                                     squeeze=False)
            axes, placed = [], []
            for r, row in enumerate(rows):
                for c in range(ncols):
                    if c < len(row):
                        axes.append(grid[r][c])
                        placed.append(row[c])
                    else:
                        grid[r][c].axis('off')
            for ax, (src, part) in zip(axes, placed):
                for i, n in enumerate(names):
                    cells = _winner_cells(suite, results, task, n, methods[n]['lr'])
                    if src == 'anchor_dist':
                        curves = [c['curves'].get('anchor_dist', {}).get(part, []) for c in cells]
                    else:
                        curves = [[[it, d[part]] for it, d in c['curves']['backbone_dist'] if part in d]
                                  for c in cells]
                    xs, ys = _mean_curve([c for c in curves if c])
                    if xs and all(math.isfinite(y) for y in ys):
                        ax.plot(xs, ys, label=n, color='0.4' if n == task.baseline else f'C{i}')
                title = (f'anchor distance, depth bucket {part[1]} (stats hook)' if src == 'anchor_dist'
                         else f'{part}: distance to start')
                ax.set_title(title, fontsize=7)
                ax.set_xlabel('iteration', fontsize=7)
                ax.tick_params(labelsize=6)
            for r in range(len(rows)):
                grid[r][0].set_ylabel('||θ - θ₀|| / ||θ₀||' if rows[r][0][0] == 'backbone_dist'
                                      else '||θ - θ_anchor|| / ||θ_anchor||', fontsize=7)
            for ax in axes:
                if ax.get_lines():
                    ax.legend(fontsize=6)
                    break
            what = 'pre-trained' if task.regime == 'finetune' else 'initial'
            fig.suptitle(f'{suite.name}: {key}: relative distance to the {what} weights (mean over seeds; '
                         'bucket 0 = nearest the input)', fontsize=9)
            fig.tight_layout()
            files.append(f'{key}_distance.png')
            fig.savefig(osp.join(out_dir, files[-1]), dpi=110)
            plt.close(fig)
        made[key] = files
    return made
