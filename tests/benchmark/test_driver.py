"""The benchmark run end to end on the fake data (protocol v2): a tuning phase that freezes its
winners, a reporting phase on held-out seeds, interruption and resume, skipping finished cells,
stale results, forced reruns, the forgetting evaluation (raw and after BN re-estimation), the
report, and a suite file that compares a torch optimizer outside the project (RAdam)."""
import csv
import io
import json
import os
import os.path as osp

import pytest

from dualopt_mm.benchmark import cell as cell_mod
from dualopt_mm.benchmark import load_suite, reporting_cells, suite_from_dict, tuning_cells
from dualopt_mm.benchmark.driver import StaleResultError, load_results, load_tuning, run_suite

UP = dict(config='classification/resnet18_upstream.py', checkpoint='checkpoints/upstream_resnet18.pth')
_pre = dict(pretrained_prefixes=['backbone'], norm_decay_mult=0.0)


def tiny_dict(length=1, **over):
    d = dict(
        name='tiny', description='test', upstream=UP,
        seeds=dict(tuning=[100], reporting=[0, 1]), search=dict(budget=2, sampler='grid'),
        margins={'accuracy/top1': 1.5, 'forgetting': 1.5, 'iters_to_target': dict(relative=0.1)},
        methods=dict(
            adamw=dict(optimizer=dict(type='AdamW', weight_decay=0.01), paramwise_cfg=_pre,
                       space=dict(lr=[1e-3, 2e-3]), defaults=dict(lr=1e-3)),
            dualopt_adamw=dict(optimizer=dict(type='DualOptAdamW', weight_decay=0.01, mode='finetune'),
                               paramwise_cfg=_pre, custom_hooks=[dict(type='OptimizerStatsHook', interval=1)],
                               space=dict(lr=[1e-3], rollback=[0.01, 0.05])),
            aa_control=dict(optimizer=dict(type='L2SPAdamW', weight_decay=0.01), paramwise_cfg=_pre,
                            copy_setting_from='adamw', defaults=dict(sp_alpha=0.0))),
        tasks=dict(cls=dict(config='classification/resnet18_shapes.py', regime='finetune', metric='accuracy/top1',
                            methods=['adamw', 'dualopt_adamw', 'aa_control'], baseline='adamw', length=length,
                            forgetting=True, admission=dict(reference=40.0, trivial=20.0))),
        claims=[dict(paper='DualOpt', claim='better than AdamW', method='dualopt_adamw', baseline='adamw',
                     tasks=['cls'], column='metric', primary=True),
                dict(paper='DualOpt', claim='less forgetting', method='dualopt_adamw', baseline='adamw',
                     tasks=['cls'], column='forgetting'),
                dict(paper='A/A control', claim='A/A', method='aa_control', baseline='adamw', tasks=['cls'],
                     column='metric', primary=True)])
    d.update(over)
    return d


def tiny_suite(**kw):
    return suite_from_dict(tiny_dict(**kw), source='tiny')


@pytest.fixture(scope='module')
def interrupted_then_resumed(fake_data_root, tmp_path_factory):
    """Run the tiny suite, interrupt it inside its third cell, then run it again, then once more."""
    root = tmp_path_factory.mktemp('bench')
    out, work = str(root / 'out'), str(root / 'work')
    real = cell_mod.run_cell
    log = {'first': [], 'second': [], 'third': []}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(fake_data_root)

        def interrupting(suite, c, work_dir, progress=None, **kw):
            log['first'].append(c.id)
            if len(log['first']) == 3:
                def interrupt(it, n):
                    raise KeyboardInterrupt
                return real(suite, c, work_dir, progress=interrupt, **kw)
            return real(suite, c, work_dir, progress=progress, **kw)
        mp.setattr(cell_mod, 'run_cell', interrupting)
        with pytest.raises(KeyboardInterrupt):
            run_suite(tiny_suite(), out, work, stream=io.StringIO())
        after_interrupt = load_results(out)
        mtimes = {cid: os.stat(osp.join(out, 'cells', f'{cid}.json')).st_mtime_ns for cid in after_interrupt}
        half_result = osp.exists(osp.join(out, 'cells', f"{log['first'][2]}.json"))

        def counting(suite, c, work_dir, progress=None, **kw):
            log['second'].append(c.id)
            return real(suite, c, work_dir, progress=progress, **kw)
        mp.setattr(cell_mod, 'run_cell', counting)
        stream = io.StringIO()
        results = run_suite(tiny_suite(), out, work, stream=stream)

        def must_not_run(suite, c, *a, **k):
            log['third'].append(c.id)
            raise AssertionError(f'a finished cell ran again: {c.id}')
        mp.setattr(cell_mod, 'run_cell', must_not_run)
        third = io.StringIO()
        run_suite(tiny_suite(), out, work, stream=third)
    return dict(out=out, work=work, log=log, after_interrupt=after_interrupt, mtimes=mtimes, results=results,
                progress=stream.getvalue(), third=third.getvalue(), root=fake_data_root, half_result=half_result)


@pytest.mark.openmmlab
def test_phases_tune_on_tuning_seeds_then_report_the_frozen_winner(interrupted_then_resumed):
    r = interrupted_then_resumed
    suite = tiny_suite()
    tuning = load_tuning(suite, r['out'])
    assert tuning is not None and set(tuning['cells']) == {c.id for c in tuning_cells(suite)}
    t_cells, rep = tuning_cells(suite), reporting_cells(suite, tuning)
    # equal budget: 2 configurations per tuned method + the untuned defaults; the A/A is not tuned
    assert sorted(c.tag for c in t_cells if c.method == 'adamw') == ['c0', 'c1', 'default']
    assert sorted(c.tag for c in t_cells if c.method == 'dualopt_adamw') == ['c0', 'c1']
    assert {c.seed for c in t_cells} == {100} and {c.seed for c in rep} == {0, 1}
    res = r['results']
    for c in t_cells:
        assert 'val' in res[c.id] and 'test' not in res[c.id] and 'forgetting' not in res[c.id]
    for c in rep:
        assert 'test' in res[c.id] and 'val' not in res[c.id] and 'ood' in res[c.id]
    # the winner is the best mean val score over the tuning seeds (ties: first configuration)
    adamw = tuning['tasks']['cls']['methods']['adamw']
    scores = [cfg['mean'] for cfg in adamw['configs']]
    assert adamw['winner']['tag'] == f'c{scores.index(max(scores))}'
    assert adamw['configs'][0]['mean'] == res['cls__adamw__c0__s100']['val']['accuracy/top1']
    won = adamw['winner']['setting']
    for seed in (0, 1):
        assert res[f'cls__adamw__tuned__s{seed}']['setting'] == won
        # the A/A control: AdamW's winner with alpha = 0
        assert res[f'cls__aa_control__tuned__s{seed}']['setting'] == {**won, 'sp_alpha': 0.0}
    assert tuning['tasks']['cls']['status'] in ('confirmatory', 'exploratory')
    assert tuning['tasks']['cls']['margins']['accuracy/top1'] == 1.5


@pytest.mark.openmmlab
def test_an_interrupted_benchmark_resumes_where_it_stopped(interrupted_then_resumed):
    r = interrupted_then_resumed
    first, second = r['log']['first'], r['log']['second']
    assert len(r['after_interrupt']) == 2 and not r['half_result']
    assert second[0] == first[2]           # resumes with the interrupted cell
    assert not set(second) & set(first[:2])  # never reruns a finished one
    for cid, m in r['mtimes'].items():
        assert os.stat(osp.join(r['out'], 'cells', f'{cid}.json')).st_mtime_ns == m
    assert r['log']['third'] == [] and '0 cell(s) run now' in r['third']
    assert 'tuning finished; winners frozen' in r['progress']


@pytest.mark.openmmlab
def test_each_cell_records_spec_hash_commit_environment_and_no_config_dump(interrupted_then_resumed):
    r = interrupted_then_resumed
    assert not osp.exists(osp.join(r['out'], 'configs'))
    for res in r['results'].values():
        assert len(res['spec_hash']) == 16 and res['env']['commit'] and res['env']['torch']
        assert res['phase'] in ('tuning', 'reporting') and isinstance(res['setting'], dict)
        assert res['cost']['iters'] > 0 and res['curves']['loss'] and res['diverged'] is False
    rep = [x for x in r['results'].values() if x['phase'] == 'reporting']
    f = rep[0]['forgetting']
    assert set(f) >= {'drop', 'drop_bn', 'upstream_top1', 'upstream_top1_bn', 'pretrained_top1_bn'}
    assert f['drop_bn'] == pytest.approx(f['pretrained_top1_bn'] - f['upstream_top1_bn'])
    up = json.load(open(osp.join(r['out'], 'upstream.json')))
    assert {'top1', 'top1_bn'} <= set(up)


@pytest.mark.openmmlab
def test_stale_results_stop_the_run_and_force_replaces_them_visibly(interrupted_then_resumed, tmp_path, monkeypatch):
    import shutil
    r = interrupted_then_resumed
    monkeypatch.chdir(r['root'])
    out = str(tmp_path / 'out')
    shutil.copytree(r['out'], out)
    # the suite changed its schedule: every finished cell is stale, and tuning.json is too
    with pytest.raises(StaleResultError, match='tuning.json'):
        run_suite(tiny_suite(length=2), out, str(tmp_path / 'work'), stream=io.StringIO())
    os.remove(osp.join(out, 'tuning.json'))
    with pytest.raises(StaleResultError, match='--force'):
        run_suite(tiny_suite(length=2), out, str(tmp_path / 'work'), phases=('tuning',), stream=io.StringIO())
    stream = io.StringIO()
    target = 'cls__dualopt_adamw__c0__s100'
    run_suite(tiny_suite(length=1), out, str(tmp_path / 'work'), phases=('tuning',), force=(target,),
              only=(target,), stream=stream)
    assert 'previous result moved to' in stream.getvalue()
    assert any(n.startswith(target) for n in os.listdir(osp.join(out, 'replaced')))


def test_cells_from_another_upstream_checkpoint_are_named_and_nothing_runs():
    """A finished fine-tuning cell records the content hash of the checkpoint it started from; a
    run whose checkpoint on disk differs (a re-trained or replaced upstream) stops before training
    and names both, instead of mixing runs from different starting weights. Scratch tasks and
    forced cells are exempt; legacy cells with no record count as different."""
    from dualopt_mm.benchmark.driver import check_upstream
    suite = tiny_suite()
    old, new = 'sha256:aaaaaaaaaaaaaaaa', 'sha256:bbbbbbbbbbbbbbbb'
    results = {'cls__adamw__c0__s100': dict(task='cls', upstream_checkpoint=old),
               'cls__adamw__c1__s100': dict(task='cls')}
    check_upstream(suite, {'cls__adamw__c0__s100': results['cls__adamw__c0__s100']}, None, old, 'out')
    check_upstream(suite, results, None, None, 'out')  # no fine-tuning: nothing to compare
    with pytest.raises(StaleResultError, match='another upstream checkpoint') as e:
        check_upstream(suite, results, None, new, 'out')
    assert old in str(e.value) and new in str(e.value) and 'not recorded' in str(e.value)
    assert 'cls__adamw__c0__s100' in str(e.value)
    check_upstream(suite, results, None, new, 'out', force=('cls__adamw__*',))
    with pytest.raises(StaleResultError, match='tuning.json'):
        check_upstream(suite, {}, {'upstream_checkpoint': old}, new, 'out')
    with pytest.raises(StaleResultError, match='not recorded'):
        check_upstream(suite, {}, {}, new, 'out')
    check_upstream(suite, {}, {'upstream_checkpoint': new}, new, 'out')


@pytest.mark.openmmlab
def test_a_replaced_upstream_checkpoint_stops_the_run_before_training(interrupted_then_resumed, tmp_path,
                                                                      monkeypatch):
    import shutil

    from dualopt_mm.benchmark import upstream as up
    r = interrupted_then_resumed
    monkeypatch.chdir(r['root'])
    fp = up.checkpoint_fingerprint(UP['checkpoint'])
    assert {res['upstream_checkpoint'] for res in r['results'].values()} == {fp}
    with open(osp.join(r['out'], 'tuning.json')) as f:
        assert json.load(f)['upstream_checkpoint'] == fp
    out = str(tmp_path / 'out')
    shutil.copytree(r['out'], out)
    before = {n: os.stat(osp.join(out, 'cells', n)).st_mtime_ns for n in os.listdir(osp.join(out, 'cells'))}

    def must_not_run(*a, **k):
        raise AssertionError('a cell trained from another upstream checkpoint')
    monkeypatch.setattr(cell_mod, 'run_cell', must_not_run)
    monkeypatch.setattr(up, 'checkpoint_fingerprint', lambda ckpt: 'sha256:0123456789abcdef')
    with pytest.raises(StaleResultError, match='another upstream checkpoint') as e:
        run_suite(tiny_suite(), out, str(tmp_path / 'work'), stream=io.StringIO())
    assert fp in str(e.value) and 'sha256:0123456789abcdef' in str(e.value)
    after = {n: os.stat(osp.join(out, 'cells', n)).st_mtime_ns for n in os.listdir(osp.join(out, 'cells'))}
    assert after == before and not osp.exists(osp.join(out, 'replaced'))


@pytest.mark.openmmlab
def test_forgetting_evaluation_matches_an_independent_runner_test(interrupted_then_resumed, tmp_path, monkeypatch):
    """upstream_accuracy(backbone) == mmengine's own test loop on the upstream config with a
    checkpoint whose backbone was replaced by hand; BN re-estimation changes only BN buffers."""
    import torch
    from mmengine.runner import Runner

    from dualopt_mm.benchmark.cell import upstream_accuracy
    from dualopt_mm.engine.config import isolate_run, load_config
    monkeypatch.chdir(interrupted_then_resumed['root'])
    suite = tiny_suite()
    ckpt = torch.load(UP['checkpoint'], map_location='cpu', weights_only=False)
    torch.manual_seed(0)
    backbone = {k[len('backbone.'):]: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v
                for k, v in ckpt['state_dict'].items() if k.startswith('backbone.')}
    ours = upstream_accuracy(suite, backbone)
    composed = dict(ckpt['state_dict'])
    composed.update({f'backbone.{k}': v for k, v in backbone.items()})
    path = str(tmp_path / 'composed.pth')
    torch.save({'state_dict': composed, 'meta': {}}, path)
    cfg = isolate_run(load_config(osp.join(cell_mod.CONFIGS, UP['config']), work_dir=str(tmp_path / 'w')))
    cfg.load_from = path
    cfg.test_dataloader = cfg.val_dataloader
    metrics = Runner.from_cfg(cfg).test()
    assert ours == pytest.approx(metrics['accuracy/top1'])
    with pytest.raises(ValueError, match='does not fit the upstream classifier'):
        upstream_accuracy(suite, {k: v for k, v in backbone.items() if not k.startswith('layer4')})


def test_bn_reestimation_recomputes_running_statistics_only():
    import torch

    from dualopt_mm.benchmark.cell import _reestimate_bn

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 1)
            self.bn = torch.nn.BatchNorm2d(4)

        def data_preprocessor(self, batch, training):
            return {'inputs': batch}

        def forward(self, x, mode='tensor'):
            return self.bn(self.conv(x))
    torch.manual_seed(0)
    net = Net()
    net.bn.running_mean.fill_(5.0)
    weights = {k: v.clone() for k, v in net.state_dict().items() if 'running' not in k and 'num_batches' not in k}
    data = [torch.randn(8, 3, 4, 4) * 2 + 1 for _ in range(3)]
    seen = _reestimate_bn(net, data, max_images=16)
    assert seen == 16
    feats = torch.cat([net.conv(x) for x in data[:2]]).detach()
    # the plain average over the batches seen (momentum None), not an exponential one
    assert torch.allclose(net.bn.running_mean, feats.mean(dim=(0, 2, 3)), atol=1e-5)
    assert not net.training and net.bn.momentum == 0.1
    for k, v in weights.items():
        assert torch.equal(net.state_dict()[k], v)


@pytest.mark.openmmlab
def test_report_has_claims_with_per_seed_differences_and_figures(interrupted_then_resumed):
    from dualopt_mm.benchmark.report import write_report
    r = interrupted_then_resumed
    suite = tiny_suite()
    tuning = load_tuning(suite, r['out'])
    rows = write_report(suite, tuning, r['results'], r['out'], 'python tools/benchmark.py tiny')
    by = {(x['claim'], x['task']): x for x in rows}
    aa = by[('A/A', 'cls')]['comparison']
    a = {s: r['results'][f'cls__aa_control__tuned__s{s}']['test']['accuracy/top1'] for s in (0, 1)}
    b = {s: r['results'][f'cls__adamw__tuned__s{s}']['test']['accuracy/top1'] for s in (0, 1)}
    assert aa.diffs == {s: pytest.approx(a[s] - b[s]) for s in (0, 1)}
    assert by[('less forgetting', 'cls')]['comparison'].n == 2
    readme = open(osp.join(r['out'], 'README.md')).read()
    assert '## Claims' in readme and '## cls (' in readme and '## Tuning (frozen in tuning.json)' in readme
    assert 'adamw (baseline)' in readme and 'defaults' in readme
    rows_csv = list(csv.DictReader(open(osp.join(r['out'], 'results.csv'))))
    assert len(rows_csv) == len(r['results'])
    for name in ('forest_dualopt.png', 'cls_loss.png', 'cls_metric.png', 'cls_cost.png'):
        assert os.path.getsize(osp.join(r['out'], name)) > 1000
    data = json.load(open(osp.join(r['out'], 'results.json')))
    assert data['claims'] and data['claims'][0]['comparison']['diffs']


@pytest.mark.openmmlab
def test_a_suite_file_compares_a_torch_optimizer_the_project_does_not_ship(fake_data_root, tmp_path, monkeypatch):
    """The README's example: RAdam (torch.optim, registered by mmengine) against DualOpt on
    detection, from the committed suite file alone, shortened from the command line."""
    import sys

    from dualopt_mm.testing import REPO_ROOT
    monkeypatch.chdir(fake_data_root)
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'tools'))
    import benchmark as cli
    path = osp.join(REPO_ROOT, 'configs', 'benchmark', 'examples', 'radam_vs_dualopt.py')
    out = str(tmp_path / 'out')
    argv = [path, '--out', out, '--work-root', str(tmp_path / 'w'), '--cfg-options',
            'tasks.detection_finetune.length=1', 'seeds.reporting=[0,1]', 'search.budget=1', 'search.defaults=False',
            'methods.radam.space.lr=[0.001]', 'methods.dualopt_adamw.space.lr=[0.001]',
            'methods.dualopt_adamw.space.rollback=[0.05]']
    assert cli.main(argv) == 0
    res = load_results(out)
    assert sorted(res) == sorted([f'detection_finetune__{m}__c0__s100' for m in ('radam', 'dualopt_adamw')]
                                 + [f'detection_finetune__{m}__tuned__s{s}' for m in ('radam', 'dualopt_adamw')
                                    for s in (0, 1)])
    cfg_text = cli_config(cli, path, argv, 'detection_finetune__radam__tuned__s0', capsys=None)
    assert "type='RAdam'" in cfg_text and 'lr=0.001' in cfg_text
    readme = open(osp.join(out, 'README.md')).read()
    assert 'better fine-tuning than DualOpt' in readme and 'radam' in readme
    # one iteration on 8 tiny images detects nothing (CocoMetric then reports nothing); the
    # reporting cell still ran its test split, the OOD split and the forgetting evaluation
    rep = res['detection_finetune__radam__tuned__s0']
    assert {'test', 'ood', 'forgetting'} <= set(rep) and rep['forgetting']['drop_bn'] is not None
    del sys.modules['benchmark']


def cli_config(cli, path, argv, cell_id, capsys=None):
    import contextlib
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(argv + ['--show-config', cell_id]) == 0
    return buf.getvalue()


def test_suite_files_name_the_problem(tmp_path):
    from dualopt_mm.benchmark import SuiteError
    with pytest.raises(SuiteError, match="'rolback'"):
        d = tiny_dict()
        d['methods']['dualopt_adamw']['space'] = dict(lr=[1e-3], rolback=[0.01, 0.05])
        suite_from_dict(d)
    with pytest.raises(SuiteError, match='not registered'):
        d = tiny_dict()
        d['methods']['adamw']['optimizer']['type'] = 'AdamWW'
        suite_from_dict(d)
    with pytest.raises(SuiteError, match='budget is 2'):
        d = tiny_dict()
        d['methods']['adamw']['space'] = dict(lr=[1e-3, 2e-3, 3e-3])
        suite_from_dict(d)
    with pytest.raises(SuiteError, match='overlap'):
        suite_from_dict(tiny_dict(seeds=dict(tuning=[0], reporting=[0, 1])))
    with pytest.raises(SuiteError, match='unknown key'):
        suite_from_dict(tiny_dict(sedes=1))
    with pytest.raises(SuiteError, match='one per paper'):
        d = tiny_dict()
        d['claims'][1]['primary'] = True
        suite_from_dict(d)
    with pytest.raises(SuiteError, match='baseline'):
        d = tiny_dict()
        d['tasks']['cls']['baseline'] = 'sgd'
        suite_from_dict(d)
    with pytest.raises(SuiteError, match='no suite file'):
        load_suite('no_such_suite')


def _cli():
    import importlib.util

    from dualopt_mm.testing import REPO_ROOT
    spec = importlib.util.spec_from_file_location('benchmark_cli', osp.join(REPO_ROOT, 'tools', 'benchmark.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_truncated_cell_json_is_named_not_a_traceback(tmp_path, capsys):
    out = tmp_path / 'out'
    (out / 'cells').mkdir(parents=True)
    (out / 'cells' / 'x.json').write_text('{"id": "x", "val": {')
    assert _cli().main(['demo', '--out', str(out), '--list']) == 2
    err = capsys.readouterr().err
    assert 'x.json is not a finished cell result' in err and 'Delete it' in err


def test_an_unwritable_results_folder_stops_before_training(tmp_path, capsys, monkeypatch):
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'cells').write_text('a file where the cells folder should be')
    monkeypatch.setattr(cell_mod, 'run_cell', lambda *a, **k: pytest.fail('trained although nothing can be written'))
    assert _cli().main(['demo', '--out', str(out), '--phase', 'tuning']) == 2
    assert 'cannot write results into' in capsys.readouterr().err


@pytest.mark.openmmlab
def test_only_matching_nothing_says_so(interrupted_then_resumed, tmp_path, monkeypatch):
    import shutil
    r = interrupted_then_resumed
    monkeypatch.chdir(r['root'])
    out = str(tmp_path / 'out')
    shutil.copytree(r['out'], out)
    stream = io.StringIO()
    run_suite(tiny_suite(), out, str(tmp_path / 'w'), only=('no_such_cell*',), stream=stream)
    assert 'matches none of the' in stream.getvalue()


@pytest.mark.openmmlab
@pytest.mark.parametrize('suite_name', ['demo', 'mini', 'full'])
def test_every_cell_config_of_the_shipped_suites_builds(suite_name, in_fake_data, tmp_path):
    """Tuning cells of every (task, method) build; the reporting cells too, with a made-up frozen
    tuning (the first configuration wins)."""
    from dualopt_mm.benchmark.cell import build_cell_config
    from dualopt_mm.engine.hooks import pretrained_weights_configured
    suite = load_suite(suite_name)
    cells = tuning_cells(suite)
    fake = {'tasks': {t.key: {'methods': {}} for t in suite.tasks}}
    for c in cells:
        if c.tag == 'c0':
            fake['tasks'][c.task]['methods'].setdefault(c.method, {'winner': {'setting': c.settings}})
    seen = set()
    for c in cells + reporting_cells(suite, fake):
        if (c.task, c.method, c.phase) in seen:
            continue
        seen.add((c.task, c.method, c.phase))
        task = suite.task(c.task)
        cfg = build_cell_config(suite, c, str(tmp_path / c.id))
        opt = cfg.optim_wrapper.optimizer
        for k, v in c.settings.items():
            if '.' not in k:
                assert opt[k] == v, (c.id, k)
        assert opt.type == suite.method(c.method).optimizer['type'] and cfg.randomness.seed == c.seed
        assert cfg.default_hooks.checkpoint is None
        assert '_delete_' not in (cfg.optim_wrapper.get('clip_grad') or {})
        if task.length:
            assert task.length in (cfg.train_cfg.get('max_epochs'), cfg.train_cfg.get('max_iters'))
        if task.regime == 'finetune':
            init = cfg.model.backbone.init_cfg
            assert init.type == 'Pretrained' and init.checkpoint == suite.upstream[1]
        else:
            assert not pretrained_weights_configured(cfg), c.id
