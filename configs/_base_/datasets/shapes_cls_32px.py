# 32 px pipelines for the synthetic classification crops (the 64 px crops resized): a quarter of
# the compute, for the from-scratch benchmark tasks on 2 CPU cores. Configs use them with
# `pipeline={{_base_.train_pipeline_32px}}` / `{{_base_.test_pipeline_32px}}`.
train_pipeline_32px = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.6, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline_32px = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=32), dict(type='PackInputs')]
