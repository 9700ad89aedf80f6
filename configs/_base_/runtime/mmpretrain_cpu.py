# mmpretrain's default runtime, tuned for short CPU runs: this project's registries, logging every 10
# iterations, one checkpoint kept, gloo for multi-process CPU runs.
_base_ = 'mmpretrain::_base_/default_runtime.py'
custom_imports = dict(imports=['dualopt_mm'], allow_failed_imports=False)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(max_keep_ckpts=1, save_last=True))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0, deterministic=False)
