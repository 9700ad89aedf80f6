# The mini suite (protocol v2): the claim matrix on the bundled synthetic data, sized for 2 CPU
# cores (each phase <= ~2.5 h). Task sizes come from the pilots in results/README.md; instance
# segmentation is left out (its pilot: 0.156 segm mAP after 6 epochs, ~5 min a cell: the two
# phases would need ~2.5 h more; the full suite has it).
#   python tools/benchmark.py mini                  # both phases; or --phase tuning / reporting
_base_ = ['./_base_/methods.py']

name = 'mini'
description = 'the claim matrix on the synthetic shapes at CPU scale'
upstream = dict(config='classification/resnet18_upstream.py', checkpoint='checkpoints/upstream_resnet18.pth')
seeds = dict(tuning=[100], reporting=[0, 1, 2, 3, 4, 5])
search = dict(budget=4, sampler='grid')
# smallest effects of interest, fixed before the run (protocol rule 4)
margins = {
    'accuracy/top1': 1.5, 'mIoU': 0.5, 'coco/bbox_mAP': dict(relative=0.1),
    'coco/segm_mAP': dict(relative=0.1), 'forgetting': 1.5, 'iters_to_target': dict(relative=0.1)}

_ft = ['adamw', 'l2sp_adamw', 'dualopt_adamw', 'spd_adamw', 'aa_control']
# gradient clipping is the task's, the same for every method (as in the detection configs)
_clip = {'optim_wrapper.clip_grad': dict(_delete_=True, max_norm=10, norm_type=2)}
_cls_ref = dict(reference=53.3, trivial=20.0, source='resnet18_shapes.py, 10 epochs from scratch at 64 px')
tasks = dict(
    classification_finetune=dict(
        config='classification/resnet18_shapes.py', regime='finetune', metric='accuracy/top1',
        methods=_ft, baseline='adamw', length=4, forgetting=True, cfg_options=_clip, admission=_cls_ref),
    detection_finetune=dict(
        config='detection/retinanet_r18_fpn_shapes.py', regime='finetune', metric='coco/bbox_mAP',
        methods=['adamw', 'dualopt_adamw', 'spd_adamw'], baseline='adamw', length=10, forgetting=True,
        extra_metrics=['coco/bbox_mAP_50'],
        admission=dict(reference=0.192, trivial=0.0, source='retinanet_r18_fpn_shapes.py, 24 epochs from scratch')),
    semantic_seg_finetune=dict(
        config='semantic_seg/fpn_r18_shapes.py', regime='finetune', metric='mIoU',
        methods=['adamw', 'dualopt_adamw', 'spd_adamw'], baseline='adamw', length=400, forgetting=True,
        extra_metrics=['mAcc', 'aAcc'], cfg_options=_clip,
        # trivial: every pixel predicted background
        admission=dict(reference=22.25, trivial=13.2, source='fpn_r18_shapes.py, 1000 iterations from scratch')),
    classification_scratch=dict(
        config='classification/resnet18_shapes_32px.py', regime='scratch', metric='accuracy/top1',
        methods=['sgd', 'random_scaled_sgd', 'hybrid_sgd', 'adamw_scratch', 'dualopt_adamw_scratch'],
        baseline='sgd', length=15, cfg_options=_clip, admission=_cls_ref),
    multi_exit_scratch=dict(
        config='classification/multi-exit_resnet18_shapes_32px.py', regime='scratch', metric='accuracy/top1',
        methods=['sgd', 'osgd'], baseline='sgd', length=15, cfg_options=_clip,
        extra_metrics=['exit0/top1', 'exit1/top1', 'exit2/top1', 'exit3/top1'], admission=_cls_ref),
)

claims = [
    # DualOpt (rollback + layer-wise decay): one paper, one primary claim
    dict(paper='DualOpt', claim='better fine-tuning than AdamW', method='dualopt_adamw', baseline='adamw',
         tasks=['classification_finetune'], column='metric', primary=True),
    dict(paper='DualOpt', claim='better fine-tuning than AdamW', method='dualopt_adamw', baseline='adamw',
         tasks=['detection_finetune', 'semantic_seg_finetune'], column='metric'),
    dict(paper='DualOpt', claim='better fine-tuning than L2-SP', method='dualopt_adamw', baseline='l2sp_adamw',
         tasks=['classification_finetune'], column='metric'),
    dict(paper='DualOpt', claim='less forgetting than AdamW', method='dualopt_adamw', baseline='adamw',
         tasks=['classification_finetune', 'detection_finetune', 'semantic_seg_finetune'], column='forgetting'),
    dict(paper='DualOpt', claim='layer-wise decay better from scratch than AdamW', method='dualopt_adamw_scratch',
         baseline='adamw_scratch', tasks=['classification_scratch'], column='metric'),
    # SPD
    dict(paper='SPD', claim='more robust out of distribution than AdamW', method='spd_adamw', baseline='adamw',
         tasks=['classification_finetune'], column='ood', primary=True),
    dict(paper='SPD', claim='more robust out of distribution than AdamW', method='spd_adamw', baseline='adamw',
         tasks=['detection_finetune', 'semantic_seg_finetune'], column='ood'),
    dict(paper='SPD', claim='better in distribution than AdamW', method='spd_adamw', baseline='adamw',
         tasks=['classification_finetune', 'detection_finetune', 'semantic_seg_finetune'], column='metric'),
    dict(paper='SPD', claim='more robust out of distribution than L2-SP', method='spd_adamw', baseline='l2sp_adamw',
         tasks=['classification_finetune'], column='ood'),
    # OSGD: anytime accuracy = the mean over the exits
    dict(paper='OSGD', claim='better anytime (mean exit) accuracy than SGD', method='osgd', baseline='sgd',
         tasks=['multi_exit_scratch'], column='exit_mean', primary=True),
    dict(paper='OSGD', claim='better early exit 0 than SGD', method='osgd', baseline='sgd',
         tasks=['multi_exit_scratch'], column='test:exit0/top1'),
    dict(paper='OSGD', claim='better early exit 1 than SGD', method='osgd', baseline='sgd',
         tasks=['multi_exit_scratch'], column='test:exit1/top1'),
    dict(paper='OSGD', claim='final exit on par with SGD', method='osgd', baseline='sgd',
         tasks=['multi_exit_scratch'], column='metric', kind='on_par'),
    # random scaling
    dict(paper='Random scaling', claim='on par with SGD-momentum', method='random_scaled_sgd', baseline='sgd',
         tasks=['classification_scratch'], column='metric', kind='on_par', primary=True),
    # GOFAU hybrid
    dict(paper='Hybrid update', claim='reaches the loss target in fewer iterations than SGD', method='hybrid_sgd',
         baseline='sgd', tasks=['classification_scratch'], column='iters_to_target', primary=True),
    dict(paper='Hybrid update', claim='accuracy on par with SGD', method='hybrid_sgd', baseline='sgd',
         tasks=['classification_scratch'], column='metric', kind='on_par'),
    # the A/A negative control (protocol rule 10): must come out "no meaningful gain"
    dict(paper='A/A control', claim='L2-SP at alpha=0 better than AdamW (must be no meaningful gain)',
         method='aa_control', baseline='adamw', tasks=['classification_finetune'], column='metric', primary=True),
]
