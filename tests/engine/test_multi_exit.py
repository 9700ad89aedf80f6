"""The multi-exit (anytime) classifier: shapes, per-exit losses and predictions, the per-exit
metric, and short Runner runs of its plain-SGD and OSGD configs."""
import math

import pytest
import torch

import dualopt_mm  # noqa: F401  (registers the model, the metric and OSGDOptimWrapper)
from mmengine.registry import METRICS, MODELS, DefaultScope

from dualopt_mm.models import MultiExitAccuracy, MultiExitImageClassifier

NUM_CLASSES = 5


def _model(**kw):
    cfg = dict(type='MultiExitImageClassifier',
               backbone=dict(type='ResNet', depth=18, base_channels=8, stem_channels=8,
                             out_indices=(0, 1, 2, 3)),
               num_classes=NUM_CLASSES, in_channels=(8, 16, 32, 64))
    cfg.update(kw)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg)
    return model


def _batch(n=4, size=32):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(0)
    return dict(inputs=[torch.rand(3, size, size, generator=g) * 255 for _ in range(n)],
                data_samples=[DataSample().set_gt_label(i % NUM_CLASSES) for i in range(n)])


@pytest.mark.openmmlab
def test_registered_in_root_registries():
    assert MODELS.get('MultiExitImageClassifier') is MultiExitImageClassifier
    assert METRICS.get('MultiExitAccuracy') is MultiExitAccuracy
    from mmpretrain.registry import METRICS as PRETRAIN_METRICS
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    assert PRETRAIN_MODELS.get('MultiExitImageClassifier') is MultiExitImageClassifier
    assert PRETRAIN_METRICS.get('MultiExitAccuracy') is MultiExitAccuracy


def test_import_registers_without_downstream_packages():
    """mmpretrain is imported when the model is built, not on ``import dualopt_mm``."""
    import subprocess
    import sys
    code = ('import builtins; real = builtins.__import__\n'
            'def guard(name, *a, **k):\n'
            '    if name.split(".")[0] in ("mmdet", "mmseg", "mmpretrain"):\n'
            '        raise ImportError("blocked " + name)\n'
            '    return real(name, *a, **k)\n'
            'builtins.__import__ = guard\n'
            'import dualopt_mm\n'
            'from mmengine.registry import METRICS, MODELS, OPTIM_WRAPPERS\n'
            'assert MODELS.get("MultiExitImageClassifier") is not None\n'
            'assert METRICS.get("MultiExitAccuracy") is not None\n'
            'assert OPTIM_WRAPPERS.get("OSGDOptimWrapper") is not None\n'
            'print("ok")')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'ok'


@pytest.mark.openmmlab
def test_forward_shapes_losses_and_predictions():
    model = _model()
    assert model.num_exits == 4
    batch = model.data_preprocessor(_batch(), False)
    logits = model(batch['inputs'], mode='tensor')
    assert len(logits) == 4 and all(x.shape == (4, NUM_CLASSES) for x in logits)

    batch = model.data_preprocessor(_batch(), True)
    losses = model(**batch, mode='loss')
    assert list(losses) == [f'loss_exit{k}' for k in range(4)]
    for k, loss in losses.items():
        assert loss.dim() == 0 and math.isfinite(loss.item()), k
    target = torch.tensor([i % NUM_CLASSES for i in range(4)])
    torch.testing.assert_close(losses['loss_exit2'],
                               torch.nn.functional.cross_entropy(logits[2], target))
    # an exit's loss reaches its own exit and the stages before it only
    params = dict(model.named_parameters())
    g = torch.autograd.grad(losses['loss_exit1'], list(params.values()), allow_unused=True)
    reached = {n for n, gi in zip(params, g) if gi is not None}
    assert 'backbone.layer2.0.conv1.weight' in reached and 'exits.1.fc.weight' in reached
    assert not any(n.startswith(('backbone.layer3', 'backbone.layer4', 'exits.0', 'exits.2'))
                   for n in reached)

    model.eval()
    with torch.no_grad():
        preds = model.val_step(_batch())
        logits = model(model.data_preprocessor(_batch(), False)['inputs'], mode='tensor')
    assert len(preds) == 4
    for i, ds in enumerate(preds):
        assert ds.exit_scores.shape == (4, NUM_CLASSES)
        for k in range(4):
            torch.testing.assert_close(ds.exit_scores[k], logits[k][i].softmax(0))
        torch.testing.assert_close(ds.pred_score, ds.exit_scores[-1])
        assert int(ds.pred_label) == int(ds.exit_scores[-1].argmax())
        assert int(ds.gt_label) == i % NUM_CLASSES


@pytest.mark.openmmlab
def test_loss_weights_and_bad_out_indices():
    model = _model(loss_weights=[0.5, 1, 1, 2])
    ref = _model()
    batch = model.data_preprocessor(_batch(), True)
    lw, lr = model(**batch, mode='loss'), ref(**batch, mode='loss')
    torch.testing.assert_close(lw['loss_exit0'], 0.5 * lr['loss_exit0'])
    torch.testing.assert_close(lw['loss_exit3'], 2 * lr['loss_exit3'])
    with pytest.raises(ValueError, match='loss_weights'):
        _model(loss_weights=[1, 1])
    bad = _model(backbone=dict(type='ResNet', depth=18, base_channels=8, stem_channels=8,
                               out_indices=(3, )))
    with pytest.raises(ValueError, match='out_indices'):
        bad(model.data_preprocessor(_batch(), False)['inputs'])


def test_metric_reports_every_exit():
    metric = MultiExitAccuracy(topk=(1, 2))
    # 4 samples, 3 exits, 3 classes; labels 0, 1, 2, 0
    scores = torch.tensor([
        [[.9, .1, 0], [.1, .8, .1], [.6, .1, .3], [.2, .3, .5]],   # exit 0: top1 right 2/4
        [[.1, .9, 0], [.1, .8, .1], [.1, .2, .7], [.8, .1, .1]],   # exit 1: 3/4
        [[.7, .2, .1], [.1, .8, .1], [.1, .2, .7], [.6, .3, .1]],  # exit 2: 4/4
    ]).permute(1, 0, 2)
    labels = [0, 1, 2, 0]
    metric.process(None, [dict(exit_scores=s, gt_label=torch.tensor([y]))
                          for s, y in zip(scores, labels)])
    out = metric.evaluate(4)
    assert out['exit0/top1'] == pytest.approx(50.0)
    assert out['exit1/top1'] == pytest.approx(75.0)
    assert out['exit2/top1'] == pytest.approx(100.0)
    assert out['accuracy/top1'] == pytest.approx(100.0)
    assert out['exits_mean/top1'] == pytest.approx(75.0)
    assert out["exit0/top2"] == pytest.approx(75.0)  # sample 3: label 0 not in {2, 1}
    with pytest.raises(ValueError, match='topk'):
        MultiExitAccuracy(topk=(0, ))


@pytest.mark.openmmlab
@pytest.mark.parametrize('name,osgd', [('multi-exit_resnet18_shapes.py', False),
                                       ('multi-exit_resnet18_osgd_shapes.py', True)])
def test_config_trains_and_reports_per_exit_accuracy(name, osgd, in_fake_data, tmp_path):
    from mmengine.config import Config
    from mmengine.logging import MessageHub
    from dualopt_mm.engine import OSGDOptimWrapper
    from dualopt_mm.testing import config_path, run_cfg, shorten_schedule
    cfg = shorten_schedule(Config.fromfile(config_path('classification', name)), iters=2,
                           batch_size=2)
    runner, metrics = run_cfg(cfg, str(tmp_path / 'work'))
    assert runner.iter == 2
    for k in range(4):
        assert math.isfinite(metrics[f'exit{k}/top1']), metrics
    assert metrics['accuracy/top1'] == metrics['exit3/top1']
    assert isinstance(runner.optim_wrapper, OSGDOptimWrapper) == osgd
    hub = MessageHub.get_current_instance()
    for k in range(4):
        assert math.isfinite(hub.get_scalar(f'train/loss_exit{k}').current())
        if osgd:
            assert hub.get_scalar(f'train/osgd_task{k}_grad_norm').current() > 0
