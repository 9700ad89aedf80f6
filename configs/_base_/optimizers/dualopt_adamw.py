# DualOpt, fine-tuning mode (AdamW base): after each step, roll the backbone back toward its
# pre-trained weights by lambda = (lr/lr_0) * r(d), strongest for the shallowest layers.
method_optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='DualOptAdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.0,
                   mode='finetune', rollback=0.01),
    constructor='LayerwiseOptimWrapperConstructor', paramwise_cfg=dict(pretrained_prefixes=['backbone']),
    clip_grad=dict(max_norm=10, norm_type=2))
custom_hooks = [dict(type='AnchorHook'), dict(type='OptimizerStatsHook', interval=50)]
