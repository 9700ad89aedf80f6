# RetinaNet R18-FPN on the synthetic shapes scenes (COCO format, 128 px), sized for 2 CPU cores.
# Same model family as mmdet's retinanet_r18_fpn_1x_coco.py; the FPN/head are narrowed and the
# anchors halved to fit 128 px images with 12-70 px objects.
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/shapes_detection.py',
    '../_base_/runtime/mmdet_cpu.py',
]
model = dict(
    # trained from scratch here: no frozen stem, BatchNorm in train mode (mmdet's defaults
    # assume an ImageNet-pretrained backbone)
    backbone=dict(depth=18, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=128),
    bbox_head=dict(
        num_classes=5, in_channels=128, feat_channels=128, stacked_convs=2,
        anchor_generator=dict(octave_base_scale=2)),
    test_cfg=dict(nms_pre=300, max_per_img=50))

max_epochs = 24
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs,
         eta_min_ratio=0.05, convert_to_iter_based=True),
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))
