# Your optimizer against DualOpt on detection, written as a suite file only (no Python): here
# torch's RAdam (registered in mmengine's OPTIMIZERS like every torch optimizer; a third-party or
# your own optimizer works the same way once `custom_imports` imports its module).
#   python tools/benchmark.py configs/benchmark/examples/radam_vs_dualopt.py
_base_ = ['../_base_/methods.py']

name = 'radam_vs_dualopt'
description = 'RetinaNet-R18 fine-tuned on the synthetic shapes: RAdam vs DualOpt'
# custom_imports = dict(imports=['my_package.my_optimizer'])   # for an optimizer of your own
upstream = dict(config='classification/resnet18_upstream.py', checkpoint='checkpoints/upstream_resnet18.pth')
seeds = dict(tuning=[100], reporting=[0, 1, 2, 3, 4, 5])
search = dict(budget=4, sampler='grid')
margins = {'coco/bbox_mAP': dict(relative=0.1), 'forgetting': 1.5}
methods = dict(
    radam=dict(
        optimizer=dict(type='RAdam', betas=(0.9, 0.999), weight_decay=0.01),
        paramwise_cfg=dict(pretrained_prefixes=['backbone'], norm_decay_mult=0.0),
        space=dict(lr=[2.5e-4, 5e-4, 1e-3, 2e-3]), defaults=dict(lr=1e-3)))
tasks = dict(
    detection_finetune=dict(
        config='detection/retinanet_r18_fpn_shapes.py', regime='finetune', metric='coco/bbox_mAP',
        methods=['dualopt_adamw', 'radam'], baseline='dualopt_adamw', length=12, forgetting=True,
        admission=dict(reference=0.192, trivial=0.0)))
claims = [
    dict(paper='RAdam', claim='better fine-tuning than DualOpt', method='radam', baseline='dualopt_adamw',
         tasks=['detection_finetune'], column='metric', primary=True),
    dict(paper='RAdam', claim='forgets no more than DualOpt', method='radam', baseline='dualopt_adamw',
         tasks=['detection_finetune'], column='forgetting', kind='on_par'),
]
