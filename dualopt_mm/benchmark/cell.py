"""One benchmark cell: build its config from the task config and the method, train it, measure it.

* tuning phase: the in-distribution ``val`` split, once after training (it chooses settings);
* reporting phase: the ``test`` split (fresh images, larger than val), the out-of-distribution
  split (``ood_split`` of the config, read through a second test loop), and forgetting: the
  fine-tuned backbone put into the upstream classifier (its own head), evaluated on the upstream
  val split twice: as it is (raw) and after re-estimating every BatchNorm's running statistics on
  upstream train images (the primary number: it measures what the weights forgot, not the drift
  of BN statistics).

:class:`BenchmarkHook` records the training loss of every iteration (and stops a run whose loss
stays non-finite: a diverged run is a finished result), the distance of each backbone stage to
its starting weights, ``optimizer.step()`` times, peak memory and the optimizer's state size.
"""
from __future__ import annotations

import contextlib
import copy
import gc
import math
import os
import os.path as osp
import re
import statistics
import time
import uuid
import warnings

import torch

from ..resources import configs_root as _configs_root
from .suite import REPO_ROOT, Cell, Method, Suite

__all__ = ['build_cell_config', 'run_cell', 'BenchmarkHook', 'apply_method', 'set_length', 'cap_warmup',
           'ood_loop_config', 'full_precision_coco', 'upstream_accuracy', 'backbone_state', 'numeric_metrics', 'pilot_config',
           'CONFIGS', 'WARMUP_FRACTION']

CONFIGS = _configs_root()  # the installed package's copy first, else the clone's configs/
WARMUP_FRACTION = 0.1
# consecutive non-finite losses after which a run is declared diverged and stopped
DIVERGED_AFTER = 5


def set_length(cfg, length: int | None) -> None:
    """Train for ``length`` epochs or iterations (whichever the config counts); schedulers that
    ended with the old schedule end with the new one."""
    if length is None:
        return
    if length < 1:
        raise ValueError(f'schedule length must be >= 1, got {length}')
    loop = cfg.train_cfg
    key = 'max_iters' if 'max_iters' in loop else 'max_epochs'
    if key not in loop:
        raise ValueError('train_cfg has neither max_epochs nor max_iters: cannot set the schedule length')
    old = loop[key]
    loop[key] = length
    schedulers = cfg.get('param_scheduler') or []
    for s in schedulers if isinstance(schedulers, list) else [schedulers]:
        for k in ('end', 'T_max'):
            if s.get(k) == old:
                s[k] = length
        if s.get('end', 0) > length and s.get('begin', 0) == 0 and s.get('by_epoch', True) == (key == 'max_epochs'):
            s['end'] = length


def _iters_per_epoch(cfg) -> int:
    """Length of the training dataloader, from the dataset the config builds (no training)."""
    from mmengine.registry import DATASETS, DefaultScope
    loader = cfg.train_dataloader
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        ds = DATASETS.build(copy.deepcopy(loader.dataset))
    bs = loader.batch_size
    return len(ds) // bs if loader.get('drop_last', False) else math.ceil(len(ds) / bs)


def total_iterations(cfg) -> int:
    loop = cfg.train_cfg
    if 'max_iters' in loop:
        return int(loop.max_iters)
    return int(loop.max_epochs) * _iters_per_epoch(cfg)


def cap_warmup(cfg, fraction: float = WARMUP_FRACTION) -> int | None:
    """Shorten an iteration-based warm-up (``LinearLR`` from iteration 0) to at most ``fraction``
    of the whole schedule, so a short benchmark schedule is not mostly warm-up. Returns the
    warm-up length in iterations (None: no warm-up)."""
    schedulers = cfg.get('param_scheduler') or []
    schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
    warm = [s for s in schedulers if s.get('type') == 'LinearLR' and s.get('begin', 0) == 0
            and not s.get('by_epoch', True)]
    if not warm:
        return None
    cap = max(1, int(fraction * total_iterations(cfg)))
    for s in warm:
        s['end'] = min(int(s['end']), cap)
    return int(warm[0]['end'])


def _set_path(node: dict, path: str, value, where: str):
    parts = path.split('.')
    for p in parts[:-1]:
        if node.get(p) is None:
            node[p] = {}
        node = node[p]
        if not isinstance(node, dict):
            raise ValueError(f'{where}: cannot set {path!r}: {p!r} is not a dict')
    node[parts[-1]] = value


def apply_method(cfg, method: Method, setting: dict, seed: int | None = None) -> None:
    """Replace the task's optimizer with the method's: ``optim_wrapper`` = OptimWrapper (or the
    method's wrapper type) + the method's optimizer + the cell's setting. The task config keeps
    what is the task's, not the optimizer's: its gradient clipping and its schedule. A knob with a
    dot is a path inside the optim wrapper (``paramwise_cfg.layer_decay_rate``;
    ``optim_wrapper.granularity`` for a top-level wrapper key), any other knob an optimizer argument. Optimizers that
    take a ``seed`` (random scaling) get the cell's seed unless the method fixes one."""
    from mmengine.config import ConfigDict
    from mmengine.registry import OPTIMIZERS
    task_wrapper = cfg.get('optim_wrapper') or {}
    wrapper = {'type': 'OptimWrapper'}
    if task_wrapper.get('clip_grad') is not None:
        # a `_delete_` left by an override that found no clip_grad in the config to replace
        wrapper['clip_grad'] = {k: v for k, v in copy.deepcopy(dict(task_wrapper['clip_grad'])).items()
                                if k != '_delete_'}
    wrapper.update(copy.deepcopy(method.optim_wrapper))
    optimizer = copy.deepcopy(method.optimizer)
    wrapper['optimizer'] = optimizer
    if method.paramwise_cfg is not None:
        wrapper['paramwise_cfg'] = copy.deepcopy(method.paramwise_cfg)
        wrapper.setdefault('constructor', 'LayerwiseOptimWrapperConstructor')
    for k, v in setting.items():
        if '.' in k:  # 'paramwise_cfg.layer_decay_rate', or 'optim_wrapper.<key>' for a top-level key
            path = k[len('optim_wrapper.'):] if k.startswith('optim_wrapper.') else k
            _set_path(wrapper, path, v, f'method {method.name!r}')
        else:
            optimizer[k] = v
    if seed is not None and 'seed' not in optimizer:
        import inspect
        cls = OPTIMIZERS.get(optimizer['type'])
        if cls is not None and 'seed' in inspect.signature(cls.__init__).parameters:
            optimizer['seed'] = seed
    cfg.optim_wrapper = ConfigDict(wrapper)
    own = {'AnchorHook', 'OptimizerStatsHook'}
    hooks = [h for h in (cfg.get('custom_hooks') or []) if h.get('type') not in own]
    cfg.custom_hooks = hooks + [copy.deepcopy(dict(h)) for h in method.custom_hooks]


def _set_backbone_init(cfg, init_cfg):
    backbone = cfg.model.get('backbone')
    if backbone is None:
        raise ValueError(f'{cfg.filename}: the model has no `backbone`, so there is nothing to pre-train '
                         'or restore')
    backbone['init_cfg'] = init_cfg


def ood_loop_config(cfg):
    """(dataloader, evaluator) configs of the out-of-distribution split: a copy of the val loader
    whose dataset reads ``ood_split`` (COCO: ``ann_file`` + ``img``; ADE20K: ``img_path`` +
    ``seg_map_path``; folders: ``data_prefix``)."""
    ood = cfg.get('ood_split')
    if not ood:
        raise ValueError(f'{cfg.filename}: no `ood_split` in the config, so no out-of-distribution split to '
                         'evaluate (set the task\'s ood=False, or add one to the dataset base)')
    ood = dict(ood)
    loader = copy.deepcopy(cfg.val_dataloader)
    ds = loader.dataset
    evaluator = copy.deepcopy(cfg.val_evaluator)
    if 'ann_file' in ood:
        ds.ann_file = ood.pop('ann_file')
        if isinstance(evaluator, dict) and 'ann_file' in evaluator:
            evaluator.ann_file = osp.join(ds.get('data_root', ''), ds.ann_file)
    if 'data_prefix' in ood:
        ds.data_prefix = ood.pop('data_prefix')
    if ood:
        ds.data_prefix = dict(ood)
    return loader, evaluator


def _common_config(cfg, regime: str, upstream_ckpt: str | None, length: int | None, seed: int,
                   configs_root: str, task_config: str):
    from mmengine.config import Config

    from ..engine.hooks import pretrained_weights_configured
    if regime == 'finetune':
        _set_backbone_init(cfg, dict(type='Pretrained', checkpoint=upstream_ckpt, prefix='backbone.'))
    elif pretrained_weights_configured(cfg):
        task_cfg = Config.fromfile(osp.join(configs_root, task_config))
        _set_backbone_init(cfg, copy.deepcopy(task_cfg.model.backbone.get('init_cfg')))
        if pretrained_weights_configured(cfg):
            raise ValueError(f'{task_config}: a from-scratch task whose config loads pre-trained weights')
    set_length(cfg, length)
    cap_warmup(cfg)
    length = cfg.train_cfg.get('max_iters') or cfg.train_cfg.get('max_epochs')
    cfg.train_cfg.val_interval = length
    cfg.train_cfg.val_begin = length + 1  # evaluated once, after training, by run_cell
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = min(cfg.default_hooks.logger.get('interval', 10), 10)
    cfg.log_level = 'WARNING'


def build_cell_config(suite: Suite, cell: Cell, work_dir: str, configs_root: str = CONFIGS, launcher: str = 'none'):
    """The cell's config: the task config with the method's optimizer and the cell's setting, its
    regime's initialisation, the suite's schedule length (warm-up <= 10 % of it), the cell's seed;
    quiet logging; no checkpoints; one evaluation after training (done by :func:`run_cell`)."""
    from ..engine.config import isolate_run, load_config
    task = suite.task(cell.task)
    path = osp.join(configs_root, task.config)
    if not osp.exists(path):
        raise FileNotFoundError(f'cell {cell.id}: config {task.config} does not exist under {configs_root}')
    cfg = load_config(path, cfg_options=dict(task.cfg_options) or None, work_dir=work_dir)
    apply_method(cfg, suite.method(cell.method), cell.settings, seed=cell.seed)
    _common_config(cfg, task.regime, suite.upstream[1] if suite.upstream else None, task.length, cell.seed,
                   configs_root, task.config)
    # a fresh tag per attempt: a retried cell must not reuse the interrupted attempt's visualizer
    isolate_run(cfg, tag=re.sub(r'[^A-Za-z0-9]+', '_', cell.id) + '_' + uuid.uuid4().hex[:6])
    if launcher != 'none':
        # a distributed cell (several GPUs): mmengine's launcher `pytorch` (torchrun) or `slurm`
        # (one Slurm task per GPU); both set a CUDA device per rank, so GPUs only
        cfg.launcher = launcher
    return cfg


def pilot_config(config: str, regime: str, length: int | None, optimizer: str, lr: float, weight_decay: float,
                 seed: int, cfg_options=(), upstream_ckpt: str = osp.join('checkpoints', 'upstream_resnet18.pth'),
                 optimizer_options: dict | None = None):
    """A task config with a plain optimizer setting, for sizing tasks (tools/pilot.py)."""
    from ..engine.config import isolate_run, load_config
    from .upstream import ensure_upstream_checkpoint
    cfg = load_config(config, cfg_options=list(cfg_options) or None,
                      work_dir=osp.join('work_dirs', 'pilot', uuid.uuid4().hex[:8]))
    method = Method('pilot', {'type': optimizer, **(optimizer_options or {})}, paramwise_cfg={'norm_decay_mult': 0.0})
    apply_method(cfg, method, {'lr': lr, 'weight_decay': weight_decay}, seed=seed)
    if regime == 'finetune':
        ensure_upstream_checkpoint(upstream_ckpt)
    _common_config(cfg, regime, upstream_ckpt, length, seed, CONFIGS, osp.relpath(osp.abspath(config), CONFIGS))
    return isolate_run(cfg)


def _peak_memory_reset():
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        return
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # resets the peak resident set size (VmHWM)
    except OSError:
        pass


def _peak_memory_mb():
    """(MiB, what was measured)."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2 ** 20, 'cuda_max_allocated'
    try:
        with open('/proc/self/status') as f:
            m = re.search(r'VmHWM:\s+(\d+)\s+kB', f.read())
        if m:
            return int(m.group(1)) / 1024, 'process_peak_rss'
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 'process_peak_rss_since_start'


def _stage(name: str) -> str:
    """``layer3.1.conv2.weight`` -> ``layer3``; stem parameters (``conv1``, ``bn1``, ``stem.*``) ->
    ``stem`` (``name`` is relative to the backbone)."""
    part = name.split('.')[0]
    return part if part.startswith('layer') else 'stem'


def _state_bytes(optimizer) -> int:
    total = 0
    for state in optimizer.state.values():
        for v in (state.values() if isinstance(state, dict) else []):
            if torch.is_tensor(v):
                total += v.numel() * v.element_size()
    return total


try:
    from mmengine.hooks import Hook as _HookBase
except ImportError:  # pragma: no cover - the benchmark needs mmengine anyway
    _HookBase = object


class BenchmarkHook(_HookBase):
    """Measures a cell while it trains: loss every iteration, relative distance of each backbone
    stage to its weights at the start of training, the :class:`OptimizerStatsHook`'s distance to
    the anchor per depth bucket (anchored methods), ``optimizer.step()`` times, peak memory,
    optimizer state size; reports progress; stops a run whose loss has been non-finite for
    ``DIVERGED_AFTER`` iterations in a row (it is then marked diverged)."""

    priority = 'VERY_LOW'

    def __init__(self, progress=None, num_points: int = 20):
        self.progress = progress
        self.num_points = num_points
        self.losses, self.step_s, self.dist = [], [], []
        self.diverged = False
        self._bad = 0

    def before_run(self, runner) -> None:
        from ..engine.hooks import OptimizerStatsHook
        # this hook measures the distance to the start itself; the stats hook's own copy of the
        # start weights would add to a plain optimizer's measured peak memory
        for h in runner.hooks:
            if isinstance(h, OptimizerStatsHook):
                h.start_distance = False

    def before_train(self, runner) -> None:
        from ..engine.hooks import OptimizerStatsHook, iter_optimizers
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        self.ref = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith('backbone.')}
        self.params = dict(model.named_parameters())
        self.max_iters = runner.max_iters
        self.interval = max(1, runner.max_iters // self.num_points)
        # the optimizer's own stats hook measures at our points (it runs first: NORMAL < VERY_LOW)
        self.stats_hooks = [h for h in runner.hooks if isinstance(h, OptimizerStatsHook)]
        for h in self.stats_hooks:
            h.interval = self.interval
        self.anchor_dist = {}
        self.optimizers = iter_optimizers(runner)
        for opt in self.optimizers:
            self._time_step(opt)
        self._record_distance(0)
        _peak_memory_reset()
        self.t0 = time.perf_counter()

    def _time_step(self, opt):
        original = opt.step
        sync = torch.cuda.is_available()

        def timed_step(*args, **kwargs):
            t = time.perf_counter()
            out = original(*args, **kwargs)
            if sync:
                torch.cuda.synchronize()
            self.step_s.append(time.perf_counter() - t)
            return out
        opt.step = timed_step

    @torch.no_grad()
    def _record_distance(self, it: int) -> None:
        num, den = {}, {}
        for n, ref in self.ref.items():
            d2 = float(torch.linalg.vector_norm(self.params[n].float() - ref.float())) ** 2
            r2 = float(torch.linalg.vector_norm(ref.float())) ** 2
            for s in (_stage(n[len('backbone.'):]), 'backbone'):
                num[s] = num.get(s, 0.0) + d2
                den[s] = den.get(s, 0.0) + r2
        self.dist.append([it, {s: math.sqrt(num[s] / den[s]) for s in num if den[s] > 0}])

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        it = runner.iter + 1
        loss = outputs.get('loss') if isinstance(outputs, dict) else None
        value = float(loss) if loss is not None else float('nan')
        self.losses.append(value)
        self._bad = 0 if math.isfinite(value) else self._bad + 1
        if self._bad >= DIVERGED_AFTER and not self.diverged:
            self.diverged = True
            runner.train_loop.stop_training = True
        if it % self.interval == 0 or it == runner.max_iters:
            self._record_distance(it)
            if self.stats_hooks and it % self.interval == 0:
                for key, buf in runner.message_hub.log_scalars.items():
                    if key.startswith('train/anchor_dist/'):
                        self.anchor_dist.setdefault(key.rsplit('/', 1)[1], []).append([it, float(buf.current())])
        if self.progress is not None:
            self.progress(it, runner.max_iters)

    def after_train(self, runner) -> None:
        self.train_s = time.perf_counter() - self.t0
        self.peak_mb, self.peak_kind = _peak_memory_mb()
        self.state_bytes = sum(_state_bytes(o) for o in self.optimizers)

    def summary(self) -> dict:
        steps = self.step_s[1:] or self.step_s  # the first step allocates the state
        # the loss curve: means over blocks of 2 % of the schedule (iteration = the block's end)
        k = max(1, self.max_iters // 50)
        curve = [[min((i + 1) * k, len(self.losses)), statistics.fmean(self.losses[i * k:(i + 1) * k])]
                 for i in range(math.ceil(len(self.losses) / k))]
        return {
            'cost': {'iters': len(self.losses), 'max_iters': self.max_iters, 'train_s': self.train_s,
                     'step_ms': 1e3 * statistics.median(steps) if steps else float('nan'),
                     'peak_mem_mb': self.peak_mb, 'peak_mem_kind': self.peak_kind,
                     'optimizer_state_mb': self.state_bytes / 2 ** 20},
            'curves': {'loss': curve, 'backbone_dist': self.dist, 'anchor_dist': self.anchor_dist},
        }


def backbone_state(model) -> dict:
    model = model.module if hasattr(model, 'module') else model
    return {k[len('backbone.'):]: v.detach().cpu().clone() for k, v in model.state_dict().items()
            if k.startswith('backbone.')}


@torch.no_grad()
def _reestimate_bn(model, loader, max_images: int) -> int:
    """Recompute every BatchNorm's running mean / variance as the plain average over up to
    ``max_images`` images of ``loader`` (momentum None = cumulative), weights untouched."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    seen = 0
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        model(data['inputs'], mode='tensor')
        seen += len(data['inputs'])
        if seen >= max_images:
            break
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()
    return seen


def upstream_accuracy(suite: Suite, backbone: dict | None = None, configs_root: str = CONFIGS,
                      bn_reestimate: bool = False, bn_images: int = 1024) -> float:
    """Top-1 of the upstream classifier on its val split; with ``backbone``, its backbone is first
    replaced (strictly: every key must match) by the given one; with ``bn_reestimate``, the
    BatchNorm statistics are then recomputed on ``bn_images`` upstream train images (test
    pipeline: no augmentation) before evaluating."""
    from mmengine.evaluator import Evaluator
    from mmengine.registry import MODELS, DefaultScope
    from mmengine.runner import Runner
    from mmengine.runner.checkpoint import _load_checkpoint

    from ..engine.config import load_config
    config, ckpt = suite.upstream
    cfg = load_config(osp.join(configs_root, config), cfg_options=dict(suite.upstream_options) or None)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        model_cfg = copy.deepcopy(cfg.model)
        if cfg.get('data_preprocessor') is not None:
            model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
        model = MODELS.build(model_cfg)
        state = _load_checkpoint(ckpt, map_location='cpu')
        state = state.get('state_dict', state)
        model.load_state_dict(state, strict=True)
        if backbone is not None:
            try:
                model.backbone.load_state_dict(backbone, strict=True)
            except RuntimeError as e:
                raise ValueError(f'the fine-tuned backbone does not fit the upstream classifier {config}: '
                                 f'{str(e).splitlines()[0]}') from None
        model.to(device).eval()
        if bn_reestimate:
            train_loader_cfg = copy.deepcopy(cfg.train_dataloader)
            train_loader_cfg.dataset.pipeline = copy.deepcopy(cfg.val_dataloader.dataset.pipeline)
            train_loader_cfg.sampler = dict(type='DefaultSampler', shuffle=False)
            train_loader_cfg.batch_size = 64
            _reestimate_bn(model, Runner.build_dataloader(train_loader_cfg, seed=0), bn_images)
        loader = Runner.build_dataloader(copy.deepcopy(cfg.val_dataloader))
        evaluator = Evaluator(cfg.val_evaluator)
        evaluator.dataset_meta = getattr(loader.dataset, 'metainfo', None)
        with torch.no_grad():
            for batch in loader:
                evaluator.process(data_samples=model.val_step(batch), data_batch=batch)
        metrics = evaluator.evaluate(len(loader.dataset))
    return float(metrics['accuracy/top1'])


def numeric_metrics(metrics: dict) -> dict:
    """The numeric entries of a metrics dict, as floats."""
    out = {}
    for k, v in (metrics or {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            pass
    return out


@contextlib.contextmanager
def full_precision_coco():
    """mmdet's CocoMetric rounds every AP to 3 decimals (0.001 is a tenth of a detection margin
    here): while evaluating, its module sees a ``round`` that keeps full precision."""
    try:
        from mmdet.evaluation.metrics import coco_metric
    except ImportError:
        yield
        return
    coco_metric.round = lambda x, ndigits=None: float(x)
    try:
        yield
    finally:
        del coco_metric.round


def _run_test_loop(runner, loader_cfg, evaluator_cfg) -> dict:
    from mmengine.runner import TestLoop
    return numeric_metrics(TestLoop(runner, loader_cfg, evaluator_cfg).run())


def _evaluate(suite: Suite, cell: Cell, cfg, runner, diverged: bool, upstream_ref, configs_root) -> dict:
    task = suite.task(cell.task)
    ref = upstream_ref or {}
    result = {'diverged': diverged}
    if diverged:
        # scored at the metric's floor by the analysis (protocol rule 6); nothing to evaluate
        if cell.phase != 'tuning' and task.forgetting:
            result['forgetting'] = {'pretrained_top1': ref.get('raw'), 'pretrained_top1_bn': ref.get('bn'),
                                    'drop': None, 'drop_bn': None}
    elif cell.phase == 'tuning':
        result['val'] = numeric_metrics(runner.val_loop.run())
    else:
        result['test'] = numeric_metrics(runner.test_loop.run())
        if task.ood:
            result['ood'] = _run_test_loop(runner, *ood_loop_config(cfg))
        if task.forgetting:
            backbone = backbone_state(runner.model)
            raw = upstream_accuracy(suite, backbone, configs_root)
            bn = upstream_accuracy(suite, backbone, configs_root, bn_reestimate=True)
            result['forgetting'] = {
                'upstream_top1': raw, 'upstream_top1_bn': bn,
                'pretrained_top1': ref.get('raw'), 'pretrained_top1_bn': ref.get('bn'),
                'drop': None if ref.get('raw') is None else ref['raw'] - raw,
                'drop_bn': None if ref.get('bn') is None else ref['bn'] - bn}
    return result


def run_cell(suite: Suite, cell: Cell, work_dir: str, progress=None, upstream_ref: dict | None = None,
             configs_root: str = CONFIGS, launcher: str = 'none') -> dict:
    """Train and evaluate one cell; returns its result (metrics, cost, curves; no environment).

    ``upstream_ref``: the pre-trained classifier's own upstream top-1, ``{'raw': .., 'bn': ..}``
    (forgetting = that minus the fine-tuned backbone's)."""
    from mmengine.runner import Runner
    cfg = build_cell_config(suite, cell, work_dir, configs_root, launcher)
    os.makedirs(work_dir, exist_ok=True)
    # libraries print (pycocotools' tables) and warn; the terminal keeps the progress line
    with open(osp.join(work_dir, 'output.log'), 'w') as log, contextlib.redirect_stdout(log), \
            warnings.catch_warnings():
        warnings.simplefilter('ignore')
        runner = Runner.from_cfg(cfg)
        hook = BenchmarkHook(progress)
        runner.register_hook(hook)
        runner.train()
        t = time.perf_counter()
        with full_precision_coco():
            result = _evaluate(suite, cell, cfg, runner, hook.diverged, upstream_ref, configs_root)
    result.update(hook.summary())
    result['cost']['eval_s'] = time.perf_counter() - t
    del runner
    gc.collect()
    return result
