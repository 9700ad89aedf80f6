"""How the benchmark decides a claim: paired per-seed differences, confidence intervals with a
stated margin, Holm within a paper, and nothing dropped.

The protocol
------------
* **Pairing by seed.** A claim compares a *method* A with a *baseline* B. Both were run with the
  same reporting seeds; the analysis uses the per-seed differences
  ``d_s = metric(A, s) - metric(B, s)``, matched by the seed number (never by position in a list).
  Differences are always oriented so that *positive means A is better*: for a lower-is-better
  metric (forgetting, loss, time, memory) ``d_s = metric(B, s) - metric(A, s)``. Method and
  baseline must have exactly the same seeds; otherwise the analysis refuses and names the seeds
  that are missing.
* **Nothing is dropped.** A run that diverged (its value is missing, NaN or infinite) scores the
  metric's floor (chance top-1, 0 mAP, ...) and is counted and flagged (:func:`apply_floor`).
* **Verdicts come from the paired mean and its t-based confidence interval** over the n reporting
  seeds (``mean ± t(df=n-1) * sd / sqrt(n)``), with a margin ``delta > 0`` stated per metric: the
  smallest difference that matters.

  "A is better than B" (``kind='better'``), checked in this order:

  1. *superior* if the 95 % CI lies entirely above 0;
  2. *inferior* if the 95 % CI lies entirely below 0;
  3. *no meaningful gain* if the 90 % CI lies inside ``(-delta, +delta)`` (two one-sided tests,
     TOST): any true difference is smaller than the margin;
  4. *undecided* otherwise, reported with the number of seeds that would decide it.

  "A is on par with B" (``kind='on_par'``):

  1. *non-inferior* if the 90 % CI's lower end is above ``-delta`` (flagged *equivalent* as well
     when its upper end is also below ``+delta``);
  2. *inferior* if the 95 % CI lies entirely below ``-delta``;
  3. *undecided* otherwise.

  A verdict never follows from non-significance: "no meaningful gain" and "non-inferior" need a
  CI that positively excludes the large differences; a wide CI is *undecided*.
* **Every verdict is a test with a p-value**, so that several claims can be corrected together.
  With ``G(mu)`` the one-sided paired t-test p-value against the null ``mean <= mu`` and
  ``L(mu)`` the one against ``mean >= mu`` (``scipy.stats.ttest_1samp``):

  ========================  ===========================================  ========================
  test                      p                                            p < 0.05 exactly when
  ========================  ===========================================  ========================
  better: ``superior``      ``2 * G(0)``                                 CI95 lower > 0
  better: ``inferior``      ``2 * L(0)``                                 CI95 upper < 0
  better: ``tost``          ``max(G(-delta), L(+delta))``                CI90 inside (-d, +d)
  on_par: ``noninferior``   ``G(-delta)``                                CI90 lower > -delta
  on_par: ``inferior``      ``2 * L(-delta)``                            CI95 upper < -delta
  ========================  ===========================================  ========================

  (doubled p's are capped at 1). The verdict is the first test in the order above whose p is below
  ``alpha = 0.05``. Unadjusted, this is the CI rule above, exactly: where the two computations
  differ only by rounding (a CI bound within 1e-9 standard errors of its threshold), the p-value is
  nudged to the CI's side of ``alpha``.
* **One primary claim per paper**; its p-values are used as they are. The paper's other claims are
  secondary and Holm-corrected within the paper (:func:`adjust_family`): each test (superior,
  inferior, tost, noninferior) separately across the paper's secondary rows, then the verdict is
  taken again from the adjusted p-values.
* **Also reported**: every per-seed difference; the exact two-sided sign-flip permutation p-value
  of the mean difference (``scipy.stats.permutation_test`` over all ``2**n`` sign patterns; only
  for n >= 6, below that its smallest possible value, ``2 / 2**n``, cannot reach 0.05; for
  n > 16, where enumerating the patterns gets slow, a 100 000-resample Monte Carlo estimate with a
  fixed seed); the minimum detectable effect (:func:`mde`) and, for an undecided row,
  ``n_to_decide``.

Power
-----
``mde`` is the smallest true mean difference that the two-sided alpha = 0.05 paired t-test detects
with 80 % power at this n and the observed sd (noncentral t, ``scipy.stats.nct``; both rejection
tails counted).

``n_to_decide`` (only for an undecided row) is the smallest n in 2..1000 at which, if the true
mean and sd were the observed ones, the row would be decided with at least 80 % power; ``None``
when no n up to 1000 does (or when the row is already decided, or the sd is 0 or unknown):

* ``better``: the larger of (a) the power of the superiority / inferiority test (one-sided at
  alpha/2) at the effect ``|mean|``, and (b) the power of TOST, computed with the standard
  conservative approximation ``P(lower test rejects) + P(upper test rejects) - 1`` (a lower bound
  of the probability that both one-sided tests reject; each term is a noncentral-t probability);
* ``on_par``: the larger of the power of the non-inferiority test (one-sided at alpha) at the
  effect ``mean + delta`` and that of the inferiority test (one-sided at alpha/2) at
  ``-(mean + delta)``; the latter matters only when ``mean < -delta``.

After Holm adjustment (:func:`adjust_family`) a row that is undecided gets its ``n_to_decide`` at
the Bonferroni level ``alpha / m`` (m = family size): reaching it guarantees the Holm-adjusted
p-value is below alpha whatever the other rows do.

Degenerate cases
----------------
* All differences equal (sd = 0, e.g. a bit-identical A/A control): both CIs are the point
  ``(mean, mean)`` and every one-sided p is 0 or 1 depending on which side of its threshold the
  mean is, so an A/A control (mean 0) is *no meaningful gain* for any ``delta > 0``.
* n < 2: no test is possible; every p is 1, the CIs are ``(nan, nan)``, the verdict *undecided*
  and the note says why.
* ``delta <= 0`` (or not finite) raises ``ValueError``, as do seed sets that differ between
  method and baseline.

Only numpy and scipy are needed here.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import optimize, stats

__all__ = ['VERDICTS_BETTER', 'VERDICTS_ON_PAR', 'KINDS', 'TESTS', 'Comparison', 'apply_floor',
           'paired_differences', 'compare', 'verdicts', 'holm', 'adjust_family', 'mde',
           'n_to_decide']

VERDICTS_BETTER = ('superior', 'inferior', 'no meaningful gain', 'undecided')
VERDICTS_ON_PAR = ('non-inferior', 'inferior', 'undecided')
KINDS = ('better', 'on_par')
#: the tests of each kind, in the order in which they decide the verdict, and the verdict each gives
TESTS = {'better': (('superior', 'superior'), ('inferior', 'inferior'), ('tost', 'no meaningful gain')),
         'on_par': (('noninferior', 'non-inferior'), ('inferior', 'inferior'))}

POWER = 0.8
N_MAX = 1000
PERM_MIN_N = 6
PERM_EXACT_MAX_N = 16
PERM_MC_RESAMPLES = 100_000
_TIE_TOL = 1e-9        # CI bound within this many standard errors of its threshold: a rounding tie


# ----------------------------------------------------------------------------------- inputs

def apply_floor(values: Mapping[int, Optional[float]], floor: float) -> Tuple[Dict[int, float], List[int]]:
    """Replace None / non-finite values by ``floor``; returns (values, diverged seeds sorted).

    The returned dict is ordered by seed. ``floor`` must be finite."""
    floor = float(floor)
    if not math.isfinite(floor):
        raise ValueError(f'floor must be finite, got {floor!r}')
    out, diverged = {}, []
    for seed in sorted(values):
        v = values[seed]
        try:
            ok = v is not None and math.isfinite(float(v))
        except (TypeError, ValueError):
            ok = False
        if ok:
            out[seed] = float(v)
        else:
            out[seed] = floor
            diverged.append(seed)
    return out, diverged


def paired_differences(method: Mapping[int, float], baseline: Mapping[int, float],
                       higher_is_better: bool = True) -> Dict[int, float]:
    """d_s in the claim's better direction, keyed by seed (sorted); ValueError on differing seed
    sets or non-finite values.

    ``d_s = method[s] - baseline[s]`` for a higher-is-better metric, ``baseline[s] - method[s]``
    for a lower-is-better one, so a positive difference always favours the method."""
    ms, bs = set(method), set(baseline)
    if ms != bs:
        parts = []
        if bs - ms:
            parts.append(f'missing from method: {sorted(bs - ms)}')
        if ms - bs:
            parts.append(f'missing from baseline: {sorted(ms - bs)}')
        raise ValueError('method and baseline seed sets differ (' + '; '.join(parts) + ')')
    bad = []
    for s in sorted(ms):
        for who, vals in (('method', method), ('baseline', baseline)):
            v = vals[s]
            if v is None or not math.isfinite(float(v)):
                bad.append(f'{who} seed {s} = {v!r}')
    if bad:
        raise ValueError('non-finite values (score diverged runs with apply_floor first): ' + ', '.join(bad))
    if higher_is_better:
        return {s: float(method[s]) - float(baseline[s]) for s in sorted(ms)}
    return {s: float(baseline[s]) - float(method[s]) for s in sorted(ms)}


def _check(delta: float, kind: str, alpha: float) -> float:
    if kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
    try:
        delta = float(delta)
    except (TypeError, ValueError):
        raise ValueError(f'delta (the margin) must be a number > 0, got {delta!r}') from None
    if not (math.isfinite(delta) and delta > 0):
        raise ValueError(f'delta (the margin) must be finite and > 0, got {delta!r}')
    if not (0 < alpha < 0.5):
        raise ValueError(f'alpha must be in (0, 0.5), got {alpha!r}')
    return delta


# ------------------------------------------------------------------------- the tests, vectorised

def _row_stats(D: np.ndarray, delta: float, kind: str, alpha: float) -> dict:
    """Means, sds, CIs and the unadjusted p-values of each row of ``D`` (rows: suites, columns:
    seeds; n >= 2). Everything is an array over rows."""
    with warnings.catch_warnings(), np.errstate(all='ignore'):
        # constant rows make scipy warn (they are replaced below); nothing else here warns
        warnings.simplefilter('ignore', RuntimeWarning)
        return _row_stats_impl(np.asarray(D, dtype=float), delta, kind, alpha)


def _row_stats_impl(D: np.ndarray, delta: float, kind: str, alpha: float) -> dict:
    k, n = D.shape
    if n < 2:
        raise ValueError('n >= 2 needed')
    const = np.all(D == D[:, :1], axis=1)              # sd exactly 0 (bit-identical differences)
    mean = np.where(const, D[:, 0], D.mean(axis=1))
    sd = np.where(const, 0.0, D.std(axis=1, ddof=1))
    se = sd / math.sqrt(n)
    # scipy's t-test on the rows with spread; constant rows get placeholder data, replaced below
    Dv = np.where(const[:, None], np.arange(n, dtype=float)[None, :], D)

    def one_sided(mu: float, greater: bool) -> np.ndarray:
        """p of the one-sided t-test against H0: mean <= mu (greater) / mean >= mu (less)."""
        p = stats.ttest_1samp(Dv, mu, axis=1, alternative='greater' if greater else 'less').pvalue
        p0 = np.where(mean > mu, 0.0, 1.0) if greater else np.where(mean < mu, 0.0, 1.0)
        return np.where(const, p0, np.asarray(p, dtype=float))

    res = stats.ttest_1samp(Dv, 0.0, axis=1)

    def ci(level: float) -> Tuple[np.ndarray, np.ndarray]:
        c = res.confidence_interval(confidence_level=level)
        return (np.where(const, mean, np.asarray(c.low, dtype=float)),
                np.where(const, mean, np.asarray(c.high, dtype=float)))

    ci95, ci90 = ci(0.95), ci(0.90)
    # the CIs that the tests at this alpha correspond to (the 95 % / 90 % ones when alpha = 0.05)
    ci2, ci1 = (ci95, ci90) if alpha == 0.05 else (ci(1 - alpha), ci(1 - 2 * alpha))
    scale = np.where(const, 0.0, se)

    def snap(p: np.ndarray, bound: np.ndarray, thr: float, above: bool) -> np.ndarray:
        """Make ``p < alpha`` agree with the CI rule where the two differ by rounding only."""
        ci_rejects = bound > thr if above else bound < thr
        tie = np.abs(bound - thr) <= _TIE_TOL * scale
        p = np.where(tie & ci_rejects & ~(p < alpha), np.nextafter(alpha, 0.0), p)
        return np.where(tie & ~ci_rejects & (p < alpha), alpha, p)

    def doubled(p: np.ndarray) -> np.ndarray:
        return np.minimum(1.0, 2.0 * p)

    p = {}
    if kind == 'better':
        # a doubled one-sided p at alpha is the one-sided test at alpha/2: the (1 - alpha) CI
        p['superior'] = snap(doubled(one_sided(0.0, True)), ci2[0], 0.0, True)
        p['inferior'] = snap(doubled(one_sided(0.0, False)), ci2[1], 0.0, False)
        lo = snap(one_sided(-delta, True), ci1[0], -delta, True)
        hi = snap(one_sided(delta, False), ci1[1], delta, False)
        p['tost'] = np.maximum(lo, hi)
    else:
        p['noninferior'] = snap(one_sided(-delta, True), ci1[0], -delta, True)
        p['inferior'] = snap(doubled(one_sided(-delta, False)), ci2[1], -delta, False)
    return {'mean': mean, 'sd': sd, 'se': se, 'ci95': ci95, 'ci90': ci90, 'p': p,
            'equivalent': (ci1[0] > -delta) & (ci1[1] < delta)}


def _verdict(kind: str, p: Mapping[str, float], alpha: float) -> str:
    for test, verdict in TESTS[kind]:
        if p[test] < alpha:
            return verdict
    return 'undecided'


def verdicts(D, delta: float, kind: str = 'better', alpha: float = 0.05) -> np.ndarray:
    """Unadjusted verdicts for many suites at once: ``D`` is an array (suites x seeds) of paired
    differences (already in the better direction). Same rule as :func:`compare`, without the
    permutation p and power; meant for simulations."""
    delta = _check(delta, kind, alpha)
    D = np.atleast_2d(np.asarray(D, dtype=float))
    if not np.all(np.isfinite(D)):
        raise ValueError('non-finite differences (score diverged runs with apply_floor first)')
    if D.shape[1] < 2:
        return np.full(D.shape[0], 'undecided', dtype=object)
    r = _row_stats(D, delta, kind, alpha)
    out = np.full(D.shape[0], 'undecided', dtype=object)
    decided = np.zeros(D.shape[0], dtype=bool)
    for test, verdict in TESTS[kind]:
        hit = (r['p'][test] < alpha) & ~decided
        out[hit] = verdict
        decided |= hit
    return out


# --------------------------------------------------------------------------------- power

def _nct_sf(x, df, nc):
    """P(T' > x) for the noncentral t; where scipy's value is NaN (far tails), 1 - cdf."""
    with np.errstate(all='ignore'), warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        sf = stats.nct.sf(x, df, nc)
        bad = np.isnan(sf)
        if np.any(bad):
            sf = np.where(bad, 1.0 - stats.nct.cdf(x, df, nc), sf)
    return np.clip(np.nan_to_num(sf, nan=0.0), 0.0, 1.0)


def _nct_cdf(x, df, nc):
    """P(T' <= x) for the noncentral t, by its symmetry P(T'(nc) <= x) = P(T'(-nc) > -x)."""
    return _nct_sf(-np.asarray(x), df, -np.asarray(nc))


def _power_two_sided(nc, df, q):
    """Power of the two-sided t-test with critical value ``q`` at noncentrality ``nc``."""
    return float(_nct_sf(q, df, nc) + _nct_cdf(-q, df, nc))


def mde(sd: float, n: int, alpha: float = 0.05, power: float = POWER) -> Optional[float]:
    """Minimum detectable effect: the smallest true mean difference the two-sided paired t-test
    at ``alpha`` detects with probability ``power`` at this n and sd (noncentral t; both tails).
    ``None`` when n < 2 or sd is not finite / negative; 0.0 when sd == 0."""
    if n is None or n < 2 or sd is None or not math.isfinite(sd) or sd < 0:
        return None
    if sd == 0:
        return 0.0
    df = n - 1
    q = stats.t.ppf(1 - alpha / 2, df)

    def f(nc):
        return _power_two_sided(nc, df, q) - power

    hi = 10.0
    while f(hi) < 0:
        hi *= 2
        if hi > 1e6:
            return None
    nc = optimize.brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-12)
    return float(nc * sd / math.sqrt(n))


def _decide_power(kind: str, mean: float, sd: float, delta: float, alpha: float, ns: np.ndarray) -> np.ndarray:
    """Power of deciding the row at each n in ``ns``, if the true mean and sd were these."""
    df = ns - 1.0
    root = np.sqrt(ns) / sd
    q2 = stats.t.ppf(1 - alpha / 2, df)     # the doubled one-sided tests
    q1 = stats.t.ppf(1 - alpha, df)         # the plain one-sided tests
    if kind == 'better':
        sig = _nct_sf(q2, df, abs(mean) * root)
        lower = _nct_sf(q1, df, (mean + delta) * root)
        upper = _nct_cdf(-q1, df, (mean - delta) * root)
        tost = np.maximum(0.0, lower + upper - 1.0)
        return np.maximum(sig, tost)
    ni = _nct_sf(q1, df, (mean + delta) * root)
    inf = _nct_cdf(-q2, df, (mean + delta) * root)
    return np.maximum(ni, inf)


def n_to_decide(kind: str, mean: float, sd: float, delta: float, alpha: float = 0.05,
                power: float = POWER, n_max: int = N_MAX) -> Optional[int]:
    """The smallest n in 2..n_max at which a row with this true mean and sd is decided with
    probability >= ``power`` (see the module docstring); ``None`` when none is (or sd is 0)."""
    delta = _check(delta, kind, alpha)
    if not (math.isfinite(mean) and math.isfinite(sd)) or sd <= 0:
        return None
    lo = 2
    for hi in (16, 64, 256, n_max):     # every n is tried, in blocks (the small ones are common)
        hi = min(hi, n_max)
        if hi < lo:
            continue
        ns = np.arange(lo, hi + 1, dtype=float)
        ok = np.nonzero(_decide_power(kind, mean, sd, delta, alpha, ns) >= power)[0]
        if ok.size:
            return int(ns[ok[0]])
        lo = hi + 1
    return None


# ------------------------------------------------------------------------ one comparison

@dataclass(frozen=True)
class Comparison:
    kind: str            # 'better' | 'on_par'
    delta: float
    diffs: dict          # seed -> d
    n: int
    mean: float
    sd: float            # sample sd (ddof=1); 0.0 when n < 2
    se: float
    ci95: tuple          # (lo, hi); (nan, nan) when n < 2
    ci90: tuple
    p: dict              # test name -> unadjusted p ('superior','inferior','tost' | 'noninferior','inferior')
    p_adjusted: dict     # same keys, Holm-adjusted within the family (== p for a primary / unadjusted row)
    p_perm: Optional[float]
    verdict: str
    equivalent: bool     # on_par: CI90 within (-delta, delta)
    mde: Optional[float]
    n_to_decide: Optional[int]
    note: str            # e.g. 'n < 2', or ''


def _perm_p(d: np.ndarray) -> Optional[float]:
    n = d.size
    if n < PERM_MIN_N:
        return None

    def statistic(x, axis):
        return np.mean(x, axis=axis)

    kw = {'n_resamples': np.inf}
    if n > PERM_EXACT_MAX_N:
        kw = {'n_resamples': PERM_MC_RESAMPLES, 'rng': np.random.default_rng(0)}
    kw.update(permutation_type='samples', vectorized=True, batch=1 << 15, alternative='two-sided')
    try:
        res = stats.permutation_test((d,), statistic, **kw)
    except TypeError:     # scipy < 1.15 calls the generator argument random_state
        if 'rng' not in kw:
            raise
        kw['random_state'] = kw.pop('rng')
        res = stats.permutation_test((d,), statistic, **kw)
    return float(res.pvalue)


def compare(diffs: Mapping[int, float], delta: float, kind: str = 'better', alpha: float = 0.05,
            permutation: bool = True) -> Comparison:
    """Analyse one claim from its per-seed differences (already in the better direction, see
    :func:`paired_differences`). ``permutation=False`` skips the sign-flip p (``p_perm=None``)."""
    delta = _check(delta, kind, alpha)
    seeds = sorted(diffs)
    d = np.array([float(diffs[s]) for s in seeds], dtype=float)
    if not np.all(np.isfinite(d)):
        bad = [s for s, v in zip(seeds, d) if not math.isfinite(v)]
        raise ValueError(f'non-finite differences at seeds {bad} (score diverged runs with apply_floor first)')
    diffs = {s: float(v) for s, v in zip(seeds, d)}
    n = d.size
    keys = [t for t, _ in TESTS[kind]]
    if n < 2:
        p = {t: 1.0 for t in keys}
        nan2 = (float('nan'), float('nan'))
        return Comparison(kind=kind, delta=delta, diffs=diffs, n=n,
                          mean=float(d[0]) if n else float('nan'), sd=0.0, se=float('nan'),
                          ci95=nan2, ci90=nan2, p=p, p_adjusted=dict(p), p_perm=None,
                          verdict='undecided', equivalent=False, mde=None, n_to_decide=None,
                          note=f'n < 2 (n = {n}): no test possible')
    r = _row_stats(d[None, :], delta, kind, alpha)
    p = {t: float(r['p'][t][0]) for t in keys}
    mean, sd, se = float(r['mean'][0]), float(r['sd'][0]), float(r['se'][0])
    verdict = _verdict(kind, p, alpha)
    notes = []
    if sd == 0:
        notes.append('sd = 0: all differences equal')
    ntd = None
    if verdict == 'undecided':
        ntd = n_to_decide(kind, mean, sd, delta, alpha)
        if ntd is None and sd > 0:
            notes.append(f'undecided: more than {N_MAX} seeds needed')
    return Comparison(kind=kind, delta=delta, diffs=diffs, n=n, mean=mean, sd=sd, se=se,
                      ci95=(float(r['ci95'][0][0]), float(r['ci95'][1][0])),
                      ci90=(float(r['ci90'][0][0]), float(r['ci90'][1][0])),
                      p=p, p_adjusted=dict(p), p_perm=_perm_p(d) if permutation else None,
                      verdict=verdict,
                      equivalent=bool(kind == 'on_par' and verdict == 'non-inferior' and r['equivalent'][0]),
                      mde=mde(sd, n, alpha), n_to_decide=ntd, note='; '.join(notes))


# ------------------------------------------------------------------------------- families

def holm(pvalues: Sequence[float]) -> List[float]:
    """Holm's step-down adjustment, in input order: with the p's sorted ascending,
    ``adj_(k) = max_{j<=k} min(1, (m - j) * p_(j))`` (0-based)."""
    p = [float(x) for x in pvalues]
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    running = 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (m - j) * p[i]))
        out[i] = running
    return out


def adjust_family(comparisons: Sequence[Comparison], alpha: float = 0.05) -> List[Comparison]:
    """Holm within one paper's secondary rows: returns new Comparisons with p_adjusted and verdict
    recomputed (dataclasses.replace).

    Each test name (superior / inferior / tost / noninferior) is adjusted separately across the
    rows that have it. ``equivalent`` stays set only on rows still non-inferior; an undecided row
    gets ``n_to_decide`` at the Bonferroni level ``alpha / m``."""
    rows = list(comparisons)
    m = len(rows)
    adjusted = [dict() for _ in rows]
    names = []
    for c in rows:
        for t in c.p:
            if t not in names:
                names.append(t)
    for t in names:
        idx = [i for i, c in enumerate(rows) if t in c.p]
        for i, a in zip(idx, holm([rows[i].p[t] for i in idx])):
            adjusted[i][t] = a
    out = []
    for c, padj in zip(rows, adjusted):
        verdict = _verdict(c.kind, padj, alpha)
        ntd, note = None, c.note
        if verdict == 'undecided' and c.n >= 2:
            ntd = n_to_decide(c.kind, c.mean, c.sd, c.delta, alpha / max(m, 1))
            more = f'undecided: more than {N_MAX} seeds needed'
            if ntd is None and c.sd > 0 and more not in note:
                note = '; '.join([x for x in (note, more) if x])
        out.append(replace(c, p_adjusted=padj, verdict=verdict, n_to_decide=ntd, note=note,
                           equivalent=bool(c.equivalent and verdict == 'non-inferior')))
    return out
