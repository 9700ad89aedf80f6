# Full-scale: Mask R-CNN R18-FPN on COCO 2017 (mmdet's 1x recipe with a ResNet-18 backbone,
# ImageNet-pretrained from torchvision; bbox and segm CocoMetric).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['dualopt_mm'], allow_failed_imports=False)
model = dict(
    backbone=dict(depth=18, init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    neck=dict(in_channels=[64, 128, 256, 512]))
