# Full-scale: RetinaNet R18-FPN on COCO 2017 (mmdet's recipe; data in data/coco/ as mmdet expects,
# ImageNet-pretrained backbone from torchvision). Optimizer variants build on this file.
_base_ = 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'
custom_imports = dict(imports=['dualopt_mm'], allow_failed_imports=False)
