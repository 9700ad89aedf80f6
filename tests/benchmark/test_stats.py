"""The benchmark's statistics (dualopt_mm.benchmark.stats): paired differences, CI verdicts with a
margin, the p-value formulation and Holm, floors, permutation p, power; known answers and
simulations with fixed seeds."""
import math

import numpy as np
import pytest
from scipy import stats as st

from dualopt_mm.benchmark.stats import (VERDICTS_BETTER, VERDICTS_ON_PAR, Comparison, adjust_family,
                                        apply_floor, compare, holm, mde, n_to_decide,
                                        paired_differences, verdicts)

T975_DF2 = 4.302652729911275     # t(0.975, df=2), from a table


def _d(values, seeds=None):
    seeds = range(len(values)) if seeds is None else seeds
    return {s: float(v) for s, v in zip(seeds, values)}


def _exact(mean, sd, n):
    """n values with exactly this sample mean and sd (ddof=1)."""
    z = np.linspace(-1.0, 1.0, n) + np.sin(np.arange(n))   # arbitrary, not symmetric
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + sd * z


def _ci_verdict(kind, lo95, hi95, lo90, hi90, delta):
    """The protocol's CI rule, written independently of the module."""
    if kind == 'better':
        if lo95 > 0:
            return 'superior'
        if hi95 < 0:
            return 'inferior'
        if lo90 > -delta and hi90 < delta:
            return 'no meaningful gain'
        return 'undecided'
    if lo90 > -delta:
        return 'non-inferior'
    if hi95 < -delta:
        return 'inferior'
    return 'undecided'


# --------------------------------------------------------------------- known answers

def test_hand_example_1_2_3():
    c = compare(_d([1.0, 2.0, 3.0]), delta=1.5)
    assert isinstance(c, Comparison)
    assert c.n == 3 and c.mean == pytest.approx(2.0) and c.sd == pytest.approx(1.0)
    assert c.se == pytest.approx(1 / math.sqrt(3))
    half95 = T975_DF2 / math.sqrt(3)
    assert c.ci95 == pytest.approx((2 - half95, 2 + half95), rel=1e-9)
    half90 = st.t.ppf(0.95, 2) / math.sqrt(3)
    assert c.ci90 == pytest.approx((2 - half90, 2 + half90), rel=1e-9)
    # t = 2 / (1/sqrt 3) = 2 sqrt 3 on 2 df
    t0 = 2 * math.sqrt(3)
    assert c.p['superior'] == pytest.approx(2 * st.t.sf(t0, 2), rel=1e-9)
    assert c.p['inferior'] == pytest.approx(1.0)
    # the CI95 (-0.48, 4.48) holds 0 and the CI90 (0.31, 3.69) leaves (-1.5, 1.5): undecided
    assert c.ci95[0] < 0 < c.ci90[0]
    assert c.verdict == 'undecided'
    assert isinstance(c.n_to_decide, int) and 3 < c.n_to_decide < 20
    assert c.diffs == {0: 1.0, 1: 2.0, 2: 3.0}
    assert c.p_perm is None and c.note == ''
    assert c.p_adjusted == c.p


def test_hand_example_superior():
    # mean 2, sd 0.1: CI95 = 2 +- 4.3027 * 0.1 / sqrt 3 = (1.7516, 2.2484)
    c = compare(_d([1.9, 2.0, 2.1]), delta=1.5)
    assert c.ci95 == pytest.approx((2 - 0.1 * T975_DF2 / math.sqrt(3), 2 + 0.1 * T975_DF2 / math.sqrt(3)))
    assert c.verdict == 'superior' and c.n_to_decide is None


@pytest.mark.parametrize('kind, values, delta, expected, equivalent', [
    ('better', [2.0, 2.1, 1.9, 2.05], 1.0, 'superior', False),
    ('better', [-2.0, -2.1, -1.9, -2.05], 1.0, 'inferior', False),
    ('better', [0.01, -0.01, 0.02, -0.02, 0.0], 1.0, 'no meaningful gain', False),
    ('better', [-1.0, 1.0, 2.0, -2.0], 0.5, 'undecided', False),
    ('on_par', [0.01, -0.01, 0.02, -0.02, 0.0], 1.0, 'non-inferior', True),
    ('on_par', [2.0, 2.1, 1.9, 2.05], 1.0, 'non-inferior', False),
    ('on_par', [-2.0, -2.1, -1.9, -2.05], 1.0, 'inferior', False),
    ('on_par', [-1.0, 1.0, 2.0, -2.0], 0.5, 'undecided', False),
])
def test_every_verdict_reachable(kind, values, delta, expected, equivalent):
    c = compare(_d(values), delta=delta, kind=kind)
    assert c.verdict == expected
    assert c.verdict in (VERDICTS_BETTER if kind == 'better' else VERDICTS_ON_PAR)
    assert c.equivalent is equivalent
    assert set(c.p) == ({'superior', 'inferior', 'tost'} if kind == 'better' else {'noninferior', 'inferior'})
    assert c.ci90[0] > c.ci95[0] and c.ci90[1] < c.ci95[1]
    assert (c.n_to_decide is not None) == (expected == 'undecided')


def test_rule_order_superior_before_no_meaningful_gain():
    # a sure but small gain: both the superiority test and TOST pass; superiority comes first
    c = compare(_d([0.5, 0.51, 0.49, 0.5, 0.52]), delta=1.0)
    assert c.p['superior'] < 0.05 and c.p['tost'] < 0.05
    assert c.verdict == 'superior'


def test_undecided_on_par_below_the_margin_still_gets_an_n():
    # mean -1.5 delta: only the inferiority test can decide it
    c = compare(_d(_exact(-1.5, 1.0, 3)), delta=1.0, kind='on_par')
    assert c.verdict == 'undecided' and c.n_to_decide is not None


def test_undecided_beyond_1000_seeds():
    c = compare(_d(_exact(0.01, 1.0, 4)), delta=0.001)
    assert c.verdict == 'undecided' and c.n_to_decide is None and '1000' in c.note


# -------------------------------------------------------- CI formulation == p formulation

def test_p_formulation_agrees_with_ci_on_random_inputs():
    rng = np.random.default_rng(1)
    seen = {'better': set(), 'on_par': set()}
    for n in range(2, 11):
        for delta in (0.3, 1.0):
            loc = rng.uniform(-2.5, 2.5, size=(400, 1))
            scale = np.exp(rng.uniform(-3, 1, size=(400, 1)))
            D = loc + scale * rng.standard_normal((400, n))
            mean, sd = D.mean(axis=1), D.std(axis=1, ddof=1)
            h95 = st.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
            h90 = st.t.ppf(0.95, n - 1) * sd / math.sqrt(n)
            for kind in ('better', 'on_par'):
                got = verdicts(D, delta, kind)
                want = [_ci_verdict(kind, m - a, m + a, m - b, m + b, delta)
                        for m, a, b in zip(mean, h95, h90)]
                assert list(got) == want
                seen[kind].update(want)
    assert seen['better'] == set(VERDICTS_BETTER) and seen['on_par'] == set(VERDICTS_ON_PAR)


def test_compare_agrees_with_its_own_ci_and_with_verdicts():
    rng = np.random.default_rng(2)
    for i in range(60):
        n = 2 + i % 7
        D = rng.uniform(-1, 1) + np.exp(rng.uniform(-2, 0.5)) * rng.standard_normal(n)
        for kind in ('better', 'on_par'):
            c = compare(_d(D), 0.5, kind, permutation=False)
            assert c.verdict == _ci_verdict(kind, *c.ci95, *c.ci90, 0.5)
            assert {t: p < 0.05 for t, p in c.p.items()} == _ci_conditions(kind, c)
            assert c.verdict == verdicts(D[None, :], 0.5, kind)[0]
            first = [t for t in c.p if c.p[t] < 0.05]
            assert (c.verdict == 'undecided') == (not first)


def _ci_conditions(kind, c):
    """Each test's CI condition (the protocol's table), from the comparison's own CIs."""
    (lo95, hi95), (lo90, hi90), d = c.ci95, c.ci90, c.delta
    if kind == 'better':
        return {'superior': lo95 > 0, 'inferior': hi95 < 0, 'tost': lo90 > -d and hi90 < d}
    return {'noninferior': lo90 > -d, 'inferior': hi95 < -d}


@pytest.mark.parametrize('n', [3, 5, 8])
@pytest.mark.parametrize('kind, which', [('better', 'lo95@0'), ('better', 'hi95@0'), ('better', 'lo90@-d'),
                                         ('better', 'hi90@+d'), ('on_par', 'lo90@-d'), ('on_par', 'hi95@-d')])
def test_near_ties_at_each_boundary(n, kind, which, delta=1.0, sd=0.3):
    """A CI bound placed on its threshold (up to rounding), and just inside / outside it: every
    p's side of alpha matches its CI condition, and the verdict the CI rule's."""
    se = sd / math.sqrt(n)
    q = st.t.ppf(0.975 if '95' in which else 0.95, n - 1)
    thr = {'0': 0.0, '-d': -delta, '+d': delta}[which.split('@')[1]]
    sign = -1 if which.startswith('lo') else 1
    # bound = mean + sign * q * se = thr  ->  mean = thr - sign * q * se
    for eps in (0.0, 1e-13, -1e-13, 1e-6, -1e-6):
        mean = thr - sign * q * se + eps
        c = compare(_d(_exact(mean, sd, n)), delta, kind, permutation=False)
        assert {t: p < 0.05 for t, p in c.p.items()} == _ci_conditions(kind, c)
        assert c.verdict == _ci_verdict(kind, *c.ci95, *c.ci90, delta)
        if abs(eps) == 1e-6:   # clearly on one side: known answer
            bound = (c.ci95 if '95' in which else c.ci90)[0 if sign < 0 else 1]
            assert (bound > thr) == (eps > 0)
            test = {'lo95@0': 'superior', 'hi95@0': 'inferior', 'hi95@-d': 'inferior'}.get(which)
            test = test or ('tost' if kind == 'better' else 'noninferior')
            passes = (bound > thr) if which.startswith('lo') else (bound < thr)
            assert (c.p[test] < 0.05) == passes


def test_ties_with_zero_sd():
    # CI95 = (0, 0): 0 > 0 is false, so not superior; the CI90 lies inside the margin
    c = compare(_d([0.0] * 4), delta=0.5)
    assert c.ci95 == (0.0, 0.0) and c.ci90 == (0.0, 0.0)
    assert c.p == {'superior': 1.0, 'inferior': 1.0, 'tost': 0.0} and c.verdict == 'no meaningful gain'
    # mean exactly -delta, sd 0: neither CI90 lower > -delta nor CI95 upper < -delta
    c = compare(_d([-0.5] * 4), delta=0.5, kind='on_par')
    assert c.p == {'noninferior': 1.0, 'inferior': 1.0} and c.verdict == 'undecided'
    assert c.n_to_decide is None
    # mean exactly +delta: superior, but the TOST upper test cannot reject mean >= delta
    c = compare(_d([0.5] * 4), delta=0.5)
    assert c.verdict == 'superior' and c.p['tost'] == 1.0 and c.p['superior'] == 0.0


def test_aa_control_is_no_meaningful_gain():
    vals = {s: v for s, v in zip(range(7), [70.1, 70.3, 69.8, 70.0, 70.2, 69.9, 70.05])}
    d = paired_differences(vals, dict(vals))
    c = compare(d, delta=0.25)
    assert c.sd == 0.0 and c.mean == 0.0 and c.ci95 == (0.0, 0.0) and c.ci90 == (0.0, 0.0)
    assert c.verdict == 'no meaningful gain' and c.n_to_decide is None
    assert c.mde == 0.0 and c.p_perm == pytest.approx(1.0)
    assert 'sd = 0' in c.note
    # a constant nonzero difference is a certain gain
    c = compare(_d([0.3] * 3), delta=1.0)
    assert c.verdict == 'superior' and c.ci95 == (0.3, 0.3)


# ----------------------------------------------------------------------- pairing by seed

def test_keyed_by_seed_not_position():
    method = {0: 10.0, 1: 20.0, 2: 30.0}
    baseline = {2: 29.0, 1: 19.0, 0: 9.0}          # inserted in the other order
    d = paired_differences(method, baseline)
    assert d == {0: 1.0, 1: 1.0, 2: 1.0} and list(d) == [0, 1, 2]
    assert paired_differences(method, baseline, higher_is_better=False) == {0: -1.0, 1: -1.0, 2: -1.0}
    # lower is better: baseline - method
    assert paired_differences({5: 2.0, 7: 4.0}, {7: 5.0, 5: 1.0}, higher_is_better=False) == {5: -1.0, 7: 1.0}


def test_insertion_order_changes_nothing():
    vals = [0.4, -0.1, 0.9, 0.3, 0.35, 0.6, 0.2]
    seeds = [3, 11, 0, 7, 42, 5, 1]
    fwd = dict(zip(seeds, vals))
    rev = dict(reversed(list(fwd.items())))
    assert list(fwd) != list(rev)
    for kind in ('better', 'on_par'):
        a, b = compare(fwd, 0.5, kind), compare(rev, 0.5, kind)
        assert a == b
        assert list(a.diffs) == sorted(seeds)


def test_mismatched_seeds_raise_naming_them():
    with pytest.raises(ValueError, match=r'missing from baseline: \[2\]') as e:
        paired_differences({0: 1.0, 1: 2.0, 2: 3.0}, {0: 1.0, 1: 2.0, 3: 3.0})
    assert 'missing from method: [3]' in str(e.value)
    with pytest.raises(ValueError, match=r'missing from method: \[4, 9\]'):
        paired_differences({0: 1.0}, {0: 1.0, 9: 2.0, 4: 2.0})
    with pytest.raises(ValueError, match='seed 1'):
        paired_differences({0: 1.0, 1: float('nan')}, {0: 1.0, 1: 2.0})


def test_bad_arguments():
    for bad in (0.0, -1.0, float('nan'), float('inf')):
        with pytest.raises(ValueError, match='delta'):
            compare(_d([1.0, 2.0]), delta=bad)
    with pytest.raises(ValueError, match='kind'):
        compare(_d([1.0, 2.0]), delta=1.0, kind='worse')
    with pytest.raises(ValueError, match='seeds'):
        compare({0: 1.0, 1: float('inf')}, delta=1.0)


@pytest.mark.parametrize('values', [[], [0.7]])
def test_fewer_than_two_seeds(values):
    c = compare(_d(values), delta=1.0)
    assert c.verdict == 'undecided' and 'n < 2' in c.note and c.n == len(values)
    assert c.sd == 0.0 and all(math.isnan(x) for x in c.ci95 + c.ci90)
    assert c.mde is None and c.n_to_decide is None and c.p_perm is None
    c = compare(_d(values), delta=1.0, kind='on_par')
    assert c.verdict == 'undecided'


# -------------------------------------------------------------------------------- floors

def test_floors_replace_diverged_runs_and_count_them():
    vals, diverged = apply_floor({4: 70.0, 1: None, 2: float('nan'), 3: float('inf'), 0: 75.0}, floor=10.0)
    assert vals == {0: 75.0, 1: 10.0, 2: 10.0, 3: 10.0, 4: 70.0}
    assert diverged == [1, 2, 3]
    vals, diverged = apply_floor({0: 1.0, 1: 2.0}, floor=0.0)
    assert vals == {0: 1.0, 1: 2.0} and diverged == []
    # the floor counts against the diverged method
    m, _ = apply_floor({0: 50.0, 1: None, 2: 52.0}, floor=1.0)
    d = paired_differences(m, {0: 49.0, 1: 51.0, 2: 51.0})
    assert d == {0: 1.0, 1: -50.0, 2: 1.0}
    with pytest.raises(ValueError, match='floor'):
        apply_floor({0: 1.0}, floor=float('nan'))


# --------------------------------------------------------------------- permutation p

def test_permutation_p_exact():
    c = compare(_d([1, 2, 3, 4, 5, 6]), delta=1.0)
    assert c.p_perm == pytest.approx(2 / 64, rel=1e-12)
    # five +1 and one -1: P(sum >= 4) = 7/64 over the 64 sign patterns, doubled
    c = compare(_d([1, 1, 1, 1, 1, -1]), delta=1.0)
    assert c.p_perm == pytest.approx(14 / 64, rel=1e-12)
    assert compare(_d([1, 2, 3, 4, 5]), delta=1.0).p_perm is None
    assert compare(_d([1, 2, 3, 4, 5, 6]), delta=1.0, permutation=False).p_perm is None


# --------------------------------------------------------------------------------- Holm

def test_holm_hand_examples():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.2, 0.6]) == pytest.approx([0.4, 0.6])
    assert holm([0.4, 0.5]) == pytest.approx([0.8, 0.8])
    assert holm([0.3]) == pytest.approx([0.3])
    assert holm([0.9, 0.001, 0.5, 0.02]) == pytest.approx([1.0, 0.004, 1.0, 0.06])
    assert holm([]) == []


def test_holm_makes_a_marginal_secondary_row_undecided():
    n = 5
    m_sig = st.t.isf(0.015, n - 1) * 1.0 / math.sqrt(n)      # two-sided p = 0.03 at sd 1
    rows = [compare(_d(_exact(m_sig, 1.0, n)), 0.2),
            compare(_d(_exact(0.3, 1.0, n)), 0.2),
            compare(_d(_exact(-0.2, 1.0, n)), 0.2)]
    assert rows[0].verdict == 'superior' and rows[0].p['superior'] == pytest.approx(0.03, rel=1e-6)
    out = adjust_family(rows)
    assert [r.p for r in out] == [r.p for r in rows]
    assert out[0].p_adjusted['superior'] == pytest.approx(0.09, rel=1e-6)
    assert out[0].verdict == 'undecided' and isinstance(out[0].n_to_decide, int)
    for key in ('superior', 'inferior', 'tost'):
        assert [r.p_adjusted[key] for r in out] == pytest.approx(holm([r.p[key] for r in rows]))
    # a single-row family is its own primary: nothing changes
    assert adjust_family(rows[:1])[0].verdict == 'superior'
    assert adjust_family([]) == []


def test_holm_keeps_a_strong_row_and_drops_equivalence_with_the_verdict():
    strong = compare(_d([2.0, 2.1, 1.9, 2.05]), 1.0)
    marginal = compare(_d(_exact(-1.0 + st.t.isf(0.03, 4) * 0.5 / math.sqrt(5), 0.5, 5)), 1.0, 'on_par')
    assert marginal.verdict == 'non-inferior' and marginal.p['noninferior'] == pytest.approx(0.03, rel=1e-6)
    assert marginal.equivalent is True
    tiny = compare(_d([0.01, -0.01, 0.02, -0.02, 0.0]), 1.0, 'on_par')
    weak = compare(_d(_exact(-1.0, 1.0, 5)), 1.0, 'on_par')
    assert weak.p['noninferior'] == pytest.approx(0.5) and weak.verdict == 'undecided'
    out = adjust_family([strong, marginal, tiny, weak])
    assert out[0].verdict == 'superior' and out[0].p_adjusted['superior'] < 0.05
    # 'noninferior' is adjusted across the three on_par rows: 0.03 is 2nd smallest -> 2 * 0.03
    assert out[1].p_adjusted['noninferior'] == pytest.approx(0.06, rel=1e-6)
    assert out[1].verdict == 'undecided' and out[1].equivalent is False
    assert out[2].verdict == 'non-inferior' and out[2].equivalent is True
    assert out[3].verdict == 'undecided'


# --------------------------------------------------------------------------- power

def test_mde_known_values_and_shape():
    # paired t, alpha 0.05 two-sided, power 0.8, n = 10: effect size 0.9960 (checked by integrating
    # P(|Z + d sqrt(n)| > t_crit sqrt(V / 9)) over V ~ chi2(9), without the noncentral t)
    assert mde(1.0, 10) == pytest.approx(0.9960, abs=5e-4)
    # large n: the normal approximation (z_0.975 + z_0.8) / sqrt(n)
    assert mde(1.0, 1000) == pytest.approx((1.959964 + 0.841621) / math.sqrt(1000), rel=0.005)
    ms = [mde(1.0, n) for n in (3, 4, 8, 16, 32)]
    assert all(a > b for a, b in zip(ms, ms[1:]))
    assert mde(2.5, 8) == pytest.approx(2.5 * mde(1.0, 8), rel=1e-9)
    assert mde(1.0, 1) is None and mde(0.0, 5) == 0.0
    c = compare(_d([1.0, 2.0, 3.0, 2.5]), 1.0)
    assert c.mde == pytest.approx(mde(c.sd, 4))


def test_power_at_the_mde_is_80_percent():
    rng = np.random.default_rng(3)
    n, sd, reps = 8, 1.3, 2000
    eff = mde(sd, n)
    D = eff + sd * rng.standard_normal((reps, n))
    t = D.mean(axis=1) / (D.std(axis=1, ddof=1) / math.sqrt(n))
    rate = np.mean(np.abs(t) > st.t.ppf(0.975, n - 1))
    assert rate == pytest.approx(0.8, abs=0.035)


# -------------------------------------------------------------------------- simulations

REPS = 2000


def _simulate(mean, sd, n, delta, kind='better', seed=0):
    rng = np.random.default_rng(seed)
    return verdicts(mean + sd * rng.standard_normal((REPS, n)), delta, kind)


def test_true_zero_effect_is_rarely_superior():
    v = _simulate(0.0, 1.0, 8, delta=1.0, seed=10)
    bound = 0.025 + 3 * math.sqrt(0.025 * 0.975 / REPS)
    assert np.mean(v == 'superior') <= bound
    assert np.mean(v == 'inferior') <= bound


def test_true_effect_of_two_deltas_is_mostly_superior():
    v = _simulate(2.0, 1.0, 8, delta=1.0, seed=11)
    assert np.mean(v == 'superior') >= 0.8


def test_true_zero_effect_small_sd_is_no_meaningful_gain():
    v = _simulate(0.0, 1.0 / 3, 8, delta=1.0, seed=12)
    assert np.mean(v == 'no meaningful gain') >= 0.8
    assert np.mean(v == 'superior') <= 0.025 + 3 * math.sqrt(0.025 * 0.975 / REPS)


def test_verdicts_match_compare_on_simulated_suites():
    rng = np.random.default_rng(13)
    D = 0.4 + rng.standard_normal((40, 6))
    for kind in ('better', 'on_par'):
        v = verdicts(D, 0.5, kind)
        assert list(v) == [compare(_d(row), 0.5, kind, permutation=False).verdict for row in D]


@pytest.mark.parametrize('kind, mean, sd, delta', [
    ('better', 0.5, 1.0, 1.0),        # decided by superiority
    ('better', 0.05, 0.4, 0.3),       # decided by TOST
    ('on_par', -0.4, 1.0, 1.0),       # decided by non-inferiority
    ('on_par', -1.6, 1.0, 1.0),       # decided by inferiority
])
def test_n_to_decide_decides(kind, mean, sd, delta):
    c = compare(_d(_exact(mean, sd, 3)), delta, kind, permutation=False)
    assert c.verdict == 'undecided'
    n = c.n_to_decide
    assert n is not None and 3 < n <= 200
    assert n == n_to_decide(kind, mean, sd, delta)
    v = _simulate(mean, sd, n, delta, kind, seed=14)
    assert np.mean(v != 'undecided') >= 0.7
    # and with half the seeds it decides less often
    v_less = _simulate(mean, sd, max(2, n // 2), delta, kind, seed=15)
    assert np.mean(v_less != 'undecided') < np.mean(v != 'undecided')


def test_n_to_decide_known_values():
    # effect 0.5 sd, two-sided paired t at 0.05: n = 34 for 80 % power (33 gives 0.795; tables)
    assert n_to_decide('better', 0.5, 1.0, delta=0.1) == 34
    assert n_to_decide('better', -1.0, 2.0, delta=0.2) == 34      # symmetric and scale-free
    # non-inferiority, one-sided at 0.05, effect mean + delta = 0.5 sd: n = 27 (26 gives 0.798)
    assert n_to_decide('on_par', -0.5, 1.0, delta=1.0) == 27
    assert n_to_decide('better', 0.5, 0.0, delta=0.1) is None
