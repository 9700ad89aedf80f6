# CPU-scale classification data: 64 px crops around the objects of the synthetic shapes scenes,
# in mmpretrain's CustomDataset layout (<split>/<class>/*.jpg; splits train, val, test, val_ood).
_base_ = 'mmpretrain::_base_/datasets/imagenet_bs32.py'

dataset_type = 'CustomDataset'
data_root = 'data/synthetic/downstream/cls'
num_classes = 5
data_preprocessor = dict(num_classes=num_classes)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, crop_ratio_range=(0.6, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, data_prefix='train',
                 with_label=True, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, data_prefix='val',
                 with_label=True, pipeline=test_pipeline))
# Splits: val is for tuning and model selection (the val loop); test -- fresh, larger scenes -- is
# for the reported numbers (the test loop).
test_dataloader = dict(
    batch_size=64, num_workers=0, persistent_workers=False,
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, data_prefix='test',
                 with_label=True, pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
ood_split = dict(data_prefix='val_ood')
