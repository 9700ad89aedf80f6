# Upstream pre-training: ResNet-18 on the *upstream* synthetic world (other shapes and textures).
# Its backbone is the pre-trained checkpoint that every fine-tuning config starts from; the project
# cannot download ImageNet weights. Produce it with
#   python tools/train.py configs/classification/resnet18_upstream.py --work-dir work_dirs/upstream
_base_ = './resnet18_shapes.py'

data_root = 'data/synthetic/upstream/cls'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
ood_split = dict(data_prefix='val_ood')
max_epochs = 15
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs, T_max=max_epochs,
         eta_min_ratio=0.05, convert_to_iter_based=True),
]
