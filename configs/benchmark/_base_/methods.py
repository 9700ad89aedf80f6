# The benchmark's methods, written once for every suite (configs/benchmark/*.py pick from them).
# A method is any optimizer registered in mmengine's OPTIMIZERS plus optional optim-wrapper /
# constructor settings; `space` is its search space (the lr and its own key knob), `defaults` its
# untuned one-shot setting. Weight decay is one fixed value for every method of a regime
# (fine-tuning: 0.01; from scratch: 5e-4 for the SGD base, 0.05 for the AdamW base), never tuned
# for one method only. Every fine-tuning method uses the same constructor and norm treatment.
_ft_wd = 0.01
_sgd_wd = 5e-4
_adamw_scratch_wd = 0.05
_pretrained = dict(pretrained_prefixes=['backbone'], norm_decay_mult=0.0)
_anchor_hooks = [dict(type='AnchorHook'), dict(type='OptimizerStatsHook', interval=50)]
_stats_hooks = [dict(type='OptimizerStatsHook', interval=50)]

methods = dict(
    # ---------------------------------------------------------------- fine-tuning (AdamW base)
    adamw=dict(
        description='AdamW (baseline)',
        optimizer=dict(type='AdamW', betas=(0.9, 0.999), weight_decay=_ft_wd),
        paramwise_cfg=_pretrained, custom_hooks=_stats_hooks,
        space=dict(lr=[5e-4, 1e-3, 2e-3, 4e-3]),
        defaults=dict(lr=1e-3)),
    l2sp_adamw=dict(
        description='L2-SP (AdamW base): coupled pull alpha (theta - theta_0)',
        optimizer=dict(type='L2SPAdamW', betas=(0.9, 0.999), weight_decay=_ft_wd),
        paramwise_cfg=_pretrained, custom_hooks=_anchor_hooks,
        space=dict(lr=[7e-4, 2e-3], sp_alpha=[1e-4, 1e-3]),
        defaults=dict(lr=1e-3, sp_alpha=0.01)),
    dualopt_adamw=dict(
        description='DualOpt fine-tuning mode (AdamW base): layer-wise weight rollback',
        optimizer=dict(type='DualOptAdamW', betas=(0.9, 0.999), weight_decay=_ft_wd, mode='finetune'),
        paramwise_cfg=_pretrained, custom_hooks=_anchor_hooks,
        space=dict(lr=[7e-4, 2e-3], rollback=[0.01, 0.05]),
        defaults=dict(lr=1e-3, rollback=0.01)),
    spd_adamw=dict(
        description='Selective Projection Decay (AdamW base)',
        optimizer=dict(type='SPDAdamW', betas=(0.9, 0.999), weight_decay=_ft_wd),
        paramwise_cfg=_pretrained, custom_hooks=_anchor_hooks,
        space=dict(lr=[7e-4, 2e-3], projection_decay=[0.25, 1.0]),
        defaults=dict(lr=1e-3, projection_decay=1.0)),
    # the A/A negative control: L2-SP with alpha = 0 is AdamW by construction; run at AdamW's
    # frozen winner, it must come out "no meaningful gain" or the pipeline leaks
    aa_control=dict(
        description='A/A control: L2-SP at alpha = 0 with AdamW\'s winning setting',
        optimizer=dict(type='L2SPAdamW', betas=(0.9, 0.999), weight_decay=_ft_wd),
        paramwise_cfg=_pretrained, custom_hooks=_anchor_hooks,
        copy_setting_from='adamw', defaults=dict(sp_alpha=0.0)),
    # ---------------------------------------------------------------- from scratch
    sgd=dict(
        description='SGD with momentum (baseline)',
        optimizer=dict(type='SGD', momentum=0.9, weight_decay=_sgd_wd),
        paramwise_cfg=dict(norm_decay_mult=0.0), custom_hooks=_stats_hooks,
        space=dict(lr=[0.025, 0.05, 0.1, 0.2]),
        defaults=dict(lr=0.1)),
    random_scaled_sgd=dict(
        description='SGD-momentum with exponential random scaling',
        optimizer=dict(type='RandomScaledSGD', momentum=0.9, weight_decay=_sgd_wd),
        paramwise_cfg=dict(norm_decay_mult=0.0), custom_hooks=_stats_hooks,
        space=dict(lr=[0.025, 0.05, 0.1, 0.2]),
        defaults=dict(lr=0.1)),
    hybrid_sgd=dict(
        description='hybrid multiplicative / additive update (SGD base)',
        optimizer=dict(type='HybridSGD', momentum=0.9, weight_decay=_sgd_wd, lr_in=1.0, lr_out=1e-3),
        paramwise_cfg=dict(norm_decay_mult=0.0), custom_hooks=_stats_hooks,
        space=dict(lr=[0.05, 0.15], gamma=[0.25, 0.5]),
        defaults=dict(lr=0.1, gamma=0.5)),
    adamw_scratch=dict(
        description='AdamW from scratch (baseline of the layer-wise decay claim)',
        optimizer=dict(type='AdamW', betas=(0.9, 0.999), weight_decay=_adamw_scratch_wd),
        paramwise_cfg=dict(norm_decay_mult=0.0), custom_hooks=_stats_hooks,
        space=dict(lr=[1e-3, 2e-3, 4e-3, 8e-3]),
        defaults=dict(lr=1e-3)),
    dualopt_adamw_scratch=dict(
        description='DualOpt scratch mode (AdamW base): real-time layer-wise weight decay',
        optimizer=dict(type='DualOptAdamW', betas=(0.9, 0.999), weight_decay=_adamw_scratch_wd, mode='scratch'),
        paramwise_cfg=dict(norm_decay_mult=0.0), custom_hooks=_stats_hooks,
        space=dict(lr=[1e-3, 3e-3], decay_min=[0.0, 0.5]),
        defaults=dict(lr=1e-3, decay_min=0.0)),
    # ---------------------------------------------------------------- multi-exit
    osgd=dict(
        description='Orthogonalized SGD over the exits (earliest first), SGD-momentum step',
        optimizer=dict(type='SGD', momentum=0.9, weight_decay=_sgd_wd),
        optim_wrapper=dict(type='OSGDOptimWrapper', tasks=[['exit0'], ['exit1'], ['exit2'], ['exit3']]),
        paramwise_cfg=dict(norm_decay_mult=0.0), custom_hooks=_stats_hooks,
        space=dict(lr=[0.025, 0.05, 0.1, 0.2]),
        defaults=dict(lr=0.1)),
)
