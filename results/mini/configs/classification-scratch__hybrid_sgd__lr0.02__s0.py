custom_hooks = [
    dict(interval=50, type='OptimizerStatsHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'dualopt_mm',
    ])
data_preprocessor = dict(
    mean=[
        123.675,
        116.28,
        103.53,
    ],
    num_classes=5,
    std=[
        58.395,
        57.12,
        57.375,
    ],
    to_rgb=True)
data_root = 'data/synthetic/downstream/cls'
dataset_type = 'CustomDataset'
default_hooks = dict(
    checkpoint=None,
    logger=dict(_scope_='mmpretrain', interval=10, type='LoggerHook'),
    param_scheduler=dict(_scope_='mmpretrain', type='ParamSchedulerHook'),
    sampler_seed=dict(_scope_='mmpretrain', type='DistSamplerSeedHook'),
    timer=dict(_scope_='mmpretrain', type='IterTimerHook'),
    visualization=dict(
        _scope_='mmpretrain', enable=False, type='VisualizationHook'))
default_scope = 'mmpretrain'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='gloo'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
experiment_name = 'resnet18_shapes_hybrid-sgd_classification_scratch_hybrid_sgd_lr0_02_s0_b74c5e'
launcher = 'none'
load_from = None
log_level = 'WARNING'
max_epochs = 10
method_optim_wrapper = dict(
    clip_grad=dict(max_norm=10, norm_type=2),
    constructor='LayerwiseOptimWrapperConstructor',
    optimizer=dict(
        gamma=0.5,
        lr=0.02,
        lr_in=1.0,
        lr_out=0.001,
        momentum=0.9,
        type='HybridSGD',
        weight_decay=0.0001),
    paramwise_cfg=dict(norm_decay_mult=0.0),
    type='OptimWrapper')
model = dict(
    _scope_='mmpretrain',
    backbone=dict(
        depth=18,
        init_cfg=[
            dict(layer=[
                'Conv2d',
            ], type='Kaiming'),
            dict(layer=[
                '_BatchNorm',
                'GroupNorm',
            ], type='Constant', val=1),
        ],
        num_stages=4,
        out_indices=(3, ),
        style='pytorch',
        type='ResNet'),
    head=dict(
        in_channels=512,
        loss=dict(loss_weight=1.0, type='CrossEntropyLoss'),
        num_classes=5,
        topk=(1, ),
        type='LinearClsHead'),
    neck=dict(type='GlobalAveragePooling'),
    type='ImageClassifier')
num_classes = 5
ood_split = dict(data_prefix='val_ood')
optim_wrapper = dict(
    clip_grad=dict(max_norm=10, norm_type=2),
    constructor='LayerwiseOptimWrapperConstructor',
    optimizer=dict(
        gamma=0.5,
        lr=0.02,
        lr_in=1.0,
        lr_out=0.001,
        momentum=0.9,
        type='HybridSGD',
        weight_decay=0.0001),
    paramwise_cfg=dict(norm_decay_mult=0.0),
    type='OptimWrapper')
param_scheduler = [
    dict(begin=0, by_epoch=False, end=20, start_factor=0.1, type='LinearLR'),
    dict(
        T_max=15,
        begin=0,
        by_epoch=True,
        convert_to_iter_based=True,
        end=15,
        eta_min_ratio=0.05,
        type='CosineAnnealingLR'),
]
randomness = dict(deterministic=False, seed=0)
resume = False
test_cfg = dict()
test_dataloader = dict(
    batch_size=64,
    dataset=dict(
        data_prefix='val_ood',
        data_root='data/synthetic/downstream/cls',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='PackInputs'),
        ],
        type='CustomDataset',
        with_label=True),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_scope_='mmpretrain', shuffle=False, type='DefaultSampler'))
test_evaluator = dict(_scope_='mmpretrain', topk=(1, ), type='Accuracy')
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
train_cfg = dict(by_epoch=True, max_epochs=15, val_begin=16, val_interval=15)
train_dataloader = dict(
    batch_size=32,
    dataset=dict(
        data_prefix='train',
        data_root='data/synthetic/downstream/cls',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(
                crop_ratio_range=(
                    0.6,
                    1.0,
                ),
                scale=64,
                type='RandomResizedCrop'),
            dict(direction='horizontal', prob=0.5, type='RandomFlip'),
            dict(type='PackInputs'),
        ],
        type='CustomDataset',
        with_label=True),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_scope_='mmpretrain', shuffle=True, type='DefaultSampler'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(crop_ratio_range=(
        0.6,
        1.0,
    ), scale=64, type='RandomResizedCrop'),
    dict(direction='horizontal', prob=0.5, type='RandomFlip'),
    dict(type='PackInputs'),
]
val_cfg = dict()
val_dataloader = dict(
    batch_size=64,
    dataset=dict(
        data_prefix='val',
        data_root='data/synthetic/downstream/cls',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='PackInputs'),
        ],
        type='CustomDataset',
        with_label=True),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_scope_='mmpretrain', shuffle=False, type='DefaultSampler'))
val_evaluator = dict(_scope_='mmpretrain', topk=(1, ), type='Accuracy')
vis_backends = [
    dict(_scope_='mmpretrain', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmpretrain',
    name='visualizer_classification_scratch_hybrid_sgd_lr0_02_s0_b74c5e',
    type='UniversalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = 'work_dirs/benchmark/mini/classification-scratch__hybrid_sgd__lr0.02__s0'
