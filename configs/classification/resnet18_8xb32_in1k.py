# Full-scale: ResNet-18 on ImageNet-1k (mmpretrain's recipe; data in data/imagenet with
# train/, val/ and meta/{train,val}.txt; top-1 / top-5 accuracy).
_base_ = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'
custom_imports = dict(imports=['dualopt_mm'], allow_failed_imports=False)
