# L2-SP (baseline): a coupled pull alpha * (theta - theta_0) toward the pre-trained backbone.
method_optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='L2SPAdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.0, sp_alpha=0.01),
    constructor='LayerwiseOptimWrapperConstructor', paramwise_cfg=dict(pretrained_prefixes=['backbone']),
    clip_grad=dict(max_norm=10, norm_type=2))
custom_hooks = [dict(type='AnchorHook'), dict(type='OptimizerStatsHook', interval=50)]
