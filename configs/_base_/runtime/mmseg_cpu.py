# mmseg's default runtime, tuned for short CPU runs: this project's registries, logging every 10
# iterations, one checkpoint kept, gloo for multi-process CPU runs. (mmseg keeps its hooks in the
# schedule files, so the full set is spelled out here, as in mmseg's schedule_*k.py.)
_base_ = 'mmseg::_base_/default_runtime.py'
custom_imports = dict(imports=['dualopt_mm'], allow_failed_imports=False)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=1,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
