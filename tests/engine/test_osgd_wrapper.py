"""OSGDOptimWrapper on unmodified OpenMMLab models: the gradient it writes equals a hand
computation (per-task autograd + Gram--Schmidt), per-level list losses, K=1 equals the plain
OptimWrapper, task matching, errors, clip_grad, gradient accumulation and DDP averaging."""
import copy
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn

import dualopt_mm  # noqa: F401  (registers OSGDOptimWrapper)
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPERS, DefaultScope

from dualopt_mm.engine.osgd_wrapper import OSGDOptimWrapper, task_losses_from_dict


# ----------------------------------------------------------------------------- helpers
def _project(task_grads):
    """Independent per-tensor Gram--Schmidt in float64: G = sum_k v_k."""
    out = []
    for i in range(len(task_grads[0])):
        vs = []
        for tg in task_grads:
            g = tg[i]
            if g is None:
                continue
            g = g.double()
            v = g.clone()
            for vl in vs:
                nsq = (vl * vl).sum()
                if nsq > 1e-20:
                    v = v - (g * vl).sum() / nsq * vl
            vs.append(v)
        out.append(sum(vs) if vs else None)
    return out


def _task_grads(losses, params):
    return [list(torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True))
            for loss in losses]


def _snapshot_grads(optim_wrapper, model):
    """Record the ``.grad`` the optimizer is about to step on."""
    snap = {}

    def hook(opt, args, kwargs):
        snap.clear()
        snap.update({n: None if p.grad is None else p.grad.detach().clone()
                     for n, p in model.named_parameters()})
    optim_wrapper.optimizer.register_step_pre_hook(hook)
    return snap


def _assert_matches(snap, model, expected, rtol=1e-5, atol=1e-6):
    """``atol`` is relative to each tensor's largest entry (float32 vs float64 reference)."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert len(names) == len(expected)
    checked = 0
    for name, exp in zip(names, expected):
        got = snap[name]
        if exp is None:
            assert got is None, name
            continue
        assert got is not None, name
        scale = float(exp.abs().max()) or 1.0
        torch.testing.assert_close(got.double(), exp, rtol=rtol, atol=atol * scale,
                                   msg=lambda m: f'{name}: {m}')
        checked += 1
    assert checked > 0


def _osgd(model, tasks, lr=0.0, **kw):
    return build_optim_wrapper(model, dict(type='OSGDOptimWrapper', tasks=tasks,
                                           optimizer=dict(type='SGD', lr=lr), **kw))


class ToyModel(BaseModel):
    """Two heads on a shared layer; loss dict with a tensor, a per-level list and an 'acc'."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(4, 6)
        self.a = nn.Linear(6, 1)
        self.b = nn.Linear(6, 1)
        self.unused = nn.Linear(2, 2)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        h = torch.tanh(self.shared(inputs))
        if mode != 'loss':
            return h
        ya, yb = self.a(h), self.b(h)
        return {
            'loss_a': (ya - 1).pow(2).squeeze(1),                 # a tensor: its mean
            'loss_b': [yb.pow(2).mean(), (yb + h[:, :1]).abs()],  # a list: sum of means
            'aux_loss': 0.1 * h.pow(2).sum(1),                    # unmatched by [['_a'], ['_b']]
            'acc': 100.0 * h.sum(),                               # no 'loss': ignored
        }


def _toy_batch(seed=0, n=8):
    g = torch.Generator().manual_seed(seed)
    return dict(inputs=torch.randn(n, 4, generator=g))


def _toy_losses(model, data):
    d = model(**data, mode='loss')
    la = d['loss_a'].mean()
    lb = d['loss_b'][0].mean() + d['loss_b'][1].mean()
    lc = d['aux_loss'].mean()
    return la, lb, lc


# ----------------------------------------------------------------------------- toy model
@pytest.mark.openmmlab
def test_registered_in_root_registry():
    assert OPTIM_WRAPPERS.get('OSGDOptimWrapper') is OSGDOptimWrapper
    from mmdet.registry import OPTIM_WRAPPERS as DET
    assert DET.get('OSGDOptimWrapper') is OSGDOptimWrapper


def test_task_matching_unmatched_last_and_non_loss_ignored():
    torch.manual_seed(0)
    model = ToyModel()
    losses = model(**_toy_batch(), mode='loss')
    task_losses, keys = task_losses_from_dict(losses, [['_a$'], ['_b']])
    assert keys == [['loss_a'], ['loss_b'], ['aux_loss']]  # 'acc' ignored, aux_loss last
    la, lb, lc = _toy_losses(model, _toy_batch())
    for got, exp in zip(task_losses, (la, lb, lc)):
        torch.testing.assert_close(got, exp)
    # first matching task wins; a task without keys is None; no unmatched task when all match
    task_losses, keys = task_losses_from_dict(losses, [['loss'], ['_a'], ['nothing']])
    assert keys == [['loss_a', 'loss_b', 'aux_loss'], [], []]
    assert task_losses[1] is None and task_losses[2] is None


def test_toy_gradient_equals_hand_computation():
    torch.manual_seed(0)
    model = ToyModel()
    params = [p for p in model.parameters()]
    data = _toy_batch()
    expected = _project(_task_grads(_toy_losses(model, data), params))
    ow = _osgd(model, [['_a$'], ['_b']])
    snap = _snapshot_grads(ow, model)
    log_vars = model.train_step(data, ow)
    assert set(log_vars) >= {'loss', 'loss_a', 'loss_b', 'aux_loss', 'acc'}
    _assert_matches(snap, model, expected)
    assert snap['unused.weight'] is None  # no task reaches it: no gradient at all
    # after the update .grad is cleared (zero_grad) and the counter advanced
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    assert ow._inner_count == 1
    scalars = MessageHub.get_current_instance().log_scalars
    for k in range(3):
        assert f'train/osgd_task{k}_grad_norm' in scalars


def test_global_granularity_matches_flat_gram_schmidt():
    torch.manual_seed(0)
    model = ToyModel()
    params = list(model.parameters())
    data = _toy_batch()
    gs = _task_grads(_toy_losses(model, data), params)
    flat = [torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).double()
                       for g, p in zip(tg, params)]) for tg in gs]
    vs = []
    for g in flat:
        v = g.clone()
        for vl in vs:
            v -= (g @ vl) / (vl @ vl) * vl
        vs.append(v)
    total = sum(vs)
    ow = _osgd(model, [['_a$'], ['_b']], granularity='global')
    snap = _snapshot_grads(ow, model)
    model.train_step(data, ow)
    got = torch.cat([(snap[n] if snap[n] is not None else torch.zeros_like(p)).reshape(-1)
                     for n, p in model.named_parameters()]).double()
    torch.testing.assert_close(got, total, rtol=1e-5, atol=1e-7)


def test_clip_grad_clips_combined_gradient():
    torch.manual_seed(0)
    model = ToyModel()
    params = list(model.parameters())
    data = _toy_batch()
    expected = _project(_task_grads(_toy_losses(model, data), params))
    norm = torch.cat([e.reshape(-1) for e in expected if e is not None]).norm()
    max_norm = float(norm) / 4
    ow = _osgd(model, [['_a$'], ['_b']], clip_grad=dict(max_norm=max_norm))
    captured = {}
    orig_step = ow.optimizer.step

    def step(*a, **k):  # .grad as the optimizer sees it: after clipping
        captured['norm'] = torch.cat([p.grad.reshape(-1) for p in params
                                      if p.grad is not None]).norm()
        captured['grads'] = [None if p.grad is None else p.grad.clone() for p in params]
        return orig_step(*a, **k)
    ow.optimizer.step = step
    model.train_step(data, ow)
    assert captured['norm'] == pytest.approx(max_norm, rel=1e-4)
    scale = max_norm / float(norm)
    for got, exp in zip(captured['grads'], expected):
        if exp is not None:
            torch.testing.assert_close(got.double(), exp * scale, rtol=1e-4, atol=1e-7)
    assert MessageHub.get_current_instance().get_scalar('train/grad_norm').current() == \
        pytest.approx(float(norm), rel=1e-4)


def test_accumulation_equals_one_large_batch():
    torch.manual_seed(0)
    model = ToyModel()
    ref = copy.deepcopy(model)
    data = _toy_batch(n=8)
    halves = [dict(inputs=data['inputs'][:4]), dict(inputs=data['inputs'][4:])]
    # reference: one step on the full batch
    ow_ref = _osgd(ref, [['_a$'], ['_b']], lr=0.1)
    snap_ref = _snapshot_grads(ow_ref, ref)
    ref.train_step(data, ow_ref)
    # accumulated: per-task buffers over two half batches, one projection at the update
    ow = _osgd(model, [['_a$'], ['_b']], lr=0.1, accumulative_counts=2)
    ow.initialize_count_status(model, 0, 2)
    snap = _snapshot_grads(ow, model)
    model.train_step(halves[0], ow)
    assert not snap and all(p.grad is None for p in model.parameters())  # no step yet
    model.train_step(halves[1], ow)
    for n, p in model.named_parameters():
        if snap_ref[n] is None:
            assert snap[n] is None
        else:
            torch.testing.assert_close(snap[n], snap_ref[n], rtol=1e-5, atol=1e-6)
    for p, q in zip(model.parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_accumulation_with_a_task_present_in_some_iterations_only():
    class Model(ToyModel):
        with_aux = False

        def forward(self, inputs, data_samples=None, mode='tensor'):
            out = super().forward(inputs, data_samples, mode)
            if mode == 'loss' and not self.with_aux:
                out.pop('aux_loss')
            return out

    torch.manual_seed(0)
    model = Model()
    params = list(model.parameters())
    halves = [_toy_batch(seed=1, n=4), _toy_batch(seed=2, n=4)]
    per_half = []
    model.with_aux = True
    for with_aux, data in zip((False, True), halves):
        la, lb, lc = _toy_losses(model, data)
        lc = lc if with_aux else None
        per_half.append([_task_grads([0.5 * x], params)[0] if x is not None
                         else [None] * len(params) for x in (la, lb, lc)])
    summed = [[a if b is None else (b if a is None else a + b) for a, b in zip(t0, t1)]
              for t0, t1 in zip(*per_half)]
    expected = _project(summed)
    ow = _osgd(model, [['_a$'], ['_b']], accumulative_counts=2)
    ow.initialize_count_status(model, 0, 2)
    snap = _snapshot_grads(ow, model)
    for with_aux, data in zip((False, True), halves):
        model.with_aux = with_aux
        model.train_step(data, ow)
    _assert_matches(snap, model, expected)


def test_errors():
    torch.manual_seed(0)
    model = ToyModel()
    ow = _osgd(model, [['_a']])
    with pytest.raises(RuntimeError, match='no loss dict was captured'):
        ow.update_params(model(**_toy_batch(), mode='loss')['loss_a'].mean())
    # a forward outside optim_context is not captured either
    losses = model(**_toy_batch(), mode='loss')
    with pytest.raises(RuntimeError, match='no loss dict was captured'):
        ow.update_params(losses['loss_a'].mean())
    with pytest.raises(ValueError, match='invalid regular expression'):
        _osgd(model, [['(unclosed']])
    with pytest.raises(ValueError, match='tasks'):
        _osgd(model, [])
    with pytest.raises(ValueError, match='tasks\\[1\\]'):
        _osgd(model, [['a'], [3]])
    with pytest.raises(ValueError, match='granularity'):
        _osgd(model, [['a']], granularity='layer')
    # the hook is removed when the context exits
    with ow.optim_context(model):
        pass
    assert not model._forward_hooks_with_kwargs and not model._forward_hooks


def test_warns_once_when_the_model_reweights_its_losses(monkeypatch):
    from dualopt_mm.engine import osgd_wrapper
    logged = []
    monkeypatch.setattr(osgd_wrapper, 'print_log', lambda msg, **kw: logged.append(msg))

    class Weighted(ToyModel):
        def parse_losses(self, losses):
            loss, log_vars = super().parse_losses(losses)
            return 2 * loss, log_vars

    torch.manual_seed(0)
    model = Weighted()
    ow = _osgd(model, [['_a$'], ['_b']])
    model.train_step(_toy_batch(), ow)
    model.train_step(_toy_batch(), ow)
    assert len(logged) == 2  # the task assignment and one warning, at the first update only
    assert "task0=['loss_a']; task1=['loss_b']; task2=['aux_loss']" in logged[0]
    assert 'weights its losses' in logged[1]


def test_a_task_pattern_that_matches_no_loss_is_named_in_a_warning(monkeypatch):
    from dualopt_mm.engine import osgd_wrapper
    logged = []
    monkeypatch.setattr(osgd_wrapper, 'print_log', lambda msg, **kw: logged.append((msg, kw.get('level'))))
    torch.manual_seed(0)
    model = ToyModel()
    ow = _osgd(model, [['_a$'], ['^los_b']])  # a typo: 'los_b'
    model.train_step(_toy_batch(), ow)
    warnings = [m for m, level in logged if level == 30]
    assert len(warnings) == 1 and "tasks[1] = ['^los_b'] matches no loss key" in warnings[0]
    assert 'loss_b' in warnings[0]  # the keys it could have matched are listed
    logged.clear()
    ok = _osgd(model, [['_a$'], ['_b']])
    model.train_step(_toy_batch(), ok)
    assert not [m for m, level in logged if level == 30]


def test_single_string_task_and_captured_dict_consumed():
    torch.manual_seed(0)
    model = ToyModel()
    ow = _osgd(model, ['_a$', '_b'])
    model.train_step(_toy_batch(), ow)
    with pytest.raises(RuntimeError, match='no loss dict'):
        ow.update_params(torch.zeros(()))  # the captured dict is used once


DDP_SCRIPT = textwrap.dedent('''
    import os, sys
    import torch, torch.distributed as dist, torch.multiprocessing as mp, torch.nn as nn

    def worker(rank, out):
        import datetime
        # a file rendezvous: no TCP port to race for with other test runs
        dist.init_process_group('gloo', init_method=f'file://{out}/rendezvous', rank=rank,
                                world_size=2, timeout=datetime.timedelta(seconds=60))
        import dualopt_mm  # noqa
        from mmengine.model import BaseModel, MMDistributedDataParallel
        from mmengine.optim import build_optim_wrapper

        class M(BaseModel):
            def __init__(self):
                super().__init__()
                self.shared = nn.Linear(3, 4)
                self.a = nn.Linear(4, 1)
                self.b = nn.Linear(4, 1)
            def forward(self, inputs, data_samples=None, mode='tensor'):
                h = torch.tanh(self.shared(inputs))
                return {'loss_a': self.a(h).pow(2).mean(), 'loss_b': (self.b(h) - 1).abs().mean()}

        torch.manual_seed(0)
        model = M()
        ddp = MMDistributedDataParallel(module=model)
        ow = build_optim_wrapper(model, dict(type='OSGDOptimWrapper', tasks=[['_a'], ['_b']],
                                             optimizer=dict(type='SGD', lr=0.0)))
        grads = {}
        ow.optimizer.register_step_pre_hook(lambda o, a, k: grads.update(
            {n: p.grad.clone() for n, p in model.named_parameters()}))
        x = torch.randn(8, 3, generator=torch.Generator().manual_seed(rank))
        ddp.train_step(dict(inputs=x), ow)
        torch.save(grads, f'{out}/rank{rank}.pt')
        dist.barrier()
        # no teardown: destroying the gloo process group (here: when `ddp` and its Reducer are
        # freed after destroy_process_group) can deadlock with a gloo worker thread waiting
        # for the GIL; os._exit skips it
        sys.stdout.flush()
        os._exit(0)

    if __name__ == '__main__':
        import dualopt_mm  # noqa: F401  (imported once, inherited by the forked workers)
        mp.start_processes(worker, args=(sys.argv[1], ), nprocs=2,
                           start_method='fork')
''')


def test_ddp_averages_task_gradients_before_projection(tmp_path):
    script = tmp_path / 'ddp_osgd.py'
    script.write_text(DDP_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)],
                            start_new_session=True)
    try:
        rc = proc.wait(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the launcher and its forked workers
        proc.wait()
        raise
    assert rc == 0, f'the 2-process run failed (rc {rc})'
    g0 = torch.load(tmp_path / 'rank0.pt')
    g1 = torch.load(tmp_path / 'rank1.pt')
    # reference: the same model on each rank's data, task gradients averaged, then projected
    torch.manual_seed(0)
    shared, a, b = nn.Linear(3, 4), nn.Linear(4, 1), nn.Linear(4, 1)
    params = [*shared.parameters(), *a.parameters(), *b.parameters()]
    per_rank = []
    for rank in range(2):
        x = torch.randn(8, 3, generator=torch.Generator().manual_seed(rank))
        h = torch.tanh(shared(x))
        per_rank.append(_task_grads([a(h).pow(2).mean(), (b(h) - 1).abs().mean()], params))
    avg = [[None if r0 is None else (r0 + r1) / 2 for r0, r1 in zip(t0, t1)]
           for t0, t1 in zip(*per_rank)]
    expected = _project(avg)
    names = ['shared.weight', 'shared.bias', 'a.weight', 'a.bias', 'b.weight', 'b.bias']
    for name, exp in zip(names, expected):
        torch.testing.assert_close(g0[name].double(), exp, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(g1[name], g0[name])


# ----------------------------------------------------------------------------- OpenMMLab models
def _tiny_segmentor():
    from mmseg.registry import MODELS
    norm = dict(type='BN', requires_grad=True)
    head = dict(type='FCNHead', channels=8, num_convs=1, concat_input=False, dropout_ratio=0.0,
                num_classes=3, norm_cfg=norm)
    cfg = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1],
                               pad_val=0, seg_pad_val=255, size=(32, 32)),
        backbone=dict(type='ResNetV1c', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                      base_channels=8, stem_channels=8, norm_cfg=norm, style='pytorch'),
        decode_head=dict(head, in_channels=64, in_index=3,
                         loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        auxiliary_head=dict(head, in_channels=32, in_index=2,
                            loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
        train_cfg=dict(), test_cfg=dict(mode='whole'))
    with DefaultScope.overwrite_default_scope('mmseg'):
        return MODELS.build(cfg)


def _seg_batch(n=2, size=32):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(n):
        ds = SegDataSample()
        ds.gt_sem_seg = PixelData(data=torch.randint(0, 3, (1, size, size), generator=g))
        ds.set_metainfo(dict(img_shape=(size, size), pad_shape=(size, size),
                             ori_shape=(size, size)))
        samples.append(ds)
    return dict(inputs=[torch.rand(3, size, size, generator=g) * 255 for _ in range(n)],
                data_samples=samples)


@pytest.mark.openmmlab
def test_mmseg_aux_head_gradient_equals_hand_computation():
    torch.manual_seed(0)
    model = _tiny_segmentor()
    params = [p for p in model.parameters() if p.requires_grad]
    data = _seg_batch()
    batch = model.data_preprocessor(copy.deepcopy(data), True)
    losses = model(**batch, mode='loss')
    assert {'decode.loss_ce', 'aux.loss_ce', 'decode.acc_seg', 'aux.acc_seg'} <= set(losses)
    g_aux, g_dec = _task_grads([losses['aux.loss_ce'], losses['decode.loss_ce']], params)
    expected = _project([g_aux, g_dec])
    # the decode head's own parameters get their raw gradient, the aux head's theirs, and the
    # shared backbone tensors reached by both get g_aux + (g_dec projected off g_aux)
    ow = _osgd(model, [['^aux'], ['^decode']])
    snap = _snapshot_grads(ow, model)
    model.train_step(data, ow)
    _assert_matches(snap, model, expected)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    i = names.index('backbone.stem.0.weight')
    assert not torch.allclose(expected[i], (g_aux[i] + g_dec[i]).double())  # really projected
    j = names.index('decode_head.conv_seg.weight')
    torch.testing.assert_close(snap[names[j]], g_dec[j])


def _tiny_retinanet():
    from mmdet.registry import MODELS
    cfg = dict(
        type='RetinaNet',
        data_preprocessor=dict(type='DetDataPreprocessor', mean=[0, 0, 0], std=[255, 255, 255],
                               pad_size_divisor=32),
        backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(1, 2, 3),
                      base_channels=8, norm_cfg=dict(type='BN', requires_grad=True),
                      norm_eval=False, style='pytorch'),
        neck=dict(type='FPN', in_channels=[16, 32, 64], out_channels=8, start_level=0,
                  add_extra_convs='on_input', num_outs=5),
        bbox_head=dict(
            type='RetinaHead', num_classes=3, in_channels=8, stacked_convs=1, feat_channels=8,
            anchor_generator=dict(type='AnchorGenerator', octave_base_scale=4,
                                  scales_per_octave=3, ratios=[0.5, 1.0, 2.0],
                                  strides=[8, 16, 32, 64, 128]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0] * 4,
                            target_stds=[1.0] * 4),
            loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                          loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4,
                                     min_pos_iou=0, ignore_iof_thr=-1),
                       sampler=dict(type='PseudoSampler'), allowed_border=-1, pos_weight=-1,
                       debug=False),
        test_cfg=dict(nms_pre=100, min_bbox_size=0, score_thr=0.05,
                      nms=dict(type='nms', iou_threshold=0.5), max_per_img=10))
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg)


@pytest.mark.openmmlab
def test_mmdet_per_level_list_losses():
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(0)
    model = _tiny_retinanet()
    params = [p for p in model.parameters() if p.requires_grad]
    data = demo_mm_inputs(batch_size=2, image_shapes=(3, 64, 64), num_items=[2, 3],
                          num_classes=3)
    batch = model.data_preprocessor(copy.deepcopy(data), True)
    losses = model(**batch, mode='loss')
    assert isinstance(losses['loss_cls'], list) and len(losses['loss_cls']) == 5
    loss_cls = sum(x.mean() for x in losses['loss_cls'])
    loss_bbox = sum(x.mean() for x in losses['loss_bbox'])
    expected = _project(_task_grads([loss_bbox, loss_cls], params))
    ow = _osgd(model, [['bbox'], ['cls']])
    snap = _snapshot_grads(ow, model)
    model.train_step(data, ow)
    _assert_matches(snap, model, expected)


@pytest.mark.openmmlab
def test_mmpretrain_single_loss_equals_plain_optim_wrapper():
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample
    cfg = dict(type='ImageClassifier',
               backbone=dict(type='ResNet', depth=18, base_channels=8, out_indices=(3, )),
               neck=dict(type='GlobalAveragePooling'),
               head=dict(type='LinearClsHead', num_classes=3, in_channels=64,
                         loss=dict(type='CrossEntropyLoss')))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg)
    ref = copy.deepcopy(model)
    g = torch.Generator().manual_seed(0)
    data = dict(inputs=[torch.rand(3, 32, 32, generator=g) * 255 for _ in range(4)],
                data_samples=[DataSample().set_gt_label(i % 3) for i in range(4)])
    sgd = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4)
    ow = build_optim_wrapper(model, dict(type='OSGDOptimWrapper', tasks=[['^nomatch']],
                                         optimizer=sgd))
    ow_ref = build_optim_wrapper(ref, dict(type='OptimWrapper', optimizer=sgd))
    assert type(ow_ref) is OptimWrapper
    for _ in range(2):
        out = model.train_step(copy.deepcopy(data), ow)
        out_ref = ref.train_step(copy.deepcopy(data), ow_ref)
        torch.testing.assert_close(out['loss'], out_ref['loss'])
    for (n, p), q in zip(model.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=n)
