# Full-scale: Semantic FPN R18 on ADE20K (mmseg's 160k recipe, data in
# data/ade/ADEChallengeData2016; ImageNet-pretrained ResNet-18 v1c; mIoU).
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'
custom_imports = dict(imports=['dualopt_mm'], allow_failed_imports=False)
model = dict(
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    neck=dict(in_channels=[64, 128, 256, 512]))
