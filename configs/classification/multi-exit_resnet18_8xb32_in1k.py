# Full-scale: the multi-exit (anytime) ResNet-18 on ImageNet-1k with mmpretrain's ResNet-18 recipe
# (data, pipelines, SGD schedule): one GAP + linear exit after each stage, evaluated per exit.
_base_ = './resnet18_8xb32_in1k.py'
model = dict(
    _delete_=True,
    type='MultiExitImageClassifier',
    backbone=dict(type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3), style='pytorch'),
    num_classes=1000,
    in_channels=(64, 128, 256, 512),
    loss=dict(type='CrossEntropyLoss', loss_weight=1.0))
val_evaluator = dict(_delete_=True, type='MultiExitAccuracy', topk=(1, 5))
test_evaluator = val_evaluator
