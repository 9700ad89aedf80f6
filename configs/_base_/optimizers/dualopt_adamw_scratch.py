# DualOpt, training-from-scratch mode (AdamW base): real-time layer-wise weight decay of the
# post-update weight, (1 - lr * wd * s(d)), deeper layers decayed more. lr for scratch training.
method_optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='DualOptAdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05,
                   mode='scratch'),
    constructor='LayerwiseOptimWrapperConstructor',
    clip_grad=dict(max_norm=10, norm_type=2))
custom_hooks = [dict(type='OptimizerStatsHook', interval=50)]
