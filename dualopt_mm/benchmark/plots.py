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
        # distance to the starting weights, per backbone stage
        stages = ['stem', 'layer1', 'layer2', 'layer3', 'layer4']
        fig, axes = plt.subplots(1, len(stages), figsize=(14, 3.0), sharey=False)
        any_line = False
        for j, stage in enumerate(stages):
            for i, n in enumerate(names):
                cells = _winner_cells(suite, results, task, n, methods[n]['lr'])
                curves = [[[it, d[stage]] for it, d in c['curves']['backbone_dist'] if stage in d] for c in cells]
                xs, ys = _mean_curve([c for c in curves if c])
                if xs and all(math.isfinite(y) for y in ys):
                    any_line = True
                    axes[j].plot(xs, ys, label=n, color='0.4' if n == task.baseline else f'C{i}')
            axes[j].set_title(stage, fontsize=8)
            axes[j].set_xlabel('iteration', fontsize=7)
        axes[0].set_ylabel('||θ - θ_start|| / ||θ_start||', fontsize=7)
        for ax in axes:
            if ax.get_lines():
                ax.legend(fontsize=6)
                break
        what = 'pre-trained' if task.regime == 'finetune' else 'initial'
        fig.suptitle(f'{suite.name}: {key}: relative distance of each backbone stage to its {what} weights',
                     fontsize=9)
        fig.tight_layout()
        if any_line:
            files.append(f'{key}_distance.png')
            fig.savefig(osp.join(out_dir, files[-1]), dpi=110)
        plt.close(fig)
        made[key] = files
    return made
