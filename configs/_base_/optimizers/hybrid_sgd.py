# Hybrid multiplicative/additive update on an SGD-momentum base (GOFAU), gamma = 0.5.
# Schedule gamma with any mmengine ParamScheduler on param_name='gamma'.
method_optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='HybridSGD', lr=0.01, momentum=0.9, weight_decay=1e-4, gamma=0.5,
                   lr_in=1.0, lr_out=1e-3),
    constructor='LayerwiseOptimWrapperConstructor', paramwise_cfg=dict(norm_decay_mult=0.0),
    clip_grad=dict(max_norm=10, norm_type=2))
custom_hooks = [dict(type='OptimizerStatsHook', interval=50)]
