# Multi-exit (anytime) ResNet-18 on the 64 px synthetic shapes crops: one GAP + linear exit after
# each of the four stages, trained with plain SGD on the sum of the four exit losses (the
# baseline of multi-exit_resnet18_osgd_shapes.py), on resnet18_shapes.py's data and schedule.
# Evaluated per exit (exit{k}/top1; accuracy/top1 is the final exit).
_base_ = ['./resnet18_shapes.py']
model = dict(
    _delete_=True,
    type='MultiExitImageClassifier',
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
                  style='pytorch'),
    num_classes=5,
    in_channels=(64, 128, 256, 512),
    loss=dict(type='CrossEntropyLoss', loss_weight=1.0))
val_evaluator = dict(_delete_=True, type='MultiExitAccuracy', topk=(1, ))
test_evaluator = val_evaluator
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
