# Multi-exit (anytime) ResNet-18 on the 64 px synthetic shapes crops: one GAP + linear exit after
# each of the four stages, trained with plain SGD on the sum of the four exit losses (the
# baseline of multi-exit_resnet18_osgd_shapes.py). Evaluated per exit (exit{k}/top1;
# accuracy/top1 is the final exit).
_base_ = [
    '../_base_/datasets/shapes_cls.py',
    '../_base_/runtime/mmpretrain_cpu.py',
]
model = dict(
    type='MultiExitImageClassifier',
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                  style='pytorch'),
    num_classes=5,
    in_channels=(64, 128, 256, 512),
    loss=dict(type='CrossEntropyLoss', loss_weight=1.0))
val_evaluator = dict(_delete_=True, type='MultiExitAccuracy', topk=(1, ))
test_evaluator = val_evaluator

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
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
