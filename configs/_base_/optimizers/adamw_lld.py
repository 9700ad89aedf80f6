# AdamW with layer-wise lr decay (the usual fine-tuning baseline): the lr of layer i of L is
# multiplied by 0.75^(L-1-i), so the stem learns slowest and the new head at the full lr.
method_optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LayerwiseOptimWrapperConstructor',
    paramwise_cfg=dict(norm_decay_mult=0.0, layer_decay_rate=0.75),
    clip_grad=dict(max_norm=10, norm_type=2))
custom_hooks = [dict(type='OptimizerStatsHook', interval=50)]
