"""LayerwiseOptimWrapperConstructor on real backbones and a full detector."""
import pytest
import torch
from torch import nn


def _build(model, optimizer=None, **paramwise):
    import dualopt_mm  # noqa: F401
    from mmengine.optim import build_optim_wrapper
    cfg = dict(optimizer=optimizer or dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
               constructor='LayerwiseOptimWrapperConstructor', paramwise_cfg=paramwise)
    return build_optim_wrapper(model, cfg)


def _wrap(backbone):
    m = nn.Module()
    m.backbone = backbone
    m.head = nn.Linear(4, 3)
    return m


def _ids(optim_wrapper):
    return {n: (g['layer_id'], g['layer_depth'], g['pretrained'])
            for g in optim_wrapper.optimizer.param_groups for n in g['param_names']}


def _refines(ours, theirs):
    """Every strict order of theirs is kept by ours (ours may split their layers further)."""
    names = list(theirs)
    return all(ours[a] < ours[b] for a in names for b in names if theirs[a] < theirs[b])


@pytest.mark.openmmlab
@pytest.mark.parametrize('arch,size', [('resnet50', 64), ('convnext', 64), ('swin', 224), ('vit', 64)])
def test_trace_order_matches_mmpretrain_get_layer_depth(arch, size):
    from mmpretrain.models import ConvNeXt, ResNet, SwinTransformer, VisionTransformer

    from dualopt_mm.engine.layer_depth import compute_layer_ids
    backbone = {'resnet50': lambda: ResNet(depth=50), 'convnext': lambda: ConvNeXt('tiny'),
                'swin': lambda: SwinTransformer('tiny'),
                'vit': lambda: VisionTransformer('deit-tiny', img_size=224)}[arch]()
    model = _wrap(backbone)
    ow = _build(model, depth_mode='trace', trace_input_size=(1, 3, size, size))
    ids = _ids(ow)
    names = [n for n in ids if n.startswith('backbone.')]
    theirs = {n: backbone.get_layer_depth(n, 'backbone.') for n in names}
    assert len({i for i, _ in theirs.values()}) > 3
    ours = {n: ids[n][0] for n in names}
    assert min(ours.values()) == 0
    # the lr-decay numbering keeps every order of mmpretrain's (their norms after the blocks sit
    # with the head); on Swin and ViT it is mmpretrain's numbering exactly
    decay, _ = compute_layer_ids(model, list(ids), ['backbone'], 'trace', (1, 3, size, size), numbering='lr_decay')
    # one known difference: mmpretrain numbers ConvNeXt's downsampling layers with the stage they
    # start; tracing puts them with the block before them, as mmpretrain's own numbering does for
    # Swin's patch merging (depth_mode='auto' uses ConvNeXt.get_layer_depth anyway)
    names = [n for n in names if 'downsample_layers.' not in n or n.startswith('backbone.downsample_layers.0.')]
    assert _refines({n: decay[n][0] for n in names}, {n: theirs[n][0] for n in names})
    if arch in ('swin', 'vit'):
        assert {n: decay[n] for n in names} == theirs
    # the depth numbering keeps mmpretrain's order but for those norms, which join the last block
    assert _refines(ours, {n: theirs[n][0] for n in names if decay[n][0] != decay[n][1] - 1})
    # auto mode takes the model's own numbering when it has one
    auto = _ids(_build(model, depth_mode='model'))
    assert {n: auto[n][0] for n in theirs} == {n: i for n, (i, _) in theirs.items()}


# Real model-zoo configs of every backbone family, as a user's child config would build them:
# (scope, config, levels = stem + blocks in the backbone)
ZOO = {
    'resnet50': ('mmdet', 'retinanet/retinanet_r50_fpn_1x_coco.py', 1 + 16),
    'res2net101': ('mmdet', 'res2net/faster-rcnn_res2net-101_fpn_2x_coco.py', 1 + 33),
    'cspdarknet-yolox-s': ('mmdet', 'yolox/yolox_s_8xb8-300e_coco.py', 1 + 1 + 3 + 3 + 1),
    'cspnext-rtmdet-m': ('mmdet', 'rtmdet/rtmdet_m_8xb32-300e_coco.py', 1 + 12),
    'swin-t-mmdet': ('mmdet', 'swin/retinanet_swin-t-p4-w7_fpn_1x_coco.py', 1 + 12),
    'mit-b0-segformer': ('mmseg', 'segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py', 1 + 8),
    'convnext-t': ('mmpretrain', 'convnext/convnext-tiny_32xb128_in1k.py', 1 + 18),
    'vit-b': ('mmpretrain', 'vision_transformer/vit-base-p16_32xb128-mae_in1k.py', 1 + 12),
    'beit-b': ('mmpretrain', 'beit/benchmarks/beit-base-p16_8xb128-coslr-100e_in1k.py', 1 + 12),
    'mobilenet-v2': ('mmpretrain', 'mobilenet_v2/mobilenet-v2_8xb32_in1k.py', 1 + 17),
    'mobilenet-v3-s': ('mmpretrain', 'mobilenet_v3/mobilenet-v3-small_8xb128_in1k.py', 1 + 11),
    'efficientnet-b0': ('mmpretrain', 'efficientnet/efficientnet-b0_8xb32_in1k.py', 1 + 16),
    'densenet121': ('mmpretrain', 'densenet/densenet121_4xb256_in1k.py', 1 + 58),
    'poolformer-s12': ('mmpretrain', 'poolformer/poolformer-s12_32xb128_in1k.py', 1 + 12),
}


@pytest.mark.openmmlab
@pytest.mark.slow
@pytest.mark.parametrize('name', list(ZOO))
def test_traced_depth_rule_on_model_zoo_backbones(name):
    """Depth is non-decreasing in the order modules run, starts at 0, and has a level per block."""
    from mmengine.hub import get_config
    from mmengine.registry import MODELS, init_default_scope

    from dualopt_mm.engine.layer_depth import _execution_order, _param_modules
    scope, path, levels = ZOO[name]
    init_default_scope(scope)
    cfg = get_config(f'{scope}::{path}').model.backbone
    cfg.pop('init_cfg', None)
    backbone = MODELS.build(cfg)
    backbone.requires_grad_(True)  # frozen stages unfrozen, so every level is seen
    model = _wrap(backbone)
    ids = _ids(_build(model, depth_mode='trace'))
    first = _execution_order(backbone, (1, 3, 224, 224))
    ran = sorted((m for m in _param_modules(backbone) if m in first), key=first.__getitem__)
    by_module = {}
    for n, (i, _, _) in ids.items():
        if n.startswith('backbone.'):
            by_module.setdefault(n[len('backbone.'):].rsplit('.', 1)[0], set()).add(i)
    assert all(len(v) == 1 for v in by_module.values())
    run = [next(iter(by_module[m if m else ''])) for m in ran if (m if m else '') in by_module]
    assert run == sorted(run), name
    assert run[0] == 0
    assert len(set(run)) == levels
    assert {ids[n][0] for n in ids if n.startswith('backbone.')} == set(range(levels))
    assert ids['head.weight'][0] == levels


@pytest.mark.openmmlab
def test_swin_lr_decay_numbering_has_the_standard_14_ids():
    from mmdet.models.backbones import SwinTransformer
    model = _wrap(SwinTransformer(out_indices=(0, 1, 2, 3)))  # Swin-T: depths 2, 2, 6, 2
    ow = _build(model, optimizer=dict(type='AdamW', lr=1e-3), layer_decay_rate=0.5)
    groups = {n: g for g in ow.optimizer.param_groups for n in g['param_names']}
    lrs = sorted({g['lr'] for g in groups.values()})
    assert len(lrs) == 14  # stem + 12 blocks + head, as mmpretrain numbers Swin-T
    # the output norms are decayed like the head, the patch merging like the last block before it
    assert groups['backbone.norm0.weight']['lr'] == pytest.approx(1e-3)
    assert groups['backbone.stages.0.downsample.norm.weight']['lr'] == \
        groups['backbone.stages.0.blocks.1.norm1.weight']['lr'] == pytest.approx(1e-3 * 0.5 ** 11)


@pytest.mark.openmmlab
def test_tracing_failure_warns_through_the_run_log():
    from mmengine.logging import MMLogger
    logger = MMLogger.get_instance('dualopt_depth_warning', log_level='INFO')
    records = []

    class Keep(__import__('logging').Handler):
        def emit(self, record):
            records.append(record.getMessage())
    logger.addHandler(Keep())
    from mmdet.models.backbones import ResNet
    model = _wrap(ResNet(depth=18))
    ids = _ids(_build(model, trace_input_size=(1, 5, 32, 32)))  # 5 channels: the stem refuses it
    assert any('trace_input_size=(1, 5, 32, 32)' in r and 'registration order' in r for r in records)
    assert ids['backbone.layer4.1.conv1.weight'][0] == 8  # the registration-order rule, same depths


@pytest.mark.openmmlab
@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
@pytest.mark.parametrize('depth', [18, 50])
def test_resnet_of_mmdet_and_mmseg(scope, depth):
    if scope == 'mmdet':
        from mmdet.models.backbones import ResNet
    else:
        from mmseg.models.backbones import ResNetV1c as ResNet
    model = _wrap(ResNet(depth=depth))
    ids = _ids(_build(model))  # auto: no get_layer_depth here, so tracing
    stages = [2, 2, 2, 2] if depth == 18 else [3, 4, 6, 3]
    num_layers = 1 + sum(stages) + 1  # stem, blocks, head slot
    assert {v[0] for v in ids.values()} == set(range(num_layers))
    assert ids['backbone.layer1.0.conv1.weight'][0] == 1
    assert ids['backbone.layer4.%d.conv1.weight' % (stages[3] - 1)][0] == num_layers - 2
    assert ids['head.weight'] == (num_layers - 1, 1.0, False)
    # stem: conv1 (and the deep stem of v1c) and its norm share layer 0
    assert all(v[0] == 0 for n, v in ids.items() if n.startswith(('backbone.conv1', 'backbone.bn1',
                                                                   'backbone.stem')))
    # downsample convs belong to their block
    assert ids['backbone.layer2.0.downsample.0.weight'][0] == ids['backbone.layer2.0.conv1.weight'][0]


@pytest.mark.openmmlab
@pytest.mark.parametrize('name', ['cspnext', 'mit'])
def test_backbones_without_get_layer_depth(name):
    if name == 'cspnext':
        from mmdet.models.backbones import CSPNeXt
        backbone = CSPNeXt(deepen_factor=0.167, widen_factor=0.375)
        stage_params = [f'backbone.stage{i}.{1 if i < 4 else 2}.blocks.0.conv1.conv.weight'
                        for i in range(1, 5)]
    else:
        from mmseg.models.backbones import MixVisionTransformer
        backbone = MixVisionTransformer(embed_dims=32, num_layers=[2, 2, 2, 2])
        stage_params = [f'backbone.layers.{i}.1.0.attn.attn.in_proj_weight' for i in range(4)]
    model = _wrap(backbone)
    ids = _ids(_build(model, trace_input_size=(1, 3, 64, 64)))
    order = [ids[n][0] for n in stage_params]
    assert order == sorted(order) and len(set(order)) == 4
    assert all(0 <= v[1] <= 1 for v in ids.values())


def _retinanet():
    from mmengine.hub import get_config
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope('mmdet')
    cfg = get_config('mmdet::retinanet/retinanet_r18_fpn_1x_coco.py')
    cfg.model.backbone.init_cfg = None
    return MODELS.build(cfg.model)


@pytest.mark.openmmlab
def test_full_detector_groups():
    model = _retinanet()
    ow = _build(model, optimizer=dict(type='DualOptSGD', lr=0.01, weight_decay=1e-4),
                norm_decay_mult=0.0, trace_input_size=(1, 3, 64, 64))
    groups = ow.optimizer.param_groups
    names = [n for g in groups for n in g['param_names']]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert sorted(names) == sorted(trainable) and len(names) == len(set(names))
    for g in groups:
        pre = all(n.startswith('backbone.') for n in g['param_names'])
        assert g['pretrained'] == pre
        assert all(n.startswith('backbone.') == pre for n in g['param_names'])
        norm = any('.bn' in n or 'downsample.1' in n for n in g['param_names'])
        if norm:
            assert g['weight_decay'] == 0.0
    # merged: one group per (layer, decay) setting, not per tensor
    assert len(groups) < len(names) / 3
    # mmdet's ResNet freezes its stem (frozen_stages=1): those parameters are skipped
    assert not any(n.startswith('backbone.conv1') for n in names)
    # deterministic
    again = _build(model, optimizer=dict(type='DualOptSGD', lr=0.01, weight_decay=1e-4),
                   norm_decay_mult=0.0, trace_input_size=(1, 3, 64, 64))
    assert [g['param_names'] for g in again.optimizer.param_groups] == [g['param_names'] for g in groups]


@pytest.mark.openmmlab
def test_paramwise_vocabulary_and_custom_keys():
    from mmdet.models.backbones import ResNet
    model = _wrap(ResNet(depth=18, frozen_stages=-1))
    ow = _build(model, optimizer=dict(type='DualOptAdamW', lr=1e-3, weight_decay=0.05, rollback=0.01),
                bias_decay_mult=0.0, norm_decay_mult=0.5,
                custom_keys={'backbone.layer1': dict(lr_mult=0.1, rollback=0.05),
                             'backbone.layer1.0': dict(decay_mult=0.0)})
    by_name = {n: g for g in ow.optimizer.param_groups for n in g['param_names']}
    g = by_name['backbone.layer1.1.conv1.weight']
    assert g['lr'] == pytest.approx(1e-4) and g['rollback'] == 0.05 and g['weight_decay'] == 0.05
    g = by_name['backbone.layer1.0.conv1.weight']  # longest key wins
    assert g['weight_decay'] == 0.0 and g['lr'] == 1e-3 and g['rollback'] == 0.01
    assert by_name['head.bias']['weight_decay'] == 0.0
    assert by_name['backbone.bn1.weight']['weight_decay'] == pytest.approx(0.025)
    assert by_name['backbone.layer2.0.conv1.weight']['weight_decay'] == 0.05
    # every group key is in defaults (schedulers need it) and in every group
    for key in ('layer_id', 'num_layers', 'layer_depth', 'pretrained', 'rollback'):
        assert key in ow.optimizer.defaults
        assert all(key in g for g in ow.optimizer.param_groups)


@pytest.mark.openmmlab
def test_layer_decay_rate():
    from mmdet.models.backbones import ResNet
    model = _wrap(ResNet(depth=18, frozen_stages=-1))
    ow = _build(model, optimizer=dict(type='AdamW', lr=1e-3), layer_decay_rate=0.5)
    for g in ow.optimizer.param_groups:
        assert g['lr'] == pytest.approx(1e-3 * 0.5 ** (g['num_layers'] - 1 - g['layer_id']))
    assert max(g['lr'] for g in ow.optimizer.param_groups) == pytest.approx(1e-3)


@pytest.mark.openmmlab
def test_scheduler_on_custom_group_key():
    import dualopt_mm  # noqa: F401
    from mmengine.optim.scheduler import LinearParamScheduler
    from mmdet.models.backbones import ResNet
    model = _wrap(ResNet(depth=18))
    ow = _build(model, optimizer=dict(type='HybridSGD', lr=0.01, gamma=1.0))
    sched = LinearParamScheduler(ow, param_name='gamma', start_factor=1.0, end_factor=0.0, begin=0, end=4,
                                 by_epoch=False)
    for _ in range(2):
        sched.step()
    # linear from 1 to 0 over end - begin - 1 = 3 steps
    assert all(g['gamma'] == pytest.approx(1 / 3) for g in ow.optimizer.param_groups)


def test_shared_and_frozen_parameters():
    model = _wrap(nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)))
    model.backbone[2].weight = model.backbone[0].weight  # tied
    model.backbone[1].bias.requires_grad_(False)
    ow = _build(model, depth_mode='order')
    names = [n for g in ow.optimizer.param_groups for n in g['param_names']]
    assert 'backbone.1.bias' not in names
    assert sum(1 for g in ow.optimizer.param_groups for p in g['params'] if p is model.backbone[0].weight) == 1


@pytest.mark.openmmlab
def test_errors():
    from mmdet.models.backbones import ResNet
    model = _wrap(ResNet(depth=18))
    with pytest.raises(ValueError, match="pretrained_prefixes.*'encoder'"):
        _build(model, pretrained_prefixes=['encoder'])
    with pytest.raises(ValueError, match='unknown keys'):
        _build(model, norm_decay=0.0)
    with pytest.raises(ValueError, match='depth_mode'):
        _build(model, depth_mode='magic')
    with pytest.raises(ValueError, match='layer_decay_rate'):
        _build(model, layer_decay_rate=1.5)
    with pytest.raises(ValueError, match='get_layer_depth'):
        _build(model, depth_mode='model')


@pytest.mark.openmmlab
def test_ddp_wrapped_model_is_unwrapped():
    from mmdet.models.backbones import ResNet
    model = _wrap(ResNet(depth=18))
    holder = nn.Module()
    holder.module = model
    ow = _build(holder)
    assert all(n.startswith(('backbone.', 'head.')) for g in ow.optimizer.param_groups
               for n in g['param_names'])


class _EdgeModel(nn.Module):
    """Every case mmengine's constructor treats specially: a root-level parameter, norms, a
    depth-wise conv, a flat parameter, a deformable conv (its offset conv is a DCN part) and a
    plain conv that is only *named* conv_offset (mmdet's FeatureAdaption)."""

    def __init__(self):
        super().__init__()
        from mmcv.ops import DeformConv2dPack
        self.cls_token = nn.Parameter(torch.zeros(1, 4))
        self.backbone = nn.Module()
        self.backbone.conv = nn.Conv2d(3, 4, 3, bias=True)
        self.backbone.bn = nn.BatchNorm2d(4)
        self.backbone.dw = nn.Conv2d(4, 4, 3, groups=4)
        self.backbone.gn = nn.GroupNorm(2, 4)
        self.backbone.scale = nn.Parameter(torch.ones(4))
        self.backbone.dcn = DeformConv2dPack(4, 4, 3, padding=1)
        self.head = nn.Module()
        self.head.conv_offset = nn.Conv2d(4, 18, 1)
        self.head.fc = nn.Linear(4, 2)


def _effective(optimizer):
    """param id -> (lr, weight_decay) the optimizer really uses."""
    return {id(p): (g['lr'], g.get('weight_decay', 0.0)) for g in optimizer.param_groups for p in g['params']}


@pytest.mark.openmmlab
@pytest.mark.parametrize('paramwise', [
    dict(),
    dict(bias_lr_mult=2.0, bias_decay_mult=0.5, norm_decay_mult=0.0, dwconv_decay_mult=0.1,
         flat_decay_mult=0.3, dcn_offset_lr_mult=0.1),
    dict(custom_keys={'.cls_token': dict(decay_mult=0.0), 'head': dict(lr_mult=10.0),
                      'backbone.bn': dict(lr_mult=0.5, decay_mult=2.0)}, norm_decay_mult=0.25),
    dict(custom_keys={'conv_offset': dict(lr_mult=0.01)}, dcn_offset_lr_mult=0.5, bias_lr_mult=3.0),
])
def test_effective_lr_and_decay_equal_mmengines_default_constructor(paramwise):
    import copy

    import dualopt_mm  # noqa: F401
    from mmengine.optim import DefaultOptimWrapperConstructor
    torch.manual_seed(0)
    model = _EdgeModel()
    opt = dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-2)
    theirs = DefaultOptimWrapperConstructor(dict(optimizer=opt), copy.deepcopy(paramwise))(model)
    ours = _build(model, optimizer=opt, depth_mode='order', pretrained_prefixes=[''], **copy.deepcopy(paramwise))
    t, o = _effective(theirs.optimizer), _effective(ours.optimizer)
    names = {id(p): n for n, p in model.named_parameters()}
    assert set(t) == set(o)
    diff = {names[k]: (t[k], o[k]) for k in t if t[k] != pytest.approx(o[k])}
    assert not diff


@pytest.mark.openmmlab  # mmcv's deformable conv in _EdgeModel
def test_multipliers_of_missing_lr_or_decay_and_non_numbers_are_refused():
    model = _EdgeModel()
    for kw, msg in [(dict(norm_decay_mult=0.0), 'norm_decay_mult.*no weight_decay'),
                    (dict(custom_keys={'head': dict(decay_mult=0.0)}), r"custom_keys\['head'\].decay_mult"),
                    (dict(flat_decay_mult=0.0), 'flat_decay_mult')]:
        with pytest.raises(ValueError, match=msg):
            _build(model, optimizer=dict(type='SGD', lr=0.1), depth_mode='order', **kw)
    with pytest.raises(ValueError, match='bias_lr_mult.*no lr'):
        _build(model, optimizer=dict(type='SGD', weight_decay=0.0), depth_mode='order', bias_lr_mult=2.0)
    with pytest.raises(ValueError, match=r"custom_keys\['head'\].lr_mult must be a number"):
        _build(model, depth_mode='order', custom_keys={'head': dict(lr_mult='10')})
    with pytest.raises(ValueError, match='norm_decay_mult must be a number'):
        _build(model, depth_mode='order', norm_decay_mult=True)


@pytest.mark.openmmlab
def test_custom_key_typos_raise_and_unmatched_keys_warn(monkeypatch):
    from dualopt_mm.engine import constructor
    model = _EdgeModel()
    with pytest.raises(ValueError, match=r"custom_keys\['backbone.conv'\]: DualOptAdamW reads no group key \['rolback'\]"):
        _build(model, optimizer=dict(type='DualOptAdamW', lr=1e-3), depth_mode='order',
               custom_keys={'backbone.conv': dict(rolback=0.5)})
    logged = []
    monkeypatch.setattr(constructor, 'print_log', lambda msg, **kw: logged.append((msg, kw.get('level'))))
    ow = _build(model, optimizer=dict(type='DualOptAdamW', lr=1e-3), depth_mode='order',
                custom_keys={'backbone.conv': dict(rollback=0.5), 'backbone.layer9': dict(lr_mult=0.1)})
    warnings = [m for m, level in logged if level == 30]
    assert len(warnings) == 1 and "custom_keys['backbone.layer9'] matches no trainable parameter" in warnings[0]
    # which parameters a custom key changed is logged (a frozen stem's key matches nothing: warned)
    assert any("custom_keys['backbone.conv'] sets {'rollback': 0.5} on 2 parameter tensor(s)" in m for m, _ in logged)
    by_name = {n: g for g in ow.optimizer.param_groups for n in g['param_names']}
    assert by_name['backbone.conv.weight']['rollback'] == 0.5


def test_a_bare_backbone_is_all_pretrained_and_the_first_argument_need_not_be_params():
    import dualopt_mm  # noqa: F401
    from mmengine.registry import OPTIMIZERS

    class Named(torch.optim.SGD):
        def __init__(self, model_params, lr=0.1):
            super().__init__(model_params, lr=lr)
    if 'NamedFirstArgSGD' not in OPTIMIZERS.module_dict:
        OPTIMIZERS.register_module(name='NamedFirstArgSGD', module=Named)
    model = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    ow = _build(model, optimizer=dict(type='NamedFirstArgSGD', lr=0.1), depth_mode='order', pretrained_prefixes=[''])
    assert all(g['pretrained'] for g in ow.optimizer.param_groups)
    assert sum(len(g['params']) for g in ow.optimizer.param_groups) == 4


def test_stats_hook_reports_the_depths_and_pull_the_optimizer_applied():
    """Without the constructor there is no layer_depth: the optimizer uses tensor order, and so
    must the statistics (not depth 0 for everything)."""
    import dualopt_mm  # noqa: F401
    from dualopt_mm.engine.hooks import OptimizerStatsHook
    from dualopt_mm.optim import DualOptAdamW
    torch.manual_seed(0)
    params = [torch.randn(3, requires_grad=True) for _ in range(4)]
    opt = DualOptAdamW(params, lr=1e-2, rollback=0.2, rollback_min=0.05)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    stats = OptimizerStatsHook(num_buckets=4).collect(opt)
    # tensor-order depths 0, 1/3, 2/3, 1: one tensor per bucket
    assert {k for k in stats if k.startswith('anchor_dist/')} == {f'anchor_dist/d{b}' for b in range(4)}
    # the pull of the shallowest tensor (depth 0): r_max, at the initial lr
    assert stats['rollback_lambda'] == pytest.approx(0.2)


def test_stats_hook_logs_the_distance_to_the_start_for_a_plain_optimizer():
    from types import SimpleNamespace

    import dualopt_mm  # noqa: F401
    from dualopt_mm.engine.hooks import OptimizerStatsHook
    torch.manual_seed(0)
    params = [torch.randn(3, requires_grad=True) for _ in range(2)]
    opt = torch.optim.SGD(params, lr=0.1)
    start = [p.detach().clone() for p in params]
    hook = OptimizerStatsHook(num_buckets=2)
    runner = SimpleNamespace(optim_wrapper=SimpleNamespace(optimizer=opt))
    hook.before_train(runner)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    stats = hook.collect(opt)
    for b, (p, s) in enumerate(zip(params, start)):
        want = float(torch.linalg.vector_norm(p.detach() - s) / torch.linalg.vector_norm(s))
        assert stats[f'start_dist/d{b}'] == pytest.approx(want)
    assert not any(k.startswith('anchor_dist') for k in stats)
    assert OptimizerStatsHook(start_distance=False).collect(opt) == {}


# Real model-zoo configs that carry a paramwise_cfg of their own: model and optim_wrapper as the
# upstream config builds them, our constructor in place of mmengine's
ZOO_PARAMWISE = {
    'detr-r50': ('mmdet', 'detr/detr_r50_8xb2-150e_coco.py'),
    'rtmdet-tiny': ('mmdet', 'rtmdet/rtmdet_tiny_8xb32-300e_coco.py'),
    'segformer-mit-b0': ('mmseg', 'segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'),
    'swin-tiny-cls': ('mmpretrain', 'swin_transformer/swin-tiny_16xb64_in1k.py'),
    'vit-base-cls': ('mmpretrain', 'vision_transformer/vit-base-p16_32xb128-mae_in1k.py'),
}


@pytest.mark.openmmlab
@pytest.mark.slow
@pytest.mark.parametrize('name', list(ZOO_PARAMWISE))
def test_effective_settings_equal_mmengines_on_model_zoo_configs(name):
    import copy

    import dualopt_mm  # noqa: F401
    from mmengine.hub import get_config
    from mmengine.optim import DefaultOptimWrapperConstructor
    from mmengine.registry import MODELS, init_default_scope
    scope, path = ZOO_PARAMWISE[name]
    init_default_scope(scope)
    cfg = get_config(f'{scope}::{path}')
    cfg.model.backbone.pop('init_cfg', None)
    model = MODELS.build(cfg.model)
    ow_cfg = cfg.optim_wrapper.to_dict()
    paramwise = ow_cfg.get('paramwise_cfg', {})
    assert paramwise, f'{path} has no paramwise_cfg: pick another config'
    theirs = DefaultOptimWrapperConstructor(dict(optimizer=ow_cfg['optimizer']), copy.deepcopy(paramwise))(model)
    ours = _build(model, optimizer=copy.deepcopy(ow_cfg['optimizer']), depth_mode='order', **copy.deepcopy(paramwise))
    t, o = _effective(theirs.optimizer), _effective(ours.optimizer)
    names = {id(p): n for n, p in model.named_parameters()}
    assert set(t) == set(o)
    diff = {names[k]: (t[k], o[k]) for k in t if t[k] != pytest.approx(o[k])}
    assert not diff
    # the config's rules really differ between parameters (the comparison is not trivial)
    assert len(set(t.values())) > 1


@pytest.mark.openmmlab
@pytest.mark.slow
@pytest.mark.parametrize('depth_mode', ['model', 'trace'])
def test_layer_decay_lr_equals_mmpretrains_constructor(depth_mode):
    """mmpretrain's LearningRateDecayOptimWrapperConstructor on its Swin-T classifier: the same lr
    for every parameter, from its get_layer_depth or from tracing."""
    import dualopt_mm  # noqa: F401
    from mmengine.hub import get_config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope('mmpretrain')
    cfg = get_config('mmpretrain::swin_transformer/swin-tiny_16xb64_in1k.py')
    model = MODELS.build(cfg.model)
    opt = dict(type='AdamW', lr=1e-3, weight_decay=0.05)
    theirs = build_optim_wrapper(model, dict(optimizer=opt, constructor='LearningRateDecayOptimWrapperConstructor',
                                             paramwise_cfg=dict(layer_decay_rate=0.65)))
    ours = _build(model, optimizer=opt, depth_mode=depth_mode, layer_decay_rate=0.65)
    lr = lambda ow: {id(p): g['lr'] for g in ow.optimizer.param_groups for p in g['params']}  # noqa: E731
    t, o = lr(theirs), lr(ours)
    assert set(t) == set(o) and len(set(t.values())) == 14
    names = {id(p): n for n, p in model.named_parameters()}
    assert not {names[k]: (t[k], o[k]) for k in t if t[k] != pytest.approx(o[k])}
