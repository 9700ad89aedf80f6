"""The benchmark's pure logic: matrix expansion, lr selection, aggregation and claim verdicts."""
import math

import pytest

from dualopt_mm.benchmark import Method, Suite, Task, cell_id, expand, planned_count, select_lr
from dualopt_mm.benchmark import demo_suite, full_suite, mini_suite
from dualopt_mm.benchmark.report import claims, mean_std, summarize, verdict

UP = ('classification/resnet18_upstream.py', 'checkpoints/upstream_resnet18.pth')


def _suite(seeds=(0, 1, 2)):
    ft = Task('cls', 'finetune', 'classification/resnet18_shapes.py', 'accuracy/top1',
              (Method('adamw', (1e-3, 3e-3)), Method('dualopt_adamw', (1e-3,)), Method('spd_adamw', (1e-4, 1e-3))),
              baseline='adamw', length=1, forgetting=True)
    sc = Task('cls', 'scratch', 'classification/resnet18_shapes.py', 'accuracy/top1',
              (Method('sgd', (0.1,)),), baseline='sgd', length=1, ood=False)
    return Suite('t', (ft, sc), seeds=seeds, upstream=UP)


def _result(task, method, lr, seed, val, ood=None, drop=None, loss=1.0):
    r = {'id': cell_id(task, method, lr, seed), 'task': task, 'method': method, 'lr': lr, 'seed': seed,
         'regime': task.split('-')[1], 'config': 'x.py', 'val': {'accuracy/top1': val},
         'cost': {'iters': 4, 'train_s': 1.0, 'eval_s': 0.5, 'step_ms': 2.0, 'peak_mem_mb': 10.0,
                  'optimizer_state_mb': 1.0},
         'curves': {'loss': [[1, loss], [2, loss], [3, loss / 2], [4, loss / 2]], 'backbone_dist': []},
         'env': {'machine': 'm', 'threads': 1, 'torch': 't', 'commit': 'c'}}
    if ood is not None:
        r['ood'] = {'accuracy/top1': ood}
    if drop is not None:
        r['forgetting'] = {'drop': drop, 'upstream_top1': 50 - drop, 'pretrained_top1': 50}
    return r


def test_expansion_grid_first_then_seeds_at_the_winner():
    s = _suite()
    cells = expand(s)
    # grid at the first seed only; single-lr methods know all their seeds at once
    ids = {c.id for c in cells}
    assert ids == {cell_id('cls-finetune', 'adamw', 1e-3, 0), cell_id('cls-finetune', 'adamw', 3e-3, 0),
                   cell_id('cls-finetune', 'spd_adamw', 1e-4, 0), cell_id('cls-finetune', 'spd_adamw', 1e-3, 0),
                   *(cell_id('cls-finetune', 'dualopt_adamw', 1e-3, k) for k in range(3)),
                   *(cell_id('cls-scratch', 'sgd', 0.1, k) for k in range(3))}
    assert planned_count(s) == (2 + 2) + (1 + 2) + (2 + 2) + (1 + 2)
    assert {c.config for c in cells if c.method == 'adamw'} == {
        'classification/optimizers/resnet18_shapes_adamw.py'}
    # one grid cell finished: still undecided
    res = {r['id']: r for r in [_result('cls-finetune', 'adamw', 1e-3, 0, 40.0)]}
    assert select_lr(s.tasks[0], s.tasks[0].methods[0], res, 0) is None
    res.update({r['id']: r for r in [_result('cls-finetune', 'adamw', 3e-3, 0, 45.0)]})
    assert select_lr(s.tasks[0], s.tasks[0].methods[0], res, 0) == 3e-3
    ids = {c.id for c in expand(s, res)}
    assert cell_id('cls-finetune', 'adamw', 3e-3, 1) in ids and cell_id('cls-finetune', 'adamw', 3e-3, 2) in ids
    assert cell_id('cls-finetune', 'adamw', 1e-3, 1) not in ids
    assert len(expand(s, res)) == len(cells) + 2


def test_selection_ties_and_diverged_runs():
    s = _suite()
    t, m = s.tasks[0], s.tasks[0].methods[0]
    tie = {r['id']: r for r in [_result('cls-finetune', 'adamw', 1e-3, 0, 40.0),
                                _result('cls-finetune', 'adamw', 3e-3, 0, 40.0)]}
    assert select_lr(t, m, tie, 0) == 1e-3  # first in the grid
    nan = {r['id']: r for r in [_result('cls-finetune', 'adamw', 1e-3, 0, float('nan')),
                                _result('cls-finetune', 'adamw', 3e-3, 0, 1.0)]}
    assert select_lr(t, m, nan, 0) == 3e-3


def test_suite_validation_names_the_problem():
    with pytest.raises(ValueError, match='baseline'):
        Task('a', 'finetune', 'c.py', 'm', (Method('x', (1.0,)),), baseline='y')
    with pytest.raises(ValueError, match='regime'):
        Task('a', 'transfer', 'c.py', 'm', (Method('x', (1.0,)),), baseline='x')
    with pytest.raises(ValueError, match='lrs'):
        Method('x', (0.0,))
    with pytest.raises(ValueError, match='forgetting'):
        Task('a', 'scratch', 'c.py', 'm', (Method('x', (1.0,)),), baseline='x', forgetting=True)
    t = Task('a', 'finetune', 'c.py', 'm', (Method('x', (1.0,)),), baseline='x')
    with pytest.raises(ValueError, match='upstream'):
        Suite('s', (t,))
    with pytest.raises(ValueError, match='duplicate'):
        Suite('s', (t, t), upstream=UP)


def test_shipped_suites_expand_to_existing_configs(repo_root):
    import os.path as osp
    for suite in (demo_suite(), mini_suite(), full_suite()):
        cells = expand(suite)
        assert len({c.id for c in cells}) == len(cells)
        for c in cells:
            assert osp.exists(osp.join(repo_root, 'configs', c.config)), c.config
    mini = mini_suite()
    keys = {t.key for t in mini.tasks}
    assert {'classification-finetune', 'detection-finetune', 'instance_seg-finetune', 'semantic_seg-finetune',
            'classification-scratch', 'multi_exit-scratch'} <= keys
    assert mini.seeds == (0, 1, 2)
    # every method of a task gets the same number of lrs: the same search budget
    for t in mini.tasks:
        assert len({len(m.lrs) for m in t.methods}) == 1, t.key


def test_spec_hash_changes_with_the_spec_only():
    s = _suite()
    a = expand(s)[0]
    import dataclasses
    b = dataclasses.replace(a, length=2)
    assert a.id == b.id and a.spec_hash() != b.spec_hash()
    assert a.spec_hash() == dataclasses.replace(a).spec_hash()


def test_mean_std_and_verdicts():
    m, sd, n = mean_std([1.0, 2.0, 3.0, None, float('nan')])
    assert (m, n) == (2.0, 3) and sd == pytest.approx(1.0)
    assert mean_std([]) == (None, None, 0)
    assert verdict([10, 11, 12], [1, 2, 3])[0] == 'reproduced'
    assert verdict([2.5, 3.5, 1.5], [1, 2, 3])[0] == 'inconclusive'
    assert verdict([1, 2, 3], [10, 11, 12])[0] == 'not reproduced'
    assert verdict([1, 2, 3], [1, 2, 3])[0] == 'not reproduced'  # no improvement is not one
    # lower is better: fewer points forgotten
    v, diff, se = verdict([1, 1.1, 0.9], [5, 5.1, 4.9], higher=False)
    assert v == 'reproduced' and diff == pytest.approx(4.0)
    assert verdict([9.0, 10.0, 11.0], [10, 10.5, 9.5], kind='on_par')[0] == 'reproduced'
    assert verdict([1, 2, 3], [10, 11, 12], kind='on_par')[0] == 'not reproduced'
    assert verdict([5.0], [1.0])[0].startswith('inconclusive')
    assert verdict([], [1.0])[0] == 'not run'


def test_summary_uses_the_winning_lr_and_marks_the_best():
    s = _suite()
    rs = [
        # adamw: 3e-3 wins the grid (45 > 40); seeds 1, 2 at 3e-3
        _result('cls-finetune', 'adamw', 1e-3, 0, 40.0, ood=30.0, drop=9.0),
        _result('cls-finetune', 'adamw', 3e-3, 0, 45.0, ood=31.0, drop=10.0),
        _result('cls-finetune', 'adamw', 3e-3, 1, 47.0, ood=33.0, drop=12.0),
        _result('cls-finetune', 'adamw', 3e-3, 2, 46.0, ood=32.0, drop=11.0),
        *(_result('cls-finetune', 'dualopt_adamw', 1e-3, k, 50.0 + k, ood=30.0, drop=2.0 + k) for k in range(3)),
        _result('cls-finetune', 'spd_adamw', 1e-4, 0, 30.0, ood=40.0, drop=1.0),
        _result('cls-finetune', 'spd_adamw', 1e-3, 0, 20.0, ood=50.0, drop=1.0),
        *(_result('cls-finetune', 'spd_adamw', 1e-4, k, 30.0, ood=40.0 + k, drop=1.0) for k in (1, 2)),
    ]
    results = {r['id']: r for r in rs}
    summary = summarize(s, results)
    ft = summary['cls-finetune']
    adamw = ft['methods']['adamw']
    assert adamw['lr'] == 3e-3 and adamw['n'] == 3
    assert adamw['grid'] == {1e-3: 40.0, 3e-3: 45.0}
    m, sd, n = adamw['stats']['val']
    assert m == pytest.approx(46.0) and sd == pytest.approx(1.0) and n == 3
    spd = ft['methods']['spd_adamw']
    assert spd['lr'] == 1e-4  # chosen on val (30 > 20), not on the OOD score
    assert spd['stats']['ood'][0] == pytest.approx(41.0)
    assert ft['best']['val'] == ['dualopt_adamw']
    assert ft['best']['ood'] == ['spd_adamw']
    assert ft['best']['forgetting'] == ['spd_adamw']  # lower is better
    assert set(ft['best']['train_s']) == {'adamw', 'dualopt_adamw', 'spd_adamw'}  # ties all marked
    # unfinished task: nothing selected, nothing invented
    sc = summary['cls-scratch']['methods']['sgd']
    assert sc['n'] == 0 and sc['stats']['val'] == (None, None, 0)
    rows = {(r['claim'], r['task']): r for r in claims(s, summary)}
    better = rows[('DualOpt (rollback): better fine-tuning than AdamW', 'cls-finetune')]
    assert better['verdict'] == 'reproduced' and better['diff'] == pytest.approx(5.0)
    forget = rows[('DualOpt (rollback): less forgetting than AdamW', 'cls-finetune')]
    assert forget['verdict'] == 'reproduced' and forget['diff'] == pytest.approx(8.0)
    assert rows[('SPD: more robust out of distribution than AdamW', 'cls-finetune')]['verdict'] == 'reproduced'
    assert not any(k[0].startswith('OSGD') for k in rows)  # no multi-exit task: no OSGD rows
    assert all(math.isfinite(r['diff']) for r in rows.values() if r['diff'] is not None)


def _cli(repo_root):
    import importlib.util
    import os.path as osp
    spec = importlib.util.spec_from_file_location('benchmark_cli', osp.join(repo_root, 'tools', 'benchmark.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_lists_cells_and_refuses_an_empty_report(repo_root, tmp_path, capsys):
    cli = _cli(repo_root)
    assert cli.main(['mini', '--list', '--out', str(tmp_path / 'none')]) == 0
    out = capsys.readouterr().out
    assert 'todo  detection-finetune__dualopt_adamw__lr0.0002__s0' in out
    assert f'{planned_count(mini_suite())} planned, 0 finished' in out
    assert cli.main(['demo', '--report-only', '--out', str(tmp_path / 'none')]) == 1
    full = cli.parse_args(['full', '--coco', '/d/coco', '--ood-coco', '/d/coco-c'])
    assert full.coco == '/d/coco' and full.ood_coco == '/d/coco-c'


def test_full_suite_takes_data_paths(repo_root):
    s = full_suite(coco='/d/coco', ade='/d/ade', imagenet='/d/in', ood={'coco': '/d/coco-c/val2017'})
    det = s.task('detection-finetune')
    assert det.ood and det.cfg_options['val_evaluator.ann_file'] == '/d/coco/annotations/instances_val2017.json'
    assert det.cfg_options['ood_split']['img'] == '/d/coco-c/val2017'
    assert not s.task('semantic_seg-finetune').ood  # no OOD folder given: no OOD metric
    assert s.upstream_options['val_dataloader.dataset.data_root'] == '/d/in/'
