"""The benchmark run end to end on the fake data: interruption and resume, skipping finished cells,
stale results, forced reruns, the forgetting evaluation, the report."""
import csv
import dataclasses
import io
import json
import os
import os.path as osp

import pytest

from dualopt_mm.benchmark import Method, Suite, Task, cell_id, expand
from dualopt_mm.benchmark import cell as cell_mod
from dualopt_mm.benchmark.driver import StaleResultError, load_results, run_suite

UP = ('classification/resnet18_upstream.py', 'checkpoints/upstream_resnet18.pth')


def tiny_suite(length=1):
    task = Task('cls', 'finetune', 'classification/resnet18_shapes.py', 'accuracy/top1',
                (Method('adamw', (1e-3, 2e-3)), Method('dualopt_adamw', (1e-3,))),
                baseline='adamw', length=length, forgetting=True)
    return Suite('tiny', (task,), seeds=(0, 1), upstream=UP, description='test')


@pytest.fixture(scope='module')
def interrupted_then_resumed(fake_data_root, tmp_path_factory):
    """Run the tiny suite, interrupt it inside its third cell, then run it again."""
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
        interrupted_dir_existed = osp.isdir(osp.join(work, 'tiny', log['first'][2]))
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
                progress=stream.getvalue(), third=third.getvalue(), root=fake_data_root,
                interrupted_dir_existed=interrupted_dir_existed, half_result=half_result)


def test_an_interrupted_benchmark_resumes_where_it_stopped(interrupted_then_resumed):
    r = interrupted_then_resumed
    log = r['log']
    assert len(r['after_interrupt']) == 2 and set(r['after_interrupt']) == set(log['first'][:2])
    assert not r['half_result']
    assert r['interrupted_dir_existed']
    # the rerun starts with the interrupted cell and never repeats a finished one
    assert log['second'][0] == log['first'][2]
    assert not set(log['second']) & set(log['first'][:2])
    for cid, mtime in r['mtimes'].items():
        assert os.stat(osp.join(r['out'], 'cells', f'{cid}.json')).st_mtime_ns == mtime
    suite = tiny_suite()
    expected = {c.id for c in expand(suite, r['results'])}
    assert set(r['results']) == expected and len(expected) == 5  # adamw: 2 grid + 1 seed; dualopt: 2 seeds
    # a finished suite does no work
    assert log['third'] == [] and '0 run now' in r['third']


def test_progress_reports_cell_iteration_and_time_left(interrupted_then_resumed):
    text = interrupted_then_resumed['progress']
    assert '/5] cls-finetune' in text and 'iter 1/1' in text and 'left' in text and 'suite ~' in text


def test_each_cell_records_metrics_cost_config_seed_and_environment(interrupted_then_resumed):
    r = interrupted_then_resumed
    for cid, res in r['results'].items():
        assert res['id'] == cid and res['seed'] in (0, 1) and res['spec_hash']
        assert 0 <= res['val']['accuracy/top1'] <= 100 and 0 <= res['ood']['accuracy/top1'] <= 100
        f = res['forgetting']
        assert f['drop'] == pytest.approx(f['pretrained_top1'] - f['upstream_top1'])
        c = res['cost']
        assert c['iters'] == 1 and c['train_s'] > 0 and c['step_ms'] > 0 and c['peak_mem_mb'] > 0
        # AdamW keeps two moments (+ step); DualOpt fine-tuning also keeps the anchors
        assert c['optimizer_state_mb'] > 0
        assert {'machine', 'torch', 'mmengine', 'mmdet', 'commit', 'threads'} <= set(res['env'])
        assert osp.exists(osp.join(r['out'], 'configs', f'{cid}.py'))
        assert res['curves']['loss'] and res['curves']['backbone_dist'][0][0] == 0
        assert set(res['curves']['backbone_dist'][-1][1]) == {'backbone', 'stem', 'layer1', 'layer2', 'layer3',
                                                              'layer4'}
        # the optimizer stats hook's distance to the anchor per depth bucket, for anchored methods
        assert bool(res['curves'].get('anchor_dist')) == (res['method'] == 'dualopt_adamw')
    state = {m: r['results'][cell_id('cls-finetune', m, 1e-3, 0)]['cost']['optimizer_state_mb']
             for m in ('adamw', 'dualopt_adamw')}
    assert state['dualopt_adamw'] > state['adamw']
    cfg_text = open(osp.join(r['out'], 'configs', f"{cell_id('cls-finetune', 'adamw', 2e-3, 0)}.py")).read()
    assert "lr=0.002" in cfg_text and 'checkpoints/upstream_resnet18.pth' in cfg_text and 'val_ood' in cfg_text


def test_stale_results_stop_the_run_and_force_replaces_them_visibly(interrupted_then_resumed, tmp_path, monkeypatch):
    import shutil
    r = interrupted_then_resumed
    out = str(tmp_path / 'out')
    shutil.copytree(r['out'], out)
    monkeypatch.chdir(r['root'])
    changed = tiny_suite(length=2)  # same cell ids, different spec
    with pytest.raises(StaleResultError, match='--force'):
        run_suite(changed, out, str(tmp_path / 'work'), stream=io.StringIO())
    target = cell_id('cls-finetune', 'dualopt_adamw', 1e-3, 1)
    others = dataclasses.replace(changed, tasks=(dataclasses.replace(
        changed.tasks[0], methods=(Method('dualopt_adamw', (1e-3,)),), baseline='dualopt_adamw'),))
    stream = io.StringIO()
    run_suite(others, out, str(tmp_path / 'work'), force=('*dualopt_adamw*',), stream=stream)
    assert 'previous result moved to' in stream.getvalue()
    replaced = os.listdir(osp.join(out, 'replaced'))
    assert any(name.startswith(target) for name in replaced)
    assert json.load(open(osp.join(out, 'cells', f'{target}.json')))['cost']['iters'] == 2


def test_forgetting_evaluation_matches_an_independent_runner_test(interrupted_then_resumed, tmp_path, monkeypatch):
    """upstream_accuracy(backbone) == mmengine's own test loop on the upstream config with a
    checkpoint whose backbone was replaced by hand."""
    import torch
    from mmengine.runner import Runner

    from dualopt_mm.benchmark.cell import upstream_accuracy
    from dualopt_mm.engine.config import isolate_run, load_config
    monkeypatch.chdir(interrupted_then_resumed['root'])
    suite = tiny_suite()
    ckpt = torch.load(UP[1], map_location='cpu', weights_only=False)
    torch.manual_seed(0)
    backbone = {k[len('backbone.'):]: v + 0.05 * torch.randn_like(v) if v.is_floating_point() else v
                for k, v in ckpt['state_dict'].items() if k.startswith('backbone.')}
    ours = upstream_accuracy(suite, backbone)
    composed = dict(ckpt['state_dict'])
    composed.update({f'backbone.{k}': v for k, v in backbone.items()})
    path = str(tmp_path / 'composed.pth')
    torch.save({'state_dict': composed, 'meta': {}}, path)
    cfg = isolate_run(load_config(osp.join(cell_mod.CONFIGS, UP[0]), work_dir=str(tmp_path / 'w')))
    cfg.load_from = path
    cfg.test_dataloader = cfg.val_dataloader
    metrics = Runner.from_cfg(cfg).test()
    assert ours == pytest.approx(metrics['accuracy/top1'])
    # the pre-trained backbone scores the reference, and the reference differs from a perturbed one
    reference = upstream_accuracy(suite, None)
    same = upstream_accuracy(suite, {k[len('backbone.'):]: v for k, v in ckpt['state_dict'].items()
                                     if k.startswith('backbone.')})
    assert same == reference
    with pytest.raises(ValueError, match='does not fit the upstream classifier'):
        upstream_accuracy(suite, {k: v for k, v in backbone.items() if not k.startswith('layer4')})


def test_report_aggregates_the_tiny_suite(interrupted_then_resumed):
    from dualopt_mm.benchmark.report import write_report
    r = interrupted_then_resumed
    summary = write_report(tiny_suite(), r['results'], r['out'], 'python tools/benchmark.py tiny')
    rows = list(csv.DictReader(open(osp.join(r['out'], 'results.csv'))))
    assert len(rows) == 5 and {row['method'] for row in rows} == {'adamw', 'dualopt_adamw'}
    assert sum(row['selected_lr'] == 'True' for row in rows) == 4  # the losing grid point is not
    adamw = summary['cls-finetune']['methods']['adamw']
    vals = [r['results'][cell_id('cls-finetune', 'adamw', adamw['lr'], s)]['val']['accuracy/top1'] for s in (0, 1)]
    assert adamw['stats']['val'][0] == pytest.approx(sum(vals) / 2)
    readme = open(osp.join(r['out'], 'README.md')).read()
    assert '## cls-finetune' in readme and 'adamw (baseline)' in readme and '## Paper claims' in readme
    assert 'DualOpt (rollback): better fine-tuning than AdamW' in readme
    for name in ('cls-finetune_metrics.png', 'cls-finetune_loss.png', 'cls-finetune_distance.png'):
        assert os.path.getsize(osp.join(r['out'], name)) > 1000
    data = json.load(open(osp.join(r['out'], 'results.json')))
    assert len(data['cells']) == 5 and data['claims']


@pytest.mark.parametrize('suite_name', ['mini', 'full'])
def test_every_cell_config_of_the_shipped_suites_builds(suite_name, in_fake_data, tmp_path):
    from dualopt_mm.benchmark import full_suite, mini_suite
    from dualopt_mm.benchmark.cell import build_cell_config
    from dualopt_mm.engine.hooks import pretrained_weights_configured
    suite = mini_suite() if suite_name == 'mini' else full_suite(ood={'coco': 'val2017-c/', 'ade': 'images/validation-c',
                                                                      'imagenet': 'val-c'})
    seen = set()
    for c in expand(suite):
        if (c.task, c.method) in seen:
            continue
        seen.add((c.task, c.method))
        cfg = build_cell_config(suite, c, str(tmp_path / c.id))
        assert cfg.optim_wrapper.optimizer.lr == c.lr and cfg.randomness.seed == c.seed
        assert cfg.default_hooks.checkpoint is None
        if c.length:
            assert c.length in (cfg.train_cfg.get('max_epochs'), cfg.train_cfg.get('max_iters'))
        if c.regime == 'finetune':
            init = cfg.model.backbone.init_cfg
            assert init.type == 'Pretrained' and init.checkpoint == suite.upstream[1]
        else:
            assert not pretrained_weights_configured(cfg), c.id
        task = suite.task(c.task)
        if task.ood:
            ds = cfg.test_dataloader.dataset
            assert ds != cfg.val_dataloader.dataset
            where = str(ds.get('data_prefix')) + str(ds.get('ann_file'))
            assert ('ood' in where) if suite_name == 'mini' else ('-c' in where)
    assert len(seen) == sum(len(t.methods) for t in suite.tasks)
