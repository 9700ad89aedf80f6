_dataset = dict(
    data_root='data/synthetic/downstream/ade',
    img_suffix='.jpg',
    metainfo=dict(
        classes=(
            'background',
            'circle',
            'square',
            'triangle',
            'star',
            'hexagon',
        ),
        palette=[
            [
                120,
                120,
                120,
            ],
            [
                220,
                20,
                60,
            ],
            [
                0,
                128,
                255,
            ],
            [
                255,
                165,
                0,
            ],
            [
                60,
                179,
                113,
            ],
            [
                148,
                0,
                211,
            ],
        ]),
    reduce_zero_label=True,
    seg_map_suffix='.png',
    type='BaseSegDataset')
crop_size = (
    128,
    128,
)
custom_hooks = [
    dict(type='AnchorHook'),
    dict(interval=50, type='OptimizerStatsHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'dualopt_mm',
    ])
data_preprocessor = dict(
    _scope_='mmseg',
    bgr_to_rgb=True,
    mean=[
        123.675,
        116.28,
        103.53,
    ],
    pad_val=0,
    seg_pad_val=255,
    std=[
        58.395,
        57.12,
        57.375,
    ],
    type='SegDataPreProcessor')
data_root = 'data/synthetic/downstream/ade'
dataset_type = 'BaseSegDataset'
default_hooks = dict(
    checkpoint=None,
    logger=dict(interval=10, log_metric_by_epoch=False, type='LoggerHook'),
    param_scheduler=dict(type='ParamSchedulerHook'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    timer=dict(type='IterTimerHook'),
    visualization=dict(type='SegVisualizationHook'))
default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='gloo'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
experiment_name = 'fpn_r18_shapes_spd-adamw_semantic_seg_finetune_spd_adamw_lr0_001_s1_eedfd4'
img_ratios = [
    0.5,
    0.75,
    1.0,
    1.25,
    1.5,
    1.75,
]
launcher = 'none'
load_from = None
log_level = 'WARNING'
log_processor = dict(by_epoch=False)
max_iters = 1000
metainfo = dict(
    classes=(
        'background',
        'circle',
        'square',
        'triangle',
        'star',
        'hexagon',
    ),
    palette=[
        [
            120,
            120,
            120,
        ],
        [
            220,
            20,
            60,
        ],
        [
            0,
            128,
            255,
        ],
        [
            255,
            165,
            0,
        ],
        [
            60,
            179,
            113,
        ],
        [
            148,
            0,
            211,
        ],
    ])
method_optim_wrapper = dict(
    clip_grad=dict(max_norm=10, norm_type=2),
    constructor='LayerwiseOptimWrapperConstructor',
    optimizer=dict(
        betas=(
            0.9,
            0.999,
        ),
        lr=0.001,
        projection_decay=1.0,
        type='SPDAdamW',
        weight_decay=0.0),
    paramwise_cfg=dict(pretrained_prefixes=[
        'backbone',
    ]),
    type='OptimWrapper')
model = dict(
    _scope_='mmseg',
    backbone=dict(
        contract_dilation=True,
        depth=18,
        dilations=(
            1,
            1,
            1,
            1,
        ),
        init_cfg=dict(
            checkpoint='checkpoints/upstream_resnet18.pth',
            prefix='backbone.',
            type='Pretrained'),
        norm_cfg=dict(requires_grad=True, type='BN'),
        norm_eval=False,
        num_stages=4,
        out_indices=(
            0,
            1,
            2,
            3,
        ),
        strides=(
            1,
            2,
            2,
            2,
        ),
        style='pytorch',
        type='ResNet'),
    data_preprocessor=dict(
        bgr_to_rgb=True,
        mean=[
            123.675,
            116.28,
            103.53,
        ],
        pad_val=0,
        seg_pad_val=255,
        size=(
            128,
            128,
        ),
        std=[
            58.395,
            57.12,
            57.375,
        ],
        type='SegDataPreProcessor'),
    decode_head=dict(
        align_corners=False,
        channels=64,
        dropout_ratio=0.1,
        feature_strides=[
            4,
            8,
            16,
            32,
        ],
        in_channels=[
            64,
            64,
            64,
            64,
        ],
        in_index=[
            0,
            1,
            2,
            3,
        ],
        loss_decode=dict(
            loss_weight=1.0, type='CrossEntropyLoss', use_sigmoid=False),
        norm_cfg=dict(requires_grad=True, type='BN'),
        num_classes=6,
        type='FPNHead'),
    neck=dict(
        in_channels=[
            64,
            128,
            256,
            512,
        ],
        num_outs=4,
        out_channels=64,
        type='FPN'),
    pretrained=None,
    test_cfg=dict(mode='whole'),
    train_cfg=dict(),
    type='EncoderDecoder')
norm_cfg = dict(_scope_='mmseg', requires_grad=True, type='BN')
ood_split = dict(
    img_path='images/validation_ood',
    seg_map_path='annotations/validation_ood')
optim_wrapper = dict(
    clip_grad=dict(max_norm=10, norm_type=2),
    constructor='LayerwiseOptimWrapperConstructor',
    optimizer=dict(
        betas=(
            0.9,
            0.999,
        ),
        lr=0.001,
        projection_decay=1.0,
        type='SPDAdamW',
        weight_decay=0.0),
    paramwise_cfg=dict(pretrained_prefixes=[
        'backbone',
    ]),
    type='OptimWrapper')
param_scheduler = [
    dict(begin=0, by_epoch=False, end=30, start_factor=0.1, type='LinearLR'),
    dict(
        T_max=200,
        begin=0,
        by_epoch=False,
        end=200,
        eta_min_ratio=0.05,
        type='CosineAnnealingLR'),
]
randomness = dict(deterministic=False, seed=1)
resume = False
test_cfg = dict(type='TestLoop')
test_dataloader = dict(
    batch_size=8,
    dataset=dict(
        _scope_='mmseg',
        data_prefix=dict(
            img_path='images/validation_ood',
            seg_map_path='annotations/validation_ood'),
        data_root='data/synthetic/downstream/ade',
        img_suffix='.jpg',
        metainfo=dict(
            classes=(
                'background',
                'circle',
                'square',
                'triangle',
                'star',
                'hexagon',
            ),
            palette=[
                [
                    120,
                    120,
                    120,
                ],
                [
                    220,
                    20,
                    60,
                ],
                [
                    0,
                    128,
                    255,
                ],
                [
                    255,
                    165,
                    0,
                ],
                [
                    60,
                    179,
                    113,
                ],
                [
                    148,
                    0,
                    211,
                ],
            ]),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(keep_ratio=True, scale=(
                128,
                128,
            ), type='Resize'),
            dict(reduce_zero_label=True, type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ],
        reduce_zero_label=True,
        seg_map_suffix='.png',
        type='BaseSegDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_scope_='mmseg', shuffle=False, type='DefaultSampler'))
test_evaluator = dict(
    _scope_='mmseg', iou_metrics=[
        'mIoU',
    ], type='IoUMetric')
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(keep_ratio=True, scale=(
        128,
        128,
    ), type='Resize'),
    dict(reduce_zero_label=True, type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
train_cfg = dict(
    max_iters=200, type='IterBasedTrainLoop', val_begin=201, val_interval=200)
train_dataloader = dict(
    batch_size=8,
    dataset=dict(
        _scope_='mmseg',
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'),
        data_root='data/synthetic/downstream/ade',
        img_suffix='.jpg',
        metainfo=dict(
            classes=(
                'background',
                'circle',
                'square',
                'triangle',
                'star',
                'hexagon',
            ),
            palette=[
                [
                    120,
                    120,
                    120,
                ],
                [
                    220,
                    20,
                    60,
                ],
                [
                    0,
                    128,
                    255,
                ],
                [
                    255,
                    165,
                    0,
                ],
                [
                    60,
                    179,
                    113,
                ],
                [
                    148,
                    0,
                    211,
                ],
            ]),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(reduce_zero_label=True, type='LoadAnnotations'),
            dict(
                keep_ratio=True,
                ratio_range=(
                    0.75,
                    1.5,
                ),
                scale=(
                    128,
                    128,
                ),
                type='RandomResize'),
            dict(cat_max_ratio=0.9, crop_size=(
                128,
                128,
            ), type='RandomCrop'),
            dict(prob=0.5, type='RandomFlip'),
            dict(type='PackSegInputs'),
        ],
        reduce_zero_label=True,
        seg_map_suffix='.png',
        type='BaseSegDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_scope_='mmseg', shuffle=True, type='InfiniteSampler'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(reduce_zero_label=True, type='LoadAnnotations'),
    dict(
        keep_ratio=True,
        ratio_range=(
            0.75,
            1.5,
        ),
        scale=(
            128,
            128,
        ),
        type='RandomResize'),
    dict(cat_max_ratio=0.9, crop_size=(
        128,
        128,
    ), type='RandomCrop'),
    dict(prob=0.5, type='RandomFlip'),
    dict(type='PackSegInputs'),
]
tta_model = dict(_scope_='mmseg', type='SegTTAModel')
tta_pipeline = [
    dict(_scope_='mmseg', backend_args=None, type='LoadImageFromFile'),
    dict(
        _scope_='mmseg',
        transforms=[
            [
                dict(keep_ratio=True, scale_factor=0.5, type='Resize'),
                dict(keep_ratio=True, scale_factor=0.75, type='Resize'),
                dict(keep_ratio=True, scale_factor=1.0, type='Resize'),
                dict(keep_ratio=True, scale_factor=1.25, type='Resize'),
                dict(keep_ratio=True, scale_factor=1.5, type='Resize'),
                dict(keep_ratio=True, scale_factor=1.75, type='Resize'),
            ],
            [
                dict(direction='horizontal', prob=0.0, type='RandomFlip'),
                dict(direction='horizontal', prob=1.0, type='RandomFlip'),
            ],
            [
                dict(type='LoadAnnotations'),
            ],
            [
                dict(type='PackSegInputs'),
            ],
        ],
        type='TestTimeAug'),
]
val_cfg = dict(type='ValLoop')
val_dataloader = dict(
    batch_size=8,
    dataset=dict(
        _scope_='mmseg',
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        data_root='data/synthetic/downstream/ade',
        img_suffix='.jpg',
        metainfo=dict(
            classes=(
                'background',
                'circle',
                'square',
                'triangle',
                'star',
                'hexagon',
            ),
            palette=[
                [
                    120,
                    120,
                    120,
                ],
                [
                    220,
                    20,
                    60,
                ],
                [
                    0,
                    128,
                    255,
                ],
                [
                    255,
                    165,
                    0,
                ],
                [
                    60,
                    179,
                    113,
                ],
                [
                    148,
                    0,
                    211,
                ],
            ]),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(keep_ratio=True, scale=(
                128,
                128,
            ), type='Resize'),
            dict(reduce_zero_label=True, type='LoadAnnotations'),
            dict(type='PackSegInputs'),
        ],
        reduce_zero_label=True,
        seg_map_suffix='.png',
        type='BaseSegDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_scope_='mmseg', shuffle=False, type='DefaultSampler'))
val_evaluator = dict(
    _scope_='mmseg', iou_metrics=[
        'mIoU',
    ], type='IoUMetric')
vis_backends = [
    dict(_scope_='mmseg', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmseg',
    name='visualizer_semantic_seg_finetune_spd_adamw_lr0_001_s1_eedfd4',
    type='SegLocalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = 'work_dirs/benchmark/mini/semantic_seg-finetune__spd_adamw__lr0.001__s1'
