# CPU-scale semantic segmentation data: the synthetic shapes scenes in the ADE20K layout
# (images/{training,validation,test}/*.jpg, annotations/.../*.png; label 0 = unlabelled, ignored via
# reduce_zero_label as in ADE20K). ADE20KDataset pins ADE's 150 classes, so the generic
# BaseSegDataset reads the same files with our class list.
_base_ = 'mmseg::_base_/datasets/ade20k.py'

dataset_type = 'BaseSegDataset'
data_root = 'data/synthetic/downstream/ade'
metainfo = dict(
    classes=('background', 'circle', 'square', 'triangle', 'star', 'hexagon'),
    palette=[[120, 120, 120], [220, 20, 60], [0, 128, 255], [255, 165, 0], [60, 179, 113],
             [148, 0, 211]])
crop_size = (128, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
_dataset = dict(type=dataset_type, data_root=data_root, metainfo=metainfo, img_suffix='.jpg',
                seg_map_suffix='.png', reduce_zero_label=True)
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(**_dataset, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(**_dataset, pipeline=test_pipeline))
# Splits: val is for tuning and model selection (the val loop); test -- fresh, larger scenes -- is
# for the reported numbers (the test loop).
test_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(**_dataset, pipeline=test_pipeline,
                 data_prefix=dict(img_path='images/test', seg_map_path='annotations/test')))
ood_split = dict(img_path='images/validation_ood', seg_map_path='annotations/validation_ood')
