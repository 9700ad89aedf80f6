# Selective Projection Decay (AdamW base): project the backbone's deviation from its pre-trained
# weights back to its previous radius when the gradient says the deviation hurts.
method_optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='SPDAdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.0,
                   projection_decay=1.0),
    constructor='LayerwiseOptimWrapperConstructor', paramwise_cfg=dict(pretrained_prefixes=['backbone']),
    clip_grad=dict(max_norm=10, norm_type=2))
custom_hooks = [dict(type='AnchorHook'), dict(type='OptimizerStatsHook', interval=50)]
