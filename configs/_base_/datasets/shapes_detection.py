# CPU-scale detection data: the synthetic "shapes" scenes in COCO format (128 px).
# Generate with `python tools/make_synthetic_data.py` (tools/train.py and `make` do it on first use).
_base_ = 'mmdet::_base_/datasets/coco_detection.py'

data_root = 'data/synthetic/downstream/coco/'
metainfo = dict(
    classes=('circle', 'square', 'triangle', 'star', 'hexagon'),
    palette=[(220, 20, 60), (0, 128, 255), (255, 165, 0), (60, 179, 113), (148, 0, 211)])
image_size = 128

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
# 2 cores: decoding 128 px JPEGs in the main process is cheaper than worker processes
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline,
                 filter_cfg=dict(filter_empty_gt=True, min_size=4)))
val_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
# Splits: val is for tuning and model selection (the val loop); test -- fresh, larger scenes -- is
# for the reported numbers (the test loop).
test_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline,
                 ann_file='annotations/instances_test2017.json', data_prefix=dict(img='test2017/')))
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = dict(ann_file=data_root + 'annotations/instances_test2017.json')

# The out-of-distribution split (unseen backgrounds + one corruption per image): the benchmark
# evaluates it by pointing the test loop here.
ood_split = dict(ann_file='annotations/instances_val_ood2017.json', img='val_ood2017/')
