backend_args = None
custom_hooks = [
    dict(type='AnchorHook'),
    dict(interval=50, type='OptimizerStatsHook'),
]
custom_imports = dict(
    allow_failed_imports=False, imports=[
        'dualopt_mm',
    ])
data_root = 'data/synthetic/downstream/coco/'
dataset_type = 'CocoDataset'
default_hooks = dict(
    checkpoint=None,
    logger=dict(_scope_='mmdet', interval=10, type='LoggerHook'),
    param_scheduler=dict(_scope_='mmdet', type='ParamSchedulerHook'),
    sampler_seed=dict(_scope_='mmdet', type='DistSamplerSeedHook'),
    timer=dict(_scope_='mmdet', type='IterTimerHook'),
    visualization=dict(_scope_='mmdet', type='DetVisualizationHook'))
default_scope = 'mmdet'
env_cfg = dict(
    cudnn_benchmark=False,
    dist_cfg=dict(backend='gloo'),
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
experiment_name = 'retinanet_r18_fpn_shapes_l2sp-adamw_detection_finetune_l2sp_adamw_lr0_0002_s0_977dab'
image_size = 128
launcher = 'none'
load_from = None
log_level = 'WARNING'
log_processor = dict(
    _scope_='mmdet', by_epoch=True, type='LogProcessor', window_size=50)
max_epochs = 24
metainfo = dict(
    classes=(
        'circle',
        'square',
        'triangle',
        'star',
        'hexagon',
    ),
    palette=[
        (
            220,
            20,
            60,
        ),
        (
            0,
            128,
            255,
        ),
        (
            255,
            165,
            0,
        ),
        (
            60,
            179,
            113,
        ),
        (
            148,
            0,
            211,
        ),
    ])
method_optim_wrapper = dict(
    clip_grad=dict(max_norm=10, norm_type=2),
    constructor='LayerwiseOptimWrapperConstructor',
    optimizer=dict(
        betas=(
            0.9,
            0.999,
        ),
        lr=0.0002,
        sp_alpha=0.01,
        type='L2SPAdamW',
        weight_decay=0.0),
    paramwise_cfg=dict(pretrained_prefixes=[
        'backbone',
    ]),
    type='OptimWrapper')
model = dict(
    _scope_='mmdet',
    backbone=dict(
        depth=18,
        frozen_stages=-1,
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
        style='pytorch',
        type='ResNet'),
    bbox_head=dict(
        anchor_generator=dict(
            octave_base_scale=2,
            ratios=[
                0.5,
                1.0,
                2.0,
            ],
            scales_per_octave=3,
            strides=[
                8,
                16,
                32,
                64,
                128,
            ],
            type='AnchorGenerator'),
        bbox_coder=dict(
            target_means=[
                0.0,
                0.0,
                0.0,
                0.0,
            ],
            target_stds=[
                1.0,
                1.0,
                1.0,
                1.0,
            ],
            type='DeltaXYWHBBoxCoder'),
        feat_channels=128,
        in_channels=128,
        loss_bbox=dict(loss_weight=1.0, type='L1Loss'),
        loss_cls=dict(
            alpha=0.25,
            gamma=2.0,
            loss_weight=1.0,
            type='FocalLoss',
            use_sigmoid=True),
        num_classes=5,
        stacked_convs=2,
        type='RetinaHead'),
    data_preprocessor=dict(
        bgr_to_rgb=True,
        mean=[
            123.675,
            116.28,
            103.53,
        ],
        pad_size_divisor=32,
        std=[
            58.395,
            57.12,
            57.375,
        ],
        type='DetDataPreprocessor'),
    neck=dict(
        add_extra_convs='on_input',
        in_channels=[
            64,
            128,
            256,
            512,
        ],
        num_outs=5,
        out_channels=128,
        start_level=1,
        type='FPN'),
    test_cfg=dict(
        max_per_img=50,
        min_bbox_size=0,
        nms=dict(iou_threshold=0.5, type='nms'),
        nms_pre=300,
        score_thr=0.05),
    train_cfg=dict(
        allowed_border=-1,
        assigner=dict(
            ignore_iof_thr=-1,
            min_pos_iou=0,
            neg_iou_thr=0.4,
            pos_iou_thr=0.5,
            type='MaxIoUAssigner'),
        debug=False,
        pos_weight=-1,
        sampler=dict(type='PseudoSampler')),
    type='RetinaNet')
ood_split = dict(
    ann_file='annotations/instances_val_ood2017.json', img='val_ood2017/')
optim_wrapper = dict(
    clip_grad=dict(max_norm=10, norm_type=2),
    constructor='LayerwiseOptimWrapperConstructor',
    optimizer=dict(
        betas=(
            0.9,
            0.999,
        ),
        lr=0.0002,
        sp_alpha=0.01,
        type='L2SPAdamW',
        weight_decay=0.0),
    paramwise_cfg=dict(pretrained_prefixes=[
        'backbone',
    ]),
    type='OptimWrapper')
param_scheduler = [
    dict(begin=0, by_epoch=False, end=50, start_factor=0.1, type='LinearLR'),
    dict(
        T_max=4,
        begin=0,
        by_epoch=True,
        convert_to_iter_based=True,
        end=4,
        eta_min_ratio=0.05,
        type='CosineAnnealingLR'),
]
randomness = dict(deterministic=False, seed=0)
resume = False
test_cfg = dict(type='TestLoop')
test_dataloader = dict(
    batch_size=8,
    dataset=dict(
        _scope_='mmdet',
        ann_file='annotations/instances_val_ood2017.json',
        backend_args=None,
        data_prefix=dict(img='val_ood2017/'),
        data_root='data/synthetic/downstream/coco/',
        metainfo=dict(
            classes=(
                'circle',
                'square',
                'triangle',
                'star',
                'hexagon',
            ),
            palette=[
                (
                    220,
                    20,
                    60,
                ),
                (
                    0,
                    128,
                    255,
                ),
                (
                    255,
                    165,
                    0,
                ),
                (
                    60,
                    179,
                    113,
                ),
                (
                    148,
                    0,
                    211,
                ),
            ]),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(keep_ratio=True, scale=(
                128,
                128,
            ), type='Resize'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(
                meta_keys=(
                    'img_id',
                    'img_path',
                    'ori_shape',
                    'img_shape',
                    'scale_factor',
                ),
                type='PackDetInputs'),
        ],
        test_mode=True,
        type='CocoDataset'),
    drop_last=False,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_scope_='mmdet', shuffle=False, type='DefaultSampler'))
test_evaluator = dict(
    _scope_='mmdet',
    ann_file=
    'data/synthetic/downstream/coco/annotations/instances_val_ood2017.json',
    backend_args=None,
    format_only=False,
    metric='bbox',
    type='CocoMetric')
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(keep_ratio=True, scale=(
        128,
        128,
    ), type='Resize'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        meta_keys=(
            'img_id',
            'img_path',
            'ori_shape',
            'img_shape',
            'scale_factor',
        ),
        type='PackDetInputs'),
]
train_cfg = dict(
    max_epochs=4, type='EpochBasedTrainLoop', val_begin=5, val_interval=4)
train_dataloader = dict(
    batch_sampler=dict(_scope_='mmdet', type='AspectRatioBatchSampler'),
    batch_size=8,
    dataset=dict(
        _scope_='mmdet',
        ann_file='annotations/instances_train2017.json',
        backend_args=None,
        data_prefix=dict(img='train2017/'),
        data_root='data/synthetic/downstream/coco/',
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        metainfo=dict(
            classes=(
                'circle',
                'square',
                'triangle',
                'star',
                'hexagon',
            ),
            palette=[
                (
                    220,
                    20,
                    60,
                ),
                (
                    0,
                    128,
                    255,
                ),
                (
                    255,
                    165,
                    0,
                ),
                (
                    60,
                    179,
                    113,
                ),
                (
                    148,
                    0,
                    211,
                ),
            ]),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(keep_ratio=True, scale=(
                128,
                128,
            ), type='Resize'),
            dict(prob=0.5, type='RandomFlip'),
            dict(type='PackDetInputs'),
        ],
        type='CocoDataset'),
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_scope_='mmdet', shuffle=True, type='DefaultSampler'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(keep_ratio=True, scale=(
        128,
        128,
    ), type='Resize'),
    dict(prob=0.5, type='RandomFlip'),
    dict(type='PackDetInputs'),
]
val_cfg = dict(type='ValLoop')
val_dataloader = dict(
    batch_size=8,
    dataset=dict(
        _scope_='mmdet',
        ann_file='annotations/instances_val2017.json',
        backend_args=None,
        data_prefix=dict(img='val2017/'),
        data_root='data/synthetic/downstream/coco/',
        metainfo=dict(
            classes=(
                'circle',
                'square',
                'triangle',
                'star',
                'hexagon',
            ),
            palette=[
                (
                    220,
                    20,
                    60,
                ),
                (
                    0,
                    128,
                    255,
                ),
                (
                    255,
                    165,
                    0,
                ),
                (
                    60,
                    179,
                    113,
                ),
                (
                    148,
                    0,
                    211,
                ),
            ]),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(keep_ratio=True, scale=(
                128,
                128,
            ), type='Resize'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(
                meta_keys=(
                    'img_id',
                    'img_path',
                    'ori_shape',
                    'img_shape',
                    'scale_factor',
                ),
                type='PackDetInputs'),
        ],
        test_mode=True,
        type='CocoDataset'),
    drop_last=False,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(_scope_='mmdet', shuffle=False, type='DefaultSampler'))
val_evaluator = dict(
    _scope_='mmdet',
    ann_file=
    'data/synthetic/downstream/coco/annotations/instances_val2017.json',
    backend_args=None,
    format_only=False,
    metric='bbox',
    type='CocoMetric')
vis_backends = [
    dict(_scope_='mmdet', type='LocalVisBackend'),
]
visualizer = dict(
    _scope_='mmdet',
    name='visualizer_detection_finetune_l2sp_adamw_lr0_0002_s0_977dab',
    type='DetLocalVisualizer',
    vis_backends=[
        dict(type='LocalVisBackend'),
    ])
work_dir = 'work_dirs/benchmark/mini/detection-finetune__l2sp_adamw__lr0.0002__s0'
