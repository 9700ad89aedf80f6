# SGD-momentum whose whole displacement is scaled by one s_t ~ Exp(1) per step.
method_optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='RandomScaledSGD', lr=0.01, momentum=0.9, weight_decay=1e-4, seed=0),
    constructor='LayerwiseOptimWrapperConstructor', paramwise_cfg=dict(norm_decay_mult=0.0),
    clip_grad=dict(max_norm=10, norm_type=2))
custom_hooks = [dict(type='OptimizerStatsHook', interval=50)]
