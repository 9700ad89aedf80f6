# ResNet-18 (ImageNet-style stem, so checkpoints transfer to the detectors and segmenters) on the
# 64 px object crops of the synthetic shapes scenes, sized for 2 CPU cores.
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    '../_base_/datasets/shapes_cls.py',
    '../_base_/runtime/mmpretrain_cpu.py',
]
model = dict(
    # mmpretrain's own default initialisation, spelled out so that fine-tuning configs can replace
    # it with dict(_delete_=True, type='Pretrained', ...)
    backbone=dict(init_cfg=[dict(type='Kaiming', layer=['Conv2d']),
                            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]),
    head=dict(num_classes=5, topk=(1, )))

max_epochs = 10
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs,
         eta_min_ratio=0.05, convert_to_iter_based=True),
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05))
