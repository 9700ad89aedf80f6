# The full suite (protocol v2) on COCO 2017 / ADE20K / ImageNet-1k at the configs' full schedules,
# for GPU machines (never run on the project's CPU machines: config-tested only). Data roots come
# from environment variables (mmengine substitutes them):
#   COCO_ROOT=/data/coco/ ADE_ROOT=/data/ade/ADEChallengeData2016/ IMAGENET_ROOT=/data/imagenet/ \
#   python tools/benchmark.py full --phase tuning
# Fine-tuning starts from an mmpretrain ResNet-18 ImageNet classifier (UPSTREAM_CHECKPOINT, default:
# mmpretrain's public one), whose head measures forgetting on ImageNet val. OOD splits: add
# `ood_split` to a task's cfg_options (e.g. a corrupted copy of val) and set ood=True.
_base_ = ['./_base_/methods.py']

name = 'full'
description = 'COCO / ADE20K / ImageNet at full schedules (GPU)'
_coco = '{{$COCO_ROOT:data/coco/}}'
_ade = '{{$ADE_ROOT:data/ade/ADEChallengeData2016/}}'
_imagenet = '{{$IMAGENET_ROOT:data/imagenet/}}'
_ckpt = '{{$UPSTREAM_CHECKPOINT:https://download.openmmlab.com/mmclassification/v0/resnet/resnet18_8xb32_in1k_20210831-fbbb1da6.pth}}'  # noqa: E501
upstream = dict(config='classification/resnet18_8xb32_in1k.py', checkpoint=_ckpt,
                cfg_options={f'{k}_dataloader.dataset.data_root': _imagenet for k in ('train', 'val', 'test')})
seeds = dict(tuning=[100, 101], reporting=[0, 1, 2, 3, 4, 5, 6, 7])
search = dict(budget=4, sampler='grid')
margins = {
    'accuracy/top1': 0.5, 'mIoU': 0.5, 'coco/bbox_mAP': dict(relative=0.02),
    'coco/segm_mAP': dict(relative=0.02), 'forgetting': 1.0, 'iters_to_target': dict(relative=0.1)}
# full-scale lrs: the fine-tuning spaces are the CPU ones scaled by 0.2 (the configs' own lrs)
methods = dict(
    adamw=dict(space=dict(_delete_=True, lr=[5e-5, 1e-4, 2e-4, 4e-4]), defaults=dict(lr=1e-4)),
    l2sp_adamw=dict(space=dict(_delete_=True, lr=[1e-4, 2e-4], sp_alpha=[1e-4, 1e-3]),
                    defaults=dict(lr=1e-4, sp_alpha=0.01)),
    dualopt_adamw=dict(space=dict(_delete_=True, lr=[1e-4, 2e-4], rollback=[0.01, 0.05]),
                       defaults=dict(lr=1e-4, rollback=0.01)),
    spd_adamw=dict(space=dict(_delete_=True, lr=[1e-4, 2e-4], projection_decay=[0.25, 1.0]),
                   defaults=dict(lr=1e-4, projection_decay=1.0)))


def _coco_options():
    return {'train_dataloader.dataset.data_root': _coco, 'val_dataloader.dataset.data_root': _coco,
            'test_dataloader.dataset.data_root': _coco,
            'val_evaluator.ann_file': _coco + 'annotations/instances_val2017.json',
            'test_evaluator.ann_file': _coco + 'annotations/instances_val2017.json'}


_ft = ['adamw', 'l2sp_adamw', 'dualopt_adamw', 'spd_adamw', 'aa_control']
_imagenet_opts = {f'{k}_dataloader.dataset.data_root': _imagenet for k in ('train', 'val', 'test')}
tasks = dict(
    detection_finetune=dict(
        config='detection/retinanet_r18_fpn_1x_coco.py', regime='finetune', metric='coco/bbox_mAP',
        methods=_ft, baseline='adamw', forgetting=True, ood=False, extra_metrics=['coco/bbox_mAP_50'],
        cfg_options=_coco_options(),
        admission=dict(reference=0.311, trivial=0.0, source="mmdet's RetinaNet-R18 1x COCO")),
    instance_seg_finetune=dict(
        config='instance_seg/mask-rcnn_r18_fpn_1x_coco.py', regime='finetune', metric='coco/segm_mAP',
        methods=_ft, baseline='adamw', forgetting=True, ood=False, extra_metrics=['coco/bbox_mAP'],
        cfg_options=_coco_options()),
    semantic_seg_finetune=dict(
        config='semantic_seg/fpn_r18_4xb4-160k_ade20k-512x512.py', regime='finetune', metric='mIoU',
        methods=_ft, baseline='adamw', forgetting=True, ood=False, extra_metrics=['mAcc', 'aAcc'],
        # the upstream classifier is a ResNet v1 (mmpretrain): its backbone replaces v1c
        cfg_options={**{f'{k}_dataloader.dataset.data_root': _ade for k in ('train', 'val', 'test')},
                     'model.backbone.type': 'ResNet', 'model.pretrained': None}),
    classification_scratch=dict(
        config='classification/resnet18_8xb32_in1k.py', regime='scratch', metric='accuracy/top1',
        methods=['sgd', 'random_scaled_sgd', 'hybrid_sgd', 'adamw_scratch', 'dualopt_adamw_scratch'],
        baseline='sgd', ood=False, cfg_options=_imagenet_opts,
        admission=dict(reference=69.9, trivial=0.1, source="mmpretrain's ResNet-18 8xb32 ImageNet")),
    multi_exit_scratch=dict(
        config='classification/multi-exit_resnet18_8xb32_in1k.py', regime='scratch', metric='accuracy/top1',
        methods=['sgd', 'osgd'], baseline='sgd', ood=False,
        extra_metrics=['exit0/top1', 'exit1/top1', 'exit2/top1', 'exit3/top1'], cfg_options=_imagenet_opts),
)
_all_ft = ['detection_finetune', 'instance_seg_finetune', 'semantic_seg_finetune']
claims = [
    dict(paper='DualOpt', claim='better fine-tuning than AdamW', method='dualopt_adamw', baseline='adamw',
         tasks=['detection_finetune'], column='metric', primary=True),
    dict(paper='DualOpt', claim='better fine-tuning than AdamW', method='dualopt_adamw', baseline='adamw',
         tasks=['instance_seg_finetune', 'semantic_seg_finetune'], column='metric'),
    dict(paper='DualOpt', claim='better fine-tuning than L2-SP', method='dualopt_adamw', baseline='l2sp_adamw',
         tasks=_all_ft, column='metric'),
    dict(paper='DualOpt', claim='less forgetting than AdamW', method='dualopt_adamw', baseline='adamw',
         tasks=_all_ft, column='forgetting'),
    dict(paper='DualOpt', claim='layer-wise decay better from scratch than AdamW', method='dualopt_adamw_scratch',
         baseline='adamw_scratch', tasks=['classification_scratch'], column='metric'),
    dict(paper='SPD', claim='better in distribution than AdamW', method='spd_adamw', baseline='adamw',
         tasks=['semantic_seg_finetune'], column='metric', primary=True),
    dict(paper='SPD', claim='better in distribution than AdamW', method='spd_adamw', baseline='adamw',
         tasks=['detection_finetune', 'instance_seg_finetune'], column='metric'),
    dict(paper='OSGD', claim='better anytime (mean exit) accuracy than SGD', method='osgd', baseline='sgd',
         tasks=['multi_exit_scratch'], column='exit_mean', primary=True),
    dict(paper='Random scaling', claim='on par with SGD-momentum', method='random_scaled_sgd', baseline='sgd',
         tasks=['classification_scratch'], column='metric', kind='on_par', primary=True),
    dict(paper='Hybrid update', claim='reaches the loss target in fewer iterations than SGD', method='hybrid_sgd',
         baseline='sgd', tasks=['classification_scratch'], column='iters_to_target', primary=True),
    dict(paper='A/A control', claim='L2-SP at alpha=0 better than AdamW (must be no meaningful gain)',
         method='aa_control', baseline='adamw', tasks=['detection_finetune'], column='metric', primary=True),
]
