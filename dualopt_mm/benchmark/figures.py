"""The benchmark's figures, as pure functions of plain data (dicts, lists, floats): each writes one
PNG and returns its path.

* :func:`method_color`: one colour per method, the same in every figure of every suite;
* :func:`forest_plot`: the claims of one paper (one claim family), each row in units of its margin δ;
* :func:`performance_profile`: Dolan–Moré profile of the methods across tasks;
* :func:`loss_curves`: training loss over iterations, mean over seeds with a min–max band;
* :func:`cost_plot`: the cost of each method (time per step, wall time, memory), every seed shown;
* :func:`metric_plot`: one metric per method, the seeds, their mean and t-based 95 % CI, and the
  untuned default setting.

Figures are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas and never registered with
``pyplot``: nothing global changes (no backend switch, no rcParams) and nothing is left open.
"""
from __future__ import annotations

import math
import os
import os.path as osp
import textwrap
import zlib

__all__ = ['method_color', 'forest_plot', 'performance_profile', 'loss_curves', 'cost_plot',
           'metric_plot', 'KNOWN_COLORS']

DPI = 110
FONT = 9  # base font size (points); nothing is drawn below 8 pt
SMALL = 8

# Okabe-Ito (colour-blind safe) for the methods, neutral greys / black / brown / olive for the
# baselines and the A/A control.
KNOWN_COLORS = {
    # baselines
    'adamw': '#666666',                 # grey
    'sgd': '#8C564B',                   # brown
    'radam': '#A8A8A8',                 # light grey
    'adamw_lld': '#BCBD22',             # olive (layer-wise lr decay baseline)
    'aa_control': '#000000',            # black: the A/A negative control (L2-SP, alpha = 0)
    # methods
    'l2sp_adamw': '#E69F00',            # orange
    'dualopt_adamw': '#0072B2',         # blue
    'dualopt_adamw_scratch': '#56B4E9',  # sky blue
    'spd_adamw': '#D55E00',             # vermillion
    'random_scaled_sgd': '#009E73',     # bluish green
    'hybrid_sgd': '#CC79A7',            # reddish purple
    'osgd': '#7B3294',                  # purple
}

# candidates for any other name (Paul Tol's muted, ColorBrewer Dark2, tab10; saturated enough to
# read on white); those too close to a fixed colour are dropped below
_EXTRA_CANDIDATES = ['#332288', '#117733', '#882255', '#44AA99', '#999933', '#AA4499', '#E7298A',
                     '#1B9E77', '#66A61E', '#A6761D', '#D62728', '#17BECF', '#9467BD', '#2CA02C',
                     '#E6AB02', '#7570B3', '#1F78B4', '#B15928']


def _rgb(hex_color):
    h = hex_color.lstrip('#')
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))


def _color_distance(a, b):
    """Euclidean distance in RGB weighted roughly for perception ('redmean'), 0..~3."""
    (r1, g1, b1), (r2, g2, b2) = _rgb(a), _rgb(b)
    rm = (r1 + r2) / 2
    return math.sqrt((2 + rm) * (r1 - r2) ** 2 + 4 * (g1 - g2) ** 2 + (3 - rm) * (b1 - b2) ** 2)


_MIN_DISTANCE = 0.4
_EXTRA = [c for c in _EXTRA_CANDIDATES
          if all(_color_distance(c, k) >= _MIN_DISTANCE for k in KNOWN_COLORS.values())] or _EXTRA_CANDIDATES


def method_color(name: str) -> str:
    """The colour (``'#RRGGBB'``) of a method: fixed for the project's methods, otherwise chosen by
    a CRC-32 of the name (the same in every process) from a palette kept away from the fixed ones."""
    if name in KNOWN_COLORS:
        return KNOWN_COLORS[name]
    return _EXTRA[zlib.crc32(str(name).encode('utf-8')) % len(_EXTRA)]


# --------------------------------------------------------------------------------------------- common

def _new_figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _rc():
    import matplotlib
    return matplotlib.rc_context({
        'font.size': FONT, 'axes.titlesize': FONT + 1, 'axes.labelsize': FONT,
        'xtick.labelsize': SMALL, 'ytick.labelsize': SMALL, 'legend.fontsize': SMALL,
        'figure.titlesize': FONT + 1, 'axes.spines.top': False, 'axes.spines.right': False,
    })


def _save(fig, path, tight=True):
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    fig.clear()
    return path


def _finite(x):
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _values(v):
    """A list of floats from {seed: value}, a list, or a scalar (non-finite values kept)."""
    if v is None:
        return []
    if isinstance(v, dict):
        v = list(v.values())
    elif not isinstance(v, (list, tuple)):
        v = [v]
    out = []
    for x in v:
        try:
            out.append(float(x))
        except (TypeError, ValueError):
            out.append(float('nan'))
    return out


def _fmt(x, signed=False):
    if not _finite(x):
        return 'n/a'
    x = float(x)
    s = f'{x:+.3g}' if signed else f'{x:.3g}'
    return s.replace('e+0', 'e').replace('e-0', 'e-')


def _decimals(delta):
    """Decimals to print a quantity whose margin is delta with: two at least, more for small margins."""
    return min(6, max(2, 1 - math.floor(math.log10(delta))))


def _fix(x, decimals, signed=False):
    if not _finite(x):
        return 'n/a'
    return f'{float(x):+.{decimals}f}' if signed else f'{float(x):.{decimals}f}'


def _wrap(text, width):
    return '\n'.join(textwrap.wrap(str(text), width, break_long_words=True, break_on_hyphens=False)) or ''


def _jitter(i, n, amplitude):
    """Deterministic, evenly spread offsets in [-amplitude, amplitude] for n points."""
    if n <= 1:
        return 0.0
    return amplitude * (2 * i / (n - 1) - 1)


def _legend_outside(ax, handles=None, labels=None, **kw):
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    return ax.legend(handles, labels, loc='upper left', bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                     frameon=False, fontsize=SMALL, **kw)


# ---------------------------------------------------------------------------------------- forest plot

_NI_COLOR = '#B2182B'


def _pair(ci):
    try:
        lo, hi = ci
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        return None
    return (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None


def forest_plot(rows: list, path: str, title: str) -> str:
    """One forest plot for a claim family: per row (a claim) its per-seed paired differences, their
    mean, CI95 (thin line) and CI90 (thick line), all divided by the row's margin δ, so that rows in
    different units share the axis; the band ±1 is the margin, 0 the baseline, -1 the
    non-inferiority bound of the on-par claims. Right of the axes: the verdict and the statistics in
    the metric's own units."""
    if not rows:
        raise ValueError('forest_plot: no rows to draw (rows == [])')
    for i, r in enumerate(rows):
        missing = [k for k in ('label', 'diffs', 'mean', 'delta') if k not in r]
        if missing:
            raise ValueError(f'forest_plot: row {i} lacks {missing}')
        if not _finite(r['delta']) or float(r['delta']) <= 0:
            raise ValueError(f"forest_plot: row {i} ({r['label']!r}) has margin delta={r['delta']!r}; "
                             'it must be a finite number > 0')
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n = len(rows)
    labels = [_wrap(r['label'], 44) for r in rows]
    label_lines = max(lab.count('\n') + 1 for lab in labels)
    row_h = max(0.52, 0.155 * max(label_lines, 2) + 0.22)  # inches per row (2 lines of text right)
    axes_w = 4.2
    title_txt = _wrap(title, 95)
    title_lines = title_txt.count('\n') + 1
    top = 0.22 + 0.2 * title_lines + 0.5       # title, then the two-line legend above the axes
    bottom = 0.56                               # tick labels and x label
    height = top + bottom + n * row_h

    with _rc():
        fig = _new_figure(10, height)
        ax = fig.add_axes([0.3, bottom / height, 0.4, n * row_h / height])
        ax.axvspan(-1, 1, color='0.91', zorder=0, lw=0)
        ax.axvline(0, color='0.35', lw=0.9, zorder=1)
        xs_all = [-1.0, 1.0]
        right_texts = []
        any_on_par = False
        for i, r in enumerate(rows):
            y = n - 1 - i
            delta = float(r['delta'])
            color = method_color(r.get('method', '') or '')
            diffs = [d for d in _values(r['diffs']) if math.isfinite(d)]
            if i:
                ax.axhline(y + 0.5, color='0.82', lw=0.5, zorder=0)
            if r.get('kind', 'better') == 'on_par':
                any_on_par = True
                ax.plot([-1, -1], [y - 0.42, y + 0.42], color=_NI_COLOR, lw=1.6, ls=(0, (2.5, 1.2)),
                        zorder=2, solid_capstyle='butt')
            # seeds: small dots just below the CI lines, spread a little vertically
            for j, d in enumerate(diffs):
                ax.plot(d / delta, y - 0.24 + _jitter(j, len(diffs), 0.07), 'o', ms=3.2, color=color,
                        alpha=0.7, mec='none', zorder=3)
                xs_all.append(d / delta)
            ci95, ci90 = _pair(r.get('ci95')), _pair(r.get('ci90'))
            if ci95:
                ax.plot([ci95[0] / delta, ci95[1] / delta], [y, y], color=color, lw=1.3, zorder=4,
                        solid_capstyle='butt')
                xs_all += [ci95[0] / delta, ci95[1] / delta]
            if ci90:
                ax.plot([ci90[0] / delta, ci90[1] / delta], [y, y], color=color, lw=4.5, alpha=0.85,
                        zorder=5, solid_capstyle='butt')
                xs_all += [ci90[0] / delta, ci90[1] / delta]
            mean = r['mean']
            if _finite(mean):
                ax.plot(float(mean) / delta, y, 'D', ms=6.5, color=color, mec='black', mew=0.8, zorder=6)
                xs_all.append(float(mean) / delta)
            # the statistics in the metric's own units
            unit = r.get('unit', '') or ''
            dec = _decimals(delta)
            stats = f'mean {_fix(mean, dec, True)}'
            if ci95:
                stats += (f' ± {_fix((ci95[1] - ci95[0]) / 2, dec)}'
                          f' [CI95 {_fix(ci95[0], dec, True)}, {_fix(ci95[1], dec, True)}]')
            if _finite(mean):
                stats += f' {unit}'.rstrip() + f'  (n={len(diffs)}, δ={_fmt(delta)})'
            else:
                stats += f'  (n={len(diffs)}, δ={_fmt(delta)} {unit}'.rstrip() + ')'
            verdict = str(r.get('verdict', '') or '—')
            t1 = ax.annotate(verdict, xy=(1, y), xycoords=('axes fraction', 'data'), xytext=(8, 1.5),
                             textcoords='offset points', va='bottom', ha='left', fontsize=FONT,
                             fontweight='bold' if r.get('primary') else 'normal', annotation_clip=False)
            t2 = ax.annotate(stats, xy=(1, y), xycoords=('axes fraction', 'data'), xytext=(8, -1.5),
                             textcoords='offset points', va='top', ha='left', fontsize=SMALL, color='0.25',
                             annotation_clip=False)
            right_texts += [t1, t2]

        lo, hi = min(xs_all), max(xs_all)
        pad = 0.08 * (hi - lo)
        ax.set_xlim(min(lo - pad, -1.5), max(hi + pad, 1.5))
        ax.set_ylim(-0.5, n - 0.5)
        ax.set_yticks([n - 1 - i for i in range(n)])
        ax.set_yticklabels(labels, fontsize=FONT)
        ax.tick_params(axis='y', length=0)
        for tick, r in zip(ax.get_yticklabels(), rows):
            if r.get('primary'):
                tick.set_fontweight('bold')
        ax.set_xlabel('paired difference / δ (margin)')
        ax.spines['left'].set_visible(False)

        handles = [Line2D([], [], marker='o', ls='none', ms=3.5, color='0.4', label='seed'),
                   Line2D([], [], marker='D', ls='none', ms=6, color='0.6', mec='black', label='mean'),
                   Line2D([], [], color='0.4', lw=1.3, label='CI95'),
                   Line2D([], [], color='0.4', lw=4.5, label='CI90'),
                   Patch(color='0.91', label='±δ (margin)')]
        if any_on_par:
            handles.append(Line2D([], [], color=_NI_COLOR, lw=1.6, ls=(0, (2.5, 1.2)),
                                  label='non-inferiority bound (on par)'))
        leg = ax.legend(handles=handles, loc='lower left', bbox_to_anchor=(0.0, 1.01), ncol=3,
                        frameon=False, fontsize=SMALL, borderaxespad=0.2, handlelength=1.8,
                        columnspacing=1.2)

        title_artist = fig.text(0.5, 1 - 0.15 / height, title_txt, ha='center', va='top',
                                fontsize=FONT + 1, fontweight='bold')

        # lay the figure out in inches from the measured text: labels left, axes, texts right
        renderer = fig.canvas.get_renderer()
        label_w = max(t.get_window_extent(renderer).width for t in ax.get_yticklabels()) / DPI
        right_w = max(t.get_window_extent(renderer).width for t in right_texts) / DPI
        leg_w = leg.get_window_extent(renderer).width / DPI
        margin = 0.15
        axes_w = max(axes_w, leg_w + 0.1)
        left = margin + label_w + 0.12
        width = left + axes_w + 0.15 + right_w + margin
        title_w = title_artist.get_window_extent(renderer).width / DPI
        width = max(width, title_w + 2 * margin)
        fig.set_size_inches(width, height)
        ax.set_position([left / width, bottom / height, axes_w / width, n * row_h / height])
        return _save(fig, path, tight=False)


# ------------------------------------------------------------------------------- performance profile

_LINESTYLES = ['-', '--', '-.', ':']


def _profile_ticks(xmax):
    """Round τ values from 1 to xmax, spread evenly on the log axis (about 7 of them)."""
    cands = [1, 1.01, 1.02, 1.05, 1.1, 1.2, 1.3, 1.5, 2, 3, 4, 6]
    k = 3
    while 2 ** k <= xmax:
        cands.append(2 ** k)
        k += 1
    span = math.log2(xmax)
    ticks = [1]
    for c in cands[1:]:
        if c <= xmax * 1.0001 and math.log2(c) - math.log2(ticks[-1]) >= span / 7 - 1e-9:
            ticks.append(c)
    return ticks


def performance_profile(scores: dict, path: str, title: str, trivial: dict | None = None) -> str:
    """Dolan–Moré performance profile: per method, the fraction of tasks on which its ratio
    r = (best - trivial) / (value - trivial) is at most τ. A method missing from a task, or at or
    below the trivial predictor there, has r = ∞ for it (counted as failed)."""
    if not scores:
        raise ValueError('performance_profile: no tasks to profile (scores is empty)')
    methods = []
    for per in scores.values():
        for m in (per or {}):
            if m not in methods:
                methods.append(m)
    if not methods:
        raise ValueError('performance_profile: no method has a score on any task')
    trivial = trivial or {}
    ratios = {m: [] for m in methods}
    for task, per in scores.items():
        per = per or {}
        t0 = float(trivial.get(task, 0.0))
        vals = {m: float(v) for m, v in per.items() if _finite(v)}
        best = max(vals.values()) if vals else float('nan')
        for m in methods:
            v = vals.get(m)
            if v is None or not math.isfinite(best) or v <= t0 or best <= t0:
                ratios[m].append(math.inf)
            else:
                ratios[m].append((best - t0) / (v - t0))
    n_tasks = len(scores)
    finite = [r for rs in ratios.values() for r in rs if math.isfinite(r)]
    r_max = max(finite) if finite else 1.0
    xmax = r_max * 1.05 if r_max > 1 + 1e-12 else 2.0

    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
    with _rc():
        fig = _new_figure(7.2, 4.2)
        ax = fig.add_subplot(111)
        for i, m in enumerate(methods):
            rs = sorted(r for r in ratios[m] if math.isfinite(r))
            xs = sorted({1.0, xmax, *rs})
            ys = [sum(r <= x * (1 + 1e-12) for r in rs) / n_tasks for x in xs]
            n_solved = len(rs)
            ax.step(xs, ys, where='post', color=method_color(m), lw=2.0, alpha=0.9,
                    ls=_LINESTYLES[i % len(_LINESTYLES)], label=f'{m} ({n_solved}/{n_tasks})')
        ax.set_xscale('log', base=2)
        ax.set_xlim(1, xmax)
        ax.set_ylim(-0.03, 1.03)
        ax.xaxis.set_major_locator(FixedLocator(_profile_ticks(xmax)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f'{x:g}'))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.grid(True, color='0.9', lw=0.6)
        ax.set_xlabel('τ (ratio to the best, gap above trivial)')
        ax.set_ylabel('fraction of tasks')
        ax.set_title(_wrap(f'{title} ({n_tasks} task{"s" if n_tasks != 1 else ""})', 70))
        _legend_outside(ax, title='method (tasks scored\nabove trivial)', title_fontsize=SMALL)
        return _save(fig, path)


# ------------------------------------------------------------------------------------------ loss curves

def _curve_points(curve):
    pts = {}
    for p in curve or []:
        try:
            it, loss = p[0], p[1]
            pts[float(it)] = float(loss)
        except (TypeError, ValueError, IndexError):
            continue
    return pts


def loss_curves(curves: dict, path: str, title: str, target: float | None = None) -> str:
    """Training loss over iterations per method: the mean over seeds at the iterations they share
    (solid line) and the min–max over seeds (band); optionally the target loss (dashed)."""
    if not curves:
        raise ValueError('loss_curves: no curves to draw (curves is empty)')
    series = []  # (method, xs, mean, lo, hi, n_seeds) or (method, [per-seed (xs, ys)], None...)
    for m, seeds in curves.items():
        pts = [p for p in (_curve_points(c) for c in (seeds or [])) if p]
        if not pts:
            continue
        shared = sorted(set.intersection(*[set(p) for p in pts]))
        if shared:
            xs, mean, lo, hi = [], [], [], []
            for x in shared:
                v = [p[x] for p in pts if math.isfinite(p[x])]
                if v:
                    xs.append(x)
                    mean.append(sum(v) / len(v))
                    lo.append(min(v))
                    hi.append(max(v))
            if xs:
                series.append((m, xs, mean, lo, hi, len(pts)))
                continue
        # the seeds share no iteration: draw each seed on its own
        series.append((m, [sorted(p.items()) for p in pts], None, None, None, len(pts)))
    if not series:
        raise ValueError('loss_curves: every curve is empty')
    all_losses = []
    for s in series:
        if s[2] is not None:
            all_losses += s[3] + s[4]
        else:
            all_losses += [y for c in s[1] for _, y in c if math.isfinite(y)]
    log_y = bool(all_losses) and min(all_losses) > 0 and max(all_losses) / min(all_losses) > 20

    with _rc():
        fig = _new_figure(7.2, 4.2)
        ax = fig.add_subplot(111)
        for m, xs, mean, lo, hi, n_seeds in series:
            color = method_color(m)
            label = f'{m} ({n_seeds} seed{"s" if n_seeds != 1 else ""})'
            if mean is not None:
                ax.plot(xs, mean, color=color, lw=1.8, label=label, zorder=3)
                if n_seeds > 1:
                    ax.fill_between(xs, lo, hi, color=color, alpha=0.2, lw=0, zorder=2)
            else:
                label = f'{m} ({n_seeds} seeds, one line each: no shared iteration)'
                for k, c in enumerate(xs):
                    ax.plot([x for x, _ in c], [y for _, y in c], color=color, lw=1.0, alpha=0.8,
                            label=label if k == 0 else None, zorder=3)
        if target is not None and _finite(target):
            ax.axhline(float(target), color='0.15', ls='--', lw=1.1, label='target', zorder=4)
        if log_y:
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
            ax.set_yscale('log')
            decades = math.log10(max(all_losses) / min(all_losses))
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0,) if decades > 3 else (1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f'{y:g}'))
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, color='0.92', lw=0.6)
        ax.set_xlabel('iteration')
        ax.set_ylabel('training loss' + (' (log scale)' if log_y else ''))
        ax.set_title(_wrap(title, 70))
        _legend_outside(ax, title='mean over seeds, band = min–max', title_fontsize=SMALL)
        return _save(fig, path)


# ------------------------------------------------------------------------------------------- cost plot

def cost_plot(costs: dict, path: str, title: str) -> str:
    """The cost of each method, one panel per metric (its unit in the name, e.g. 'train time (s)'):
    every seed's value as a dot and the median as a short bar. Methods on the y axis, the same order
    in every panel."""
    if not costs:
        raise ValueError('cost_plot: no methods to draw (costs is empty)')
    methods = list(costs)
    metrics = []
    for per in costs.values():
        for k, v in (per or {}).items():
            if k not in metrics and any(math.isfinite(x) for x in _values(v)):
                metrics.append(k)
    if not metrics:
        raise ValueError('cost_plot: no method has a finite value for any metric')
    ncols = min(3, len(metrics))
    nrows = math.ceil(len(metrics) / ncols)
    nm = len(methods)
    panel_h = 0.34 * nm + 0.9
    label_w = 0.075 * max(len(str(m)) for m in methods) + 0.3

    with _rc():
        fig = _new_figure(label_w + 3.0 * ncols, panel_h * nrows + 0.45)
        axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
        ys = {m: nm - 1 - i for i, m in enumerate(methods)}
        for idx, metric in enumerate(metrics):
            ax = axes[idx // ncols][idx % ncols]
            panel_vals = []
            for m in methods:
                vals = [x for x in _values((costs[m] or {}).get(metric)) if math.isfinite(x)]
                y = ys[m]
                color = method_color(m)
                if not vals:
                    ax.annotate('n/a', xy=(0.01, y), xycoords=('axes fraction', 'data'), va='center',
                                ha='left', fontsize=SMALL, color='0.5')
                    continue
                for j, v in enumerate(vals):
                    ax.plot(v, y + _jitter(j, len(vals), 0.17), 'o', ms=4.2, color=color, alpha=0.75,
                            mec='none', zorder=3)
                med = sorted(vals)[len(vals) // 2] if len(vals) % 2 else \
                    (sorted(vals)[len(vals) // 2 - 1] + sorted(vals)[len(vals) // 2]) / 2
                ax.plot([med, med], [y - 0.3, y + 0.3], color='0.1', lw=1.6, zorder=4,
                        solid_capstyle='butt')
                panel_vals += vals
            if panel_vals and min(panel_vals) > 0 and max(panel_vals) / min(panel_vals) > 100:
                ax.set_xscale('log')
            ax.set_xlabel(metric)
            ax.set_ylim(-0.6, nm - 0.4)
            ax.grid(True, axis='x', color='0.9', lw=0.6)
            for m in methods:
                ax.axhline(ys[m], color='0.95', lw=0.5, zorder=0)
        for idx in range(len(metrics), nrows * ncols):
            axes[idx // ncols][idx % ncols].set_visible(False)
        for row in axes:
            row[0].set_yticks([ys[m] for m in methods])
            row[0].set_yticklabels(methods)
        fig.suptitle(_wrap(f'{title} (dots: seeds, bar: median)', 100))
        return _save(fig, path)


# ----------------------------------------------------------------------------------------- metric plot

def _t_ci(vals):
    """Mean and half-width of the two-sided t-based 95 % CI (nan for n < 2)."""
    n = len(vals)
    mean = sum(vals) / n
    if n < 2:
        return mean, float('nan')
    from scipy import stats
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    return mean, float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)


def metric_plot(values: dict, path: str, title: str, metric_label: str, defaults: dict | None = None) -> str:
    """One metric per method on the reporting seeds: each seed as a dot, the mean with its t-based
    95 % CI as an error bar, and, optionally, the untuned default setting as hollow markers."""
    if not values:
        raise ValueError('metric_plot: no methods to draw (values is empty)')
    defaults = defaults or {}
    methods = list(values) + [m for m in defaults if m not in values]
    from matplotlib.lines import Line2D
    nm = len(methods)
    long_names = max(len(str(m)) for m in methods) * nm > 70
    with _rc():
        width = max(4.2, 0.75 * nm + 2.8)
        fig = _new_figure(width, 4.2 + (0.5 if long_names else 0))
        ax = fig.add_subplot(111)
        drawn_default = False
        for i, m in enumerate(methods):
            color = method_color(m)
            vals = [v for v in _values(values.get(m)) if math.isfinite(v)]
            for j, v in enumerate(vals):
                ax.plot(i - 0.16 + _jitter(j, len(vals), 0.06), v, 'o', ms=4, color=color, alpha=0.7,
                        mec='none', zorder=3)
            if vals:
                mean, hw = _t_ci(vals)
                ax.errorbar(i + 0.02, mean, yerr=None if math.isnan(hw) else hw, fmt='s', ms=6.5,
                            color=color, mec='black', mew=0.7, ecolor=color, elinewidth=1.8, capsize=4,
                            capthick=1.5, zorder=4)
            dvals = [v for v in _values(defaults.get(m)) if math.isfinite(v)]
            for j, v in enumerate(dvals):
                ax.plot(i + 0.22 + _jitter(j, len(dvals), 0.04), v, 'o', ms=6.5, mfc='none', mec=color,
                        mew=1.5, zorder=3)
                drawn_default = True
        ax.set_xticks(range(nm))
        ax.set_xticklabels(methods, rotation=30 if long_names else 0, ha='right' if long_names else 'center')
        ax.set_xlim(-0.6, nm - 0.4)
        ax.set_xlabel('method')
        ax.set_ylabel(metric_label)
        ax.grid(True, axis='y', color='0.92', lw=0.6)
        ax.set_title(_wrap(title, int(7 * width)))
        handles = [Line2D([], [], marker='o', ls='none', ms=4, color='0.45', label='seed'),
                   Line2D([], [], marker='s', ls='-', ms=6, color='0.45', mec='black',
                          label='mean ± 95 % CI (t)')]
        if drawn_default:
            handles.append(Line2D([], [], marker='o', ls='none', ms=6.5, mfc='none', mec='0.3', mew=1.5,
                                  label='untuned default'))
        _legend_outside(ax, handles, [h.get_label() for h in handles])
        return _save(fig, path)
