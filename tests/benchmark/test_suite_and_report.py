"""The benchmark's pure logic (protocol v2) on constructed results: search spaces with an equal
budget, winner selection with ties and diverged runs, admission, margins, floors, time to
target, claim verdicts keyed by seed with Holm, exploratory tasks, the shipped suite files."""
import math

import pytest

from dualopt_mm.benchmark import configurations, load_suite, reporting_cells, suite_from_dict, tuning_cells
from dualopt_mm.benchmark.analysis import (column_value, evaluate_claims, freeze_tuning, iters_to_target,
                                           TuningIncomplete)
from dualopt_mm.benchmark.suite import Method

UP = dict(config='classification/resnet18_upstream.py', checkpoint='checkpoints/upstream_resnet18.pth')
_pre = dict(pretrained_prefixes=['backbone'])


def _suite(reporting=(0, 1, 2, 3, 4, 5), admission=(40.0, 20.0)):
    return suite_from_dict(dict(
        name='t', upstream=UP, seeds=dict(tuning=[100, 101], reporting=list(reporting)),
        search=dict(budget=2), margins={'accuracy/top1': 1.5, 'forgetting': 1.5, 'iters_to_target': dict(relative=0.1)},
        methods=dict(
            adamw=dict(optimizer=dict(type='AdamW'), paramwise_cfg=_pre, space=dict(lr=[1e-3, 2e-3]),
                       defaults=dict(lr=1e-3)),
            dualopt=dict(optimizer=dict(type='DualOptAdamW'), paramwise_cfg=_pre,
                         space=dict(lr=[1e-3], rollback=[0.01, 0.05])),
            spd=dict(optimizer=dict(type='SPDAdamW'), paramwise_cfg=_pre, space=dict(lr=[1e-3, 2e-3])),
            aa=dict(optimizer=dict(type='L2SPAdamW'), paramwise_cfg=_pre, copy_setting_from='adamw',
                    defaults=dict(sp_alpha=0.0))),
        tasks=dict(cls=dict(config='classification/resnet18_shapes.py', regime='finetune', metric='accuracy/top1',
                            methods=['adamw', 'dualopt', 'spd', 'aa'], baseline='adamw', forgetting=True,
                            admission=dict(reference=admission[0], trivial=admission[1]))),
        claims=[dict(paper='P', claim='dualopt better', method='dualopt', baseline='adamw', tasks=['cls'],
                     column='metric', primary=True),
                dict(paper='P', claim='dualopt forgets less', method='dualopt', baseline='adamw', tasks=['cls'],
                     column='forgetting'),
                dict(paper='P', claim='spd better', method='spd', baseline='adamw', tasks=['cls'], column='metric'),
                dict(paper='Q', claim='aa', method='aa', baseline='adamw', tasks=['cls'], column='metric',
                     primary=True)]))


def _result(cell, val=None, test=None, drop=None, diverged=False, curve=None):
    r = {'id': cell.id, **cell.spec(), 'spec_hash': cell.spec_hash, 'diverged': diverged,
         'cost': {'iters': 10, 'max_iters': 10, 'train_s': 5.0, 'step_ms': 1.0, 'peak_mem_mb': 1.0,
                  'optimizer_state_mb': 1.0},
         'curves': {'loss': curve or [[2, 2.0], [4, 1.5], [6, 1.0], [8, 0.8], [10, 0.7]]}}
    if diverged and cell.phase == 'reporting':
        r['forgetting'] = {'pretrained_top1': 70.0, 'pretrained_top1_bn': 70.0, 'drop': None, 'drop_bn': None}
    if val is not None:
        r['val'] = {'accuracy/top1': val}
    if test is not None:
        r['test'] = {'accuracy/top1': test}
        r['ood'] = {'accuracy/top1': test - 10}
        r['forgetting'] = {'drop': drop, 'drop_bn': drop, 'pretrained_top1': 70.0, 'pretrained_top1_bn': 70.0}
    return r


def _tuned(suite, scores):
    """scores: (method, tag) -> {seed: val}."""
    res = {}
    for c in tuning_cells(suite):
        v = scores.get((c.method, c.tag), {}).get(c.seed, 30.0)
        res[c.id] = _result(c, val=v, diverged=v is None)
    return res


def test_every_tuned_method_gets_the_same_budget_of_its_own_knobs():
    s = _suite()
    cells = tuning_cells(s)
    per = {}
    for c in cells:
        if c.tag != 'default':
            per.setdefault(c.method, set()).add(c.tag)
    assert per == {'adamw': {'c0', 'c1'}, 'dualopt': {'c0', 'c1'}, 'spd': {'c0', 'c1'}}
    assert {c.settings['rollback'] for c in cells if c.method == 'dualopt'} == {0.01, 0.05}
    assert [c for c in cells if c.method == 'aa'] == []
    assert sorted({c.seed for c in cells}) == [100, 101]
    # quasi-random points: deterministic, inside the ranges, log-spaced knobs positive
    m = Method('x', {'type': 'SGD'}, space={'lr': {'low': 1e-3, 'high': 1e-1}, 'nesterov': [False, True]})
    pts = configurations(m, 8, 'halton')
    assert pts == configurations(m, 8, 'halton') and len(pts) == 8
    assert all(1e-3 <= p['lr'] <= 1e-1 for p in pts) and {p['nesterov'] for p in pts} == {False, True}


def test_winners_mean_over_tuning_seeds_ties_first_and_diverged_at_the_floor():
    s = _suite()
    with pytest.raises(TuningIncomplete):
        freeze_tuning(s, {})
    res = _tuned(s, {('adamw', 'c0'): {100: 35.0, 101: 33.0}, ('adamw', 'c1'): {100: 40.0, 101: 20.0},
                     # dualopt: c1 would win on seed 100, but it diverged on 101 (floor 20)
                     ('dualopt', 'c0'): {100: 32.0, 101: 32.0}, ('dualopt', 'c1'): {100: 50.0, 101: None},
                     ('spd', 'c0'): {100: 31.0, 101: 31.0}, ('spd', 'c1'): {100: 31.0, 101: 31.0}})
    t = freeze_tuning(s, res)['tasks']['cls']
    assert t['methods']['adamw']['winner']['tag'] == 'c0'      # 34 vs 30
    assert t['methods']['dualopt']['winner']['tag'] == 'c1'    # (50 + 20) / 2 = 35 > 32
    assert t['methods']['dualopt']['configs'][1]['diverged'] == [101]
    assert t['methods']['dualopt']['configs'][1]['no_metric'] == []
    assert t['methods']['spd']['winner']['tag'] == 'c0'        # tie: the first
    assert t['methods']['adamw']['defaults']['mean'] == 30.0
    # admission: half-way from 20 to 40 = 30; AdamW's winner scores 34
    assert t['admission']['level'] == 30.0 and t['status'] == 'confirmatory'
    # relative margins are frozen from the baseline's tuning mean; iterations as a log ratio
    assert t['margins']['accuracy/top1'] == 1.5 and t['margins']['iters_to_target'] == pytest.approx(math.log(1.1))
    assert t['loss_target'] == pytest.approx(1.0)  # the baseline's block loss at half its schedule
    low = freeze_tuning(_suite(admission=(100.0, 20.0)), res)['tasks']['cls']
    assert low['status'] == 'exploratory' and not low['admission']['admitted']


def test_floors_and_time_to_target():
    s = _suite()
    task = s.task('cls')
    tuned = {'loss_target': 1.0}
    c = reporting_cells(s, {'tasks': {'cls': {'methods': {m: {'winner': {'setting': {'lr': 1e-3}}}
                                                          for m in ('adamw', 'dualopt', 'spd')}}}})[0]
    ok = _result(c, test=50.0, drop=3.0)
    bad = _result(c, diverged=True)
    assert column_value(ok, 'metric', task, tuned) == (50.0, False)
    assert column_value(bad, 'metric', task, tuned) == (20.0, True)          # the trivial level
    assert column_value(bad, 'forgetting', task, tuned) == (50.0, True)      # 70 -> chance 20
    assert column_value(ok, 'ood_gap', task, tuned) == (-10.0, False)
    assert column_value(ok, 'iters_to_target', task, tuned) == (6.0, False)
    assert column_value(bad, 'iters_to_target', task, tuned) == (10.0, True)  # censored
    assert iters_to_target([[5, 2.0], [10, 1.9]], 1.0, 10) == (10, True)
    assert column_value(ok, 'seconds_to_target', task, tuned)[0] == pytest.approx(3.0)


def _reported(s, tuning, values):
    """values: method -> {seed: (test, drop)}."""
    res = {}
    for c in reporting_cells(s, tuning):
        t, d = values[c.method][c.seed]
        res[c.id] = _result(c, test=t, drop=d)
    return res


def test_claims_are_paired_by_seed_with_holm_and_exploratory_rows():
    s = _suite()
    tuning = freeze_tuning(s, _tuned(s, {('adamw', 'c0'): {100: 35.0, 101: 35.0}}))
    base = {k: (40.0 + 3 * k, 10.0 + k) for k in range(6)}            # large seed-to-seed spread
    values = {'adamw': base,
              'dualopt': {k: (v + 2.0 + 0.1 * (-1) ** k, d - 0.2) for k, (v, d) in base.items()},  # +2 paired
              'spd': {k: (v + 0.05 * (-1) ** k, d) for k, (v, d) in base.items()},            # no effect
              'aa': dict(base)}                                                             # identical
    rows = evaluate_claims(s, tuning, _reported(s, tuning, values))
    by = {r['claim']: r for r in rows}
    assert by['dualopt better']['verdict'] == 'superior'     # paired: the spread between seeds cancels
    assert by['dualopt better']['comparison'].diffs == {k: pytest.approx(2.0 + 0.1 * (-1) ** k) for k in range(6)}
    assert by['spd better']['verdict'] == 'no meaningful gain'
    assert by['aa']['verdict'] == 'no meaningful gain'
    # forgetting 0.2 lower everywhere: significant, but within the margin; secondary rows are Holm-adjusted
    fl = by['dualopt forgets less']['comparison']
    assert set(fl.p_adjusted) == set(fl.p) and all(fl.p_adjusted[k] >= fl.p[k] for k in fl.p)
    # the same data on an exploratory task decides nothing
    s2 = _suite(admission=(100.0, 20.0))
    t2 = freeze_tuning(s2, _tuned(s2, {('adamw', 'c0'): {100: 35.0, 101: 35.0}}))
    rows2 = evaluate_claims(s2, t2, _reported(s2, t2, values))
    assert all(r['verdict'].startswith('exploratory') for r in rows2)


def test_seed_keyed_pairing_ignores_storage_order():
    s = _suite()
    tuning = freeze_tuning(s, _tuned(s, {}))
    base = {k: (40.0 + k, 1.0) for k in range(6)}
    values = {'adamw': base, 'dualopt': {k: (v + 1.0 * k, 1.0) for k, (v, _) in base.items()},
              'spd': base, 'aa': base}
    res = _reported(s, tuning, values)
    reordered = dict(reversed(list(res.items())))
    a = evaluate_claims(s, tuning, res)
    b = evaluate_claims(s, tuning, reordered)
    assert [r['comparison'].diffs for r in a] == [r['comparison'].diffs for r in b]
    assert a[0]['comparison'].diffs == {k: pytest.approx(float(k)) for k in range(6)}


@pytest.mark.parametrize('name', ['demo', 'mini', 'full'])
def test_shipped_suite_files_load_and_state_their_claims(name):
    s = load_suite(name)
    assert s.claims and set(s.tuning_seeds).isdisjoint(s.reporting_seeds)
    papers = {c.paper for c in s.claims}
    assert all(sum(c.primary for c in s.claims if c.paper == p) == 1 for p in papers)
    for t in s.tasks:
        assert t.baseline in t.methods
    assert tuning_cells(s)


def test_a_run_without_a_metric_scores_the_floor_and_is_not_called_diverged():
    """A detector that detects nothing gets no COCO metric at all: 0 mAP, flagged 'no metric'."""
    s = _suite()
    res = _tuned(s, {})
    cid = 'cls__adamw__c1__s100'
    res[cid]['val'] = {}
    t = freeze_tuning(s, res)['tasks']['cls']['methods']['adamw']['configs'][1]
    assert t['scores']['100'] == 20.0 and t['no_metric'] == [100] and t['diverged'] == []
