"""The benchmark's figures (dualopt_mm.benchmark.figures) on small synthetic data: each writes a
readable PNG, colours are stable and distinct, bad input raises ValueError, nothing stays open."""
import gc
import math
import os
import subprocess
import sys

import pytest

from dualopt_mm.benchmark import figures as F

KNOWN = ['adamw', 'sgd', 'l2sp_adamw', 'dualopt_adamw', 'spd_adamw', 'dualopt_adamw_scratch',
         'random_scaled_sgd', 'hybrid_sgd', 'osgd', 'aa_control', 'adamw_lld', 'radam']
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def assert_png(path, min_bytes=5000):
    with open(path, 'rb') as f:
        data = f.read()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > min_bytes, (path, len(data))
    return data


def png_size(data):
    """(width, height) in pixels from the IHDR chunk."""
    return int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big')


# ------------------------------------------------------------------------------------------- colours

def test_method_color_known_fixed_distinct():
    colors = [F.method_color(m) for m in KNOWN]
    assert all(c.startswith('#') and len(c) == 7 for c in colors)
    assert len(set(c.lower() for c in colors)) == len(KNOWN)
    assert [F.method_color(m) for m in KNOWN] == colors          # stable within a process
    for i, a in enumerate(colors):                               # and visibly different
        for b in colors[i + 1:]:
            assert F._color_distance(a, b) > 0.25, (a, b)


def test_method_color_unknown_deterministic_across_processes():
    names = ['my_new_opt', 'lion', 'adafactor_v2', 'x']
    here = [F.method_color(n) for n in names]
    known = {F.method_color(m).lower() for m in KNOWN}
    assert all(c.lower() not in known for c in here)             # never one of the fixed colours
    # load the module from its file: importing the dualopt_mm package would pull in mmengine/torch
    code = ('import importlib.util as u; '
            f's = u.spec_from_file_location("figures_copy", {F.__file__!r}); m = u.module_from_spec(s); '
            's.loader.exec_module(m); '
            f'print(",".join(m.method_color(n) for n in {names!r}))')
    env = dict(os.environ, PYTHONHASHSEED='123')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip().split(',') == here


# --------------------------------------------------------------------------------------- forest plot

def forest_row(i, kind='better', nan=False, label=None):
    delta = [0.5, 1.0, 2.0][i % 3]
    diffs = {s: delta * (0.6 + 0.3 * math.sin(i + s)) for s in range(5)}
    mean = sum(diffs.values()) / 5
    ci = (float('nan'), float('nan')) if nan else (mean - 0.4 * delta, mean + 0.4 * delta)
    ci90 = (float('nan'), float('nan')) if nan else (mean - 0.3 * delta, mean + 0.3 * delta)
    if nan:
        diffs = {0: diffs[0]}
        mean = diffs[0]
    return {'label': label or f'claim {i}: better than AdamW — detection, bbox mAP', 'method': KNOWN[i % 12],
            'diffs': diffs, 'mean': mean, 'ci95': ci, 'ci90': ci90, 'delta': delta,
            'verdict': 'supported' if i % 2 else 'inconclusive', 'primary': i == 0, 'kind': kind,
            'unit': ['top-1 points', 'bbox mAP', 'mIoU'][i % 3]}


def test_forest_plot_one_row(tmp_path):
    p = F.forest_plot([forest_row(0)], str(tmp_path / 'f1.png'), 'paper A: one claim')
    assert p == str(tmp_path / 'f1.png')
    assert_png(p)


def test_forest_plot_twelve_long_rows_and_nan(tmp_path):
    long = ('better than AdamW on the out-of-distribution split after fine-tuning — semantic '
            'segmentation, mIoU on the corrupted validation set')
    rows = [forest_row(i, kind='on_par' if i % 3 == 0 else 'better', nan=(i == 5), label=f'{i}: {long}')
            for i in range(12)]
    p1 = F.forest_plot([forest_row(0)], str(tmp_path / 'one.png'), 't')
    p12 = F.forest_plot(rows, str(tmp_path / 'f12.png'), 'paper B: twelve claims with long labels ' * 3)
    (w1, h1), (w12, h12) = png_size(assert_png(p1)), png_size(assert_png(p12))
    assert h12 > 4 * h1                                          # the height grows with the rows
    # a row without any CI at all (n = 0 valid seeds) still draws
    row = dict(forest_row(1), diffs={}, mean=float('nan'), ci95=None, ci90=None)
    assert_png(F.forest_plot([row], str(tmp_path / 'empty_row.png'), 't'), 2000)


def test_forest_plot_bad_input(tmp_path):
    with pytest.raises(ValueError, match='no rows'):
        F.forest_plot([], str(tmp_path / 'x.png'), 't')
    with pytest.raises(ValueError, match='delta'):
        F.forest_plot([dict(forest_row(0), delta=0)], str(tmp_path / 'x.png'), 't')


# ------------------------------------------------------------------------------- performance profile

def test_performance_profile_missing_and_below_trivial(tmp_path):
    scores = {'cls': {'adamw': 70.0, 'dualopt_adamw': 72.0, 'sgd': 68.0},
              'det': {'adamw': 30.0, 'dualopt_adamw': 29.0},          # sgd missing: failed
              'seg': {'adamw': 40.0, 'dualopt_adamw': 41.0, 'sgd': 4.0}}  # sgd below trivial
    p = F.performance_profile(scores, str(tmp_path / 'pp.png'), 'suite', trivial={'cls': 10, 'seg': 5.0})
    assert_png(p)
    # every ratio 1 (a single method): axis 1..2
    assert_png(F.performance_profile({'a': {'adamw': 1.0}}, str(tmp_path / 'pp1.png'), 'one'))
    # no finite ratio at all
    assert_png(F.performance_profile({'a': {'adamw': -1.0}}, str(tmp_path / 'pp0.png'), 'none'))
    with pytest.raises(ValueError):
        F.performance_profile({}, str(tmp_path / 'x.png'), 't')
    with pytest.raises(ValueError):
        F.performance_profile({'a': {}}, str(tmp_path / 'x.png'), 't')


# ------------------------------------------------------------------------ loss, cost and metric plots

def curve(scale, seed, n=40):
    return [[10 * i, scale * (5.0 / (1 + 0.3 * i)) * (1 + 0.05 * seed)] for i in range(n)]


def test_loss_curves(tmp_path):
    curves = {'adamw': [curve(1, s) for s in range(3)], 'dualopt_adamw': [curve(0.6, s) for s in range(3)],
              'spd_adamw': [curve(0.8, 0)], 'osgd': []}
    assert_png(F.loss_curves(curves, str(tmp_path / 'loss.png'), 'cls', target=0.5))   # log y
    flat = {'adamw': [[[0, 1.0], [1, 0.9]], [[0, 1.1], [1, 0.95]]]}
    assert_png(F.loss_curves(flat, str(tmp_path / 'loss_lin.png'), 'flat'))
    with pytest.raises(ValueError):
        F.loss_curves({}, str(tmp_path / 'x.png'), 't')
    with pytest.raises(ValueError):
        F.loss_curves({'adamw': [[]]}, str(tmp_path / 'x.png'), 't')


def test_cost_plot(tmp_path):
    costs = {'adamw': {'optimizer step (ms)': [1.0, 1.1, 0.95], 'train time (s)': [100, 104, 99]},
             'spd_adamw': {'optimizer step (ms)': [2.5, 2.4, 2.6], 'train time (s)': [130, 128, 135],
                           'peak memory (MiB)': [2048, 2050, 2049]},
             'dualopt_adamw': {'optimizer step (ms)': [1.6, 1.7, 1.65], 'unused': []}}
    assert_png(F.cost_plot(costs, str(tmp_path / 'cost.png'), 'cost'))
    with pytest.raises(ValueError):
        F.cost_plot({}, str(tmp_path / 'x.png'), 't')
    with pytest.raises(ValueError):
        F.cost_plot({'adamw': {'train time (s)': []}}, str(tmp_path / 'x.png'), 't')


def test_metric_plot(tmp_path):
    values = {'adamw': {0: 70.1, 1: 70.5, 2: 69.8}, 'dualopt_adamw': {0: 71.0, 1: 71.4, 2: 70.9},
              'spd_adamw': {0: 70.7}}
    defaults = {'adamw': {0: 69.0}, 'dualopt_adamw': {0: 70.2}, 'l2sp_adamw': {0: 68.5}}
    assert_png(F.metric_plot(values, str(tmp_path / 'm.png'), 'cls', 'top-1 accuracy (%)', defaults))
    assert_png(F.metric_plot(values, str(tmp_path / 'm2.png'), 'cls', 'top-1 accuracy (%)'))
    assert F._t_ci([1.0, 2.0, 3.0])[1] == pytest.approx(2.4841377, rel=1e-6)  # t(0.975, 2) * 1 / sqrt 3
    with pytest.raises(ValueError):
        F.metric_plot({}, str(tmp_path / 'x.png'), 't', 'y')


def test_no_figure_left_open(tmp_path):
    from matplotlib.figure import Figure

    def n_figures():
        gc.collect()
        return sum(isinstance(o, Figure) for o in gc.get_objects())

    values = {'adamw': {0: 1.0, 1: 1.2}}
    F.metric_plot(values, str(tmp_path / 'w.png'), 't', 'y')
    before = n_figures()
    for i in range(4):
        F.metric_plot(values, str(tmp_path / 'w.png'), 't', 'y')
        F.forest_plot([forest_row(i)], str(tmp_path / 'w2.png'), 't')
    assert n_figures() <= before
    assert 'matplotlib.pyplot' not in sys.modules or not sys.modules['matplotlib.pyplot'].get_fignums()
