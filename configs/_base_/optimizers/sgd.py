# SGD with momentum (baseline), lr for fine-tuning. Leaves use
# `optim_wrapper = {{_base_.method_optim_wrapper}}` (replaces the task's own optim_wrapper).
method_optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    constructor='LayerwiseOptimWrapperConstructor', paramwise_cfg=dict(norm_decay_mult=0.0),
    clip_grad=dict(max_norm=10, norm_type=2))
custom_hooks = [dict(type='OptimizerStatsHook', interval=50)]
