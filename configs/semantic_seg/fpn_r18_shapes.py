# Semantic FPN R18 on the synthetic shapes scenes (ADE20K layout, 128 px), sized for 2 CPU cores.
# ResNet v1 (not v1c) so that the project's upstream-pretrained backbone loads into every task.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    '../_base_/datasets/shapes_ade.py',
    '../_base_/runtime/mmseg_cpu.py',
]
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(128, 128)),
    pretrained=None,
    backbone=dict(type='ResNet', depth=18, norm_cfg=norm_cfg, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    decode_head=dict(in_channels=[64, 64, 64, 64], channels=64, num_classes=6, norm_cfg=norm_cfg))

max_iters = 1000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
train_dataloader = dict(sampler=dict(type='InfiniteSampler', shuffle=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=0, end=max_iters, T_max=max_iters,
         eta_min_ratio=0.05),
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=None)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=max_iters))
log_processor = dict(by_epoch=False)
