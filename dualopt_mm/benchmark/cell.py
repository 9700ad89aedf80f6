"""One benchmark cell: build its config, train it, measure it, evaluate it three ways.

* in distribution: the config's val split, once after training;
* out of distribution: the config's ``ood_split`` (same annotations format, other images), run
  through the test loop;
* forgetting: the fine-tuned backbone put into the upstream classifier (its pre-trained head and
  neck), evaluated on the upstream val split, against the pre-trained backbone's own score.

Cost comes from :class:`BenchmarkHook`: wall time of training, the median ``optimizer.step()``,
peak memory (CUDA allocator peak on a GPU; the process's peak resident set, reset per cell, on
CPU) and the bytes the optimizer keeps in its state (moments, anchors).
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

from .suite import Cell, Suite

__all__ = ['build_cell_config', 'run_cell', 'BenchmarkHook', 'apply_ood_split', 'set_length',
           'upstream_accuracy', 'backbone_state', 'numeric_metrics']

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO_ROOT, 'configs')


def set_length(cfg, length: int) -> None:
    """Train for ``length`` epochs or iterations (whichever the config counts); schedulers that
    ended with the old schedule end with the new one (warm-ups keep their length)."""
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


def apply_ood_split(cfg) -> None:
    """Point the test loop at the config's ``ood_split``: a copy of the val loader whose dataset
    reads the OOD annotations / images (COCO: ``ann_file`` + ``img``; ADE20K: ``img_path`` +
    ``seg_map_path``; folders: ``data_prefix``)."""
    ood = cfg.get('ood_split')
    if not ood:
        raise ValueError(f'{cfg.filename}: no `ood_split` in the config, so no out-of-distribution split to '
                         'evaluate (set task.ood=False, or add one to the dataset base)')
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
    cfg.test_dataloader = loader
    cfg.test_evaluator = evaluator
    cfg.test_cfg = cfg.get('test_cfg') or cfg.get('val_cfg') or dict()


def _set_backbone_init(cfg, init_cfg):
    backbone = cfg.model.get('backbone')
    if backbone is None:
        raise ValueError(f'{cfg.filename}: the model has no `backbone`, so there is nothing to pre-train '
                         'or restore')
    backbone['init_cfg'] = init_cfg


def build_cell_config(suite: Suite, cell: Cell, work_dir: str, configs_root: str = CONFIGS):
    """The cell's config: the method's leaf with the cell's regime, schedule, lr and seed; quiet
    logging; no checkpoints; one evaluation after training (done by :func:`run_cell`)."""
    from mmengine.config import Config

    from ..engine.config import isolate_run, load_config
    from ..engine.hooks import pretrained_weights_configured
    task = suite.task(cell.task)
    path = osp.join(configs_root, cell.config)
    if not osp.exists(path):
        raise FileNotFoundError(f'cell {cell.id}: config {cell.config} does not exist under {configs_root}')
    cfg = load_config(path, cfg_options=dict(task.cfg_options) or None, work_dir=work_dir)
    if cell.regime == 'finetune':
        ckpt = suite.upstream[1]
        _set_backbone_init(cfg, dict(type='Pretrained', checkpoint=ckpt, prefix='backbone.'))
    elif pretrained_weights_configured(cfg):
        # a fine-tuning leaf used from scratch: the task config's own initialisation
        task_cfg = Config.fromfile(osp.join(configs_root, task.config))
        _set_backbone_init(cfg, copy.deepcopy(task_cfg.model.backbone.get('init_cfg')))
        if pretrained_weights_configured(cfg):
            raise ValueError(f'cell {cell.id}: a scratch cell, but {task.config} loads pre-trained weights')
    set_length(cfg, cell.length)
    length = cfg.train_cfg.get('max_iters') or cfg.train_cfg.get('max_epochs')
    cfg.train_cfg.val_interval = length
    cfg.train_cfg.val_begin = length + 1  # evaluated once, after training, by run_cell
    cfg.optim_wrapper.optimizer.lr = cell.lr
    if 'seed' in cfg.optim_wrapper.optimizer:
        cfg.optim_wrapper.optimizer.seed = cell.seed
    cfg.randomness = dict(seed=cell.seed, deterministic=False)
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = min(cfg.default_hooks.logger.get('interval', 10), 10)
    cfg.log_level = 'WARNING'
    if task.ood:
        apply_ood_split(cfg)
    # a fresh tag per attempt: a retried cell must not reuse the interrupted attempt's visualizer
    isolate_run(cfg, tag=re.sub(r'[^A-Za-z0-9]+', '_', cell.id) + '_' + uuid.uuid4().hex[:6])
    return cfg


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
    stage to its weights at the start of training (the pre-trained ones when fine-tuning), the
    :class:`OptimizerStatsHook`'s distance to the anchor per depth bucket (anchored methods),
    ``optimizer.step()`` times, peak memory, optimizer state size; reports progress."""

    priority = 'VERY_LOW'

    def __init__(self, progress=None, num_points: int = 20):
        self.progress = progress
        self.num_points = num_points
        self.losses, self.step_s, self.dist = [], [], []

    def before_train(self, runner) -> None:
        from ..engine.hooks import iter_optimizers
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        self.ref = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith('backbone.')}
        self.params = dict(model.named_parameters())
        self.interval = max(1, runner.max_iters // self.num_points)
        # the optimizer's own stats hook measures at our points (it runs first: NORMAL < VERY_LOW)
        from ..engine.hooks import OptimizerStatsHook
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
        self.losses.append(float(loss) if loss is not None else float('nan'))
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
        k = max(1, len(self.losses) // 50)
        curve = [[(i + 1) * k, statistics.fmean(self.losses[i * k:(i + 1) * k])]
                 for i in range(len(self.losses) // k)]
        return {
            'cost': {'iters': len(self.losses), 'train_s': self.train_s,
                     'step_ms': 1e3 * statistics.median(steps) if steps else float('nan'),
                     'peak_mem_mb': self.peak_mb, 'peak_mem_kind': self.peak_kind,
                     'optimizer_state_mb': self.state_bytes / 2 ** 20},
            'curves': {'loss': curve, 'backbone_dist': self.dist, 'anchor_dist': self.anchor_dist},
        }


def backbone_state(model) -> dict:
    model = model.module if hasattr(model, 'module') else model
    return {k[len('backbone.'):]: v.detach().cpu().clone() for k, v in model.state_dict().items()
            if k.startswith('backbone.')}


def upstream_accuracy(suite: Suite, backbone: dict | None = None, configs_root: str = CONFIGS) -> float:
    """Top-1 of the upstream classifier on its val split; with ``backbone``, its backbone is first
    replaced (strictly: every key must match) by the given one."""
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
        loader_cfg = copy.deepcopy(cfg.val_dataloader)
        loader = Runner.build_dataloader(loader_cfg)
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


def run_cell(suite: Suite, cell: Cell, work_dir: str, progress=None, upstream_top1: float | None = None,
             configs_root: str = CONFIGS) -> dict:
    """Train and evaluate one cell; returns its result (metrics, cost, curves; no environment)."""
    from mmengine.runner import Runner
    task = suite.task(cell.task)
    cfg = build_cell_config(suite, cell, work_dir, configs_root)
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
        result = {'val': numeric_metrics(runner.val_loop.run())}
        if task.ood:
            result['ood'] = numeric_metrics(runner.test_loop.run())
        if task.forgetting:
            top1 = upstream_accuracy(suite, backbone_state(runner.model), configs_root)
            result['forgetting'] = {'upstream_top1': top1, 'pretrained_top1': upstream_top1,
                                    'drop': (upstream_top1 - top1) if upstream_top1 is not None else None}
    result.update(hook.summary())
    result['cost']['eval_s'] = time.perf_counter() - t
    result['config_text'] = cfg.pretty_text
    del runner
    gc.collect()
    return result
