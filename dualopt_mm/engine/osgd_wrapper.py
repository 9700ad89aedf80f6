"""``OSGDOptimWrapper``: Orthogonalized SGD for unmodified OpenMMLab models.

mmengine's ``BaseModel.train_step`` sums every loss of the model's loss dict before the optim
wrapper sees it, so the wrapper captures the dict itself: :meth:`OSGDOptimWrapper.optim_context`
registers a temporary forward hook on the model that keeps the output of the ``mode='loss'``
call, and :meth:`OSGDOptimWrapper.update_params` rebuilds one loss per task from it, takes one
gradient per task and combines them by Gram--Schmidt in priority order
(:func:`dualopt_mm.optim.osgd.orthogonalize_gradients`) before the wrapped optimizer steps.

Config::

    optim_wrapper = dict(
        type='OSGDOptimWrapper',
        tasks=[['^aux'], ['^decode']],          # priority order, regexes on loss-dict keys
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
"""
from __future__ import annotations

import re
from contextlib import contextmanager, nullcontext
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import Tensor

from ..optim.osgd import _GRANULARITIES, orthogonalize_gradients

__all__ = ['OSGDOptimWrapper', 'task_losses_from_dict']


def _parse_value(name: str, value) -> Tensor:
    """One loss-dict entry reduced exactly as ``BaseModel.parse_losses`` does."""
    if isinstance(value, Tensor):
        return value.mean()
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Tensor) for v in value):
        return sum(v.mean() for v in value)
    raise TypeError(f'{name} is not a tensor or list of tensors')


def _compile_tasks(tasks) -> List[List[re.Pattern]]:
    if isinstance(tasks, (str, bytes)) or not isinstance(tasks, Sequence) or not tasks:
        raise ValueError(f'tasks: expected a non-empty list (priority order) of lists of '
                         f'loss-key regular expressions, got {tasks!r}')
    compiled = []
    for k, task in enumerate(tasks):
        patterns = [task] if isinstance(task, str) else task
        if not isinstance(patterns, Sequence) or not patterns or \
                not all(isinstance(p, str) for p in patterns):
            raise ValueError(f'tasks[{k}]: expected a non-empty list of regular expressions '
                             f'(strings), got {task!r}')
        out = []
        for p in patterns:
            try:
                out.append(re.compile(p))
            except re.error as e:
                raise ValueError(f'tasks[{k}]: invalid regular expression {p!r}: {e}') from e
        compiled.append(out)
    return compiled


def task_losses_from_dict(losses: Dict[str, object], tasks) -> tuple[list, list]:
    """Split a model's loss dict into per-task losses.

    Keys without ``'loss'`` in their name are ignored (as ``BaseModel.parse_losses`` does). A key
    belongs to the first task (priority order) with a pattern that ``re.search``-es it; keys no
    pattern matches form one extra, last task.

    Args:
        losses: the dict a model returns in ``mode='loss'``.
        tasks: list of lists of patterns (strings or compiled).

    Returns:
        ``(task_losses, task_keys)``: for each task (``len(tasks)`` of them, plus one when some
        keys are unmatched) its summed scalar loss or ``None`` when no key matched, and its keys.
    """
    compiled = [[re.compile(p) if isinstance(p, str) else p for p in task] for task in tasks]
    keys: list[list[str]] = [[] for _ in range(len(compiled) + 1)]
    values: list[list[Tensor]] = [[] for _ in range(len(compiled) + 1)]
    for name, value in losses.items():
        if 'loss' not in name:
            continue
        idx = next((k for k, pats in enumerate(compiled) if any(p.search(name) for p in pats)),
                   len(compiled))
        keys[idx].append(name)
        values[idx].append(_parse_value(name, value))
    if not keys[-1]:
        keys.pop()
        values.pop()
    task_losses = [sum(v) if v else None for v in values]
    return task_losses, keys


def _dist_world_size() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_world_size()
    return 1


@OPTIM_WRAPPERS.register_module()
class OSGDOptimWrapper(OptimWrapper):
    r"""Optim wrapper applying Orthogonalized SGD (Wan et al., ICML 2020) to any optimizer.

    Each update: one gradient :math:`g_k` per task (``torch.autograd.grad`` over the trainable
    parameters of the optimizer), Gram--Schmidt in priority order (per tensor or global), and the
    combined gradient :math:`G=\sum_k v_k` written to ``.grad``; then ``clip_grad`` (which clips
    :math:`G`) and the wrapped optimizer's ``step``. With a single task it is the plain
    ``OptimWrapper``.

    Works with unmodified mmdet / mmseg / mmpretrain models: :meth:`optim_context` hooks the
    model's ``mode='loss'`` forward to capture the loss dict; the summed loss passed to
    :meth:`update_params` is not used for the gradients. Per-task losses are rebuilt exactly as
    ``BaseModel.parse_losses`` does (mean of a tensor, sum of means of a list); keys without
    ``'loss'`` (e.g. mmdet's ``acc``) are ignored.

    Args:
        optimizer: the wrapped optimizer.
        tasks: list in priority order (highest first) of lists of regular expressions matched
            (``re.search``) against the loss-dict keys, e.g. ``[['^aux'], ['^decode']]``. A key
            belongs to the first matching task; keys no pattern matches form one last task.
            A string stands for a one-pattern list.
        granularity: ``'tensor'`` (projection per parameter tensor) or ``'global'``.
        accumulative_counts: gradient accumulation is supported: each task's gradient (of the
            loss scaled like ``OptimWrapper.scale_loss``) is accumulated in a per-task buffer,
            and the orthogonalization runs once, on the accumulated task gradients, at the
            update (the same as one large batch).
        clip_grad: as for ``OptimWrapper``; it clips the combined gradient in :meth:`step`.
        log_grad_norms: log each task's gradient norm to the MessageHub as
            ``train/osgd_task{k}_grad_norm`` (one host sync per update).
        eps: squared norms below ``eps`` are treated as zero in the projection.

    Distributed training: when ``torch.distributed`` is initialized with more than one rank,
    ``torch.autograd.grad`` does not trigger DDP's all-reduce, so the wrapper runs the model's
    forward under ``no_sync()`` (when the model has it) and all-reduces (averages) every task
    gradient itself *before* the projection, which is therefore identical on every rank.

    Cost: K backward passes (each through the part of the graph its loss reaches) and K
    per-task gradient copies of the parameters in memory. Mixed precision
    (``AmpOptimWrapper``) and sharded parameters (FSDP / ZeRO) are not supported.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, tasks, granularity: str = 'tensor',
                 accumulative_counts: int = 1, clip_grad: Optional[dict] = None,
                 log_grad_norms: bool = True, eps: float = 1e-20):
        if granularity not in _GRANULARITIES:
            raise ValueError(f'Invalid granularity: {granularity!r} '
                             f'(expected one of {_GRANULARITIES})')
        if eps < 0:
            raise ValueError(f'Invalid eps: {eps} (expected >= 0)')
        super().__init__(optimizer, accumulative_counts=accumulative_counts,
                         clip_grad=clip_grad)
        self.tasks = _compile_tasks(tasks)
        self.granularity = granularity
        self.log_grad_norms = log_grad_norms
        self.eps = eps
        self._captured: Optional[dict] = None
        self._buffers: Optional[list] = None  # per-task accumulated gradients
        self._checked_total = False

    # ------------------------------------------------------------------ capture
    def _capture_hook(self, module, args, kwargs, output):
        if kwargs.get('mode') == 'loss' and isinstance(output, dict):
            self._captured = output

    @contextmanager
    def optim_context(self, model: nn.Module):
        """``OptimWrapper.optim_context`` plus a forward hook that captures the loss dict (and,
        under DDP, ``no_sync()``: the task gradients are all-reduced by the wrapper)."""
        self._captured = None
        handle = model.register_forward_hook(self._capture_hook, with_kwargs=True)
        nosync = model.no_sync() if (_dist_world_size() > 1 and hasattr(model, 'no_sync')) \
            else nullcontext()
        try:
            with super().optim_context(model), nosync:
                yield
        finally:
            handle.remove()

    # ------------------------------------------------------------------ update
    def _params(self) -> List[Tensor]:
        seen, params = set(), []
        for group in self.optimizer.param_groups:
            for p in group['params']:
                if p.requires_grad and id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return params

    def task_losses(self, losses: dict):
        """Per-task losses (``None`` for a task without keys) and keys from a loss dict."""
        return task_losses_from_dict(losses, self.tasks)

    def update_params(self, loss: Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """Per-task gradients from the captured loss dict, accumulation, orthogonalization,
        ``.grad``, then ``step`` + ``zero_grad`` when :meth:`should_update`.

        ``loss`` (the summed loss of ``train_step``) is only used for a one-time consistency
        check against the sum of the rebuilt task losses.
        """
        step_kwargs = step_kwargs or {}
        zero_kwargs = zero_kwargs or {}
        captured, self._captured = self._captured, None
        if captured is None:
            raise RuntimeError(
                'OSGDOptimWrapper: no loss dict was captured. The model must be called with '
                "mode='loss' inside `with optim_wrapper.optim_context(model):` before "
                'update_params (as BaseModel.train_step does); a custom train_step that skips '
                'optim_context, or a model whose loss forward is not called with mode=\'loss\' '
                'as a keyword argument, cannot be used with OSGD.')
        task_losses, task_keys = self.task_losses(captured)
        if not any(t is not None for t in task_losses):
            raise RuntimeError(f'OSGDOptimWrapper: the loss dict has no loss key '
                               f'(keys: {list(captured)})')
        if not self._checked_total:
            self._check_total(loss, task_losses, task_keys)
        # a fixed number of slots (the configured tasks + the unmatched one), so that gradient
        # accumulation lines up when unmatched keys appear in some iterations only
        task_losses = task_losses + [None] * (len(self.tasks) + 1 - len(task_losses))

        params = self._params()
        grads_per_task = []
        last = max(k for k, t in enumerate(task_losses) if t is not None)
        for k, tl in enumerate(task_losses):
            if tl is None or not tl.requires_grad:
                grads_per_task.append([None] * len(params))
                continue
            grads = torch.autograd.grad(self.scale_loss(tl), params, retain_graph=k < last,
                                        allow_unused=True)
            grads_per_task.append(list(grads))
        self._accumulate(grads_per_task)
        self._inner_count += 1

        if self.should_update():
            self._apply(params)
            self.step(**step_kwargs)
            self.zero_grad(**zero_kwargs)

    def _accumulate(self, grads_per_task):
        if self._buffers is None or len(self._buffers) != len(grads_per_task) or \
                len(self._buffers[0]) != len(grads_per_task[0]):
            if self._buffers is not None and any(g is not None for b in self._buffers for g in b):
                raise RuntimeError('OSGDOptimWrapper: the number of tasks or parameters changed '
                                   'during gradient accumulation')
            self._buffers = [list(g) for g in grads_per_task]
            return
        for buf, grads in zip(self._buffers, grads_per_task):
            for i, g in enumerate(grads):
                if g is None:
                    continue
                buf[i] = g if buf[i] is None else buf[i].add_(g)

    def _apply(self, params: List[Tensor]) -> None:
        buffers, self._buffers = self._buffers, None
        if _dist_world_size() > 1:
            buffers = self._all_reduce(buffers, params)
        if self.log_grad_norms:
            for k, grads in enumerate(buffers):
                sq = [g.detach().float().pow(2).sum() for g in grads if g is not None]
                if not sq:  # a task without keys (e.g. no unmatched losses): nothing to log
                    continue
                norm = float(torch.stack([s.to(sq[0].device) for s in sq]).sum().sqrt())
                self.message_hub.update_scalar(f'train/osgd_task{k}_grad_norm', norm)
        combined = orthogonalize_gradients(buffers, granularity=self.granularity, eps=self.eps)
        with torch.no_grad():
            for p, g in zip(params, combined):
                if g is None:
                    continue
                g = g.detach()
                if p.grad is None:
                    p.grad = g
                else:
                    p.grad.add_(g)

    @staticmethod
    def _all_reduce(buffers, params):
        """Average every task gradient over the ranks. A (task, parameter) gradient missing on
        some ranks counts as zero there; one missing on every rank stays ``None``."""
        import torch.distributed as dist
        world = dist.get_world_size()
        n_tasks, n_params = len(buffers), len(buffers[0])
        dev = params[0].device if params else torch.device('cpu')
        if dist.get_backend() == 'nccl' and dev.type != 'cuda':
            dev = torch.device('cuda', torch.cuda.current_device())
        present = torch.tensor([[b[i] is not None for i in range(n_params)] for b in buffers],
                               dtype=torch.float32, device=dev)
        dist.all_reduce(present)
        present = present.cpu().bool().tolist()
        out = []
        for k, b in enumerate(buffers):
            row = []
            for i in range(n_params):
                if not present[k][i]:
                    row.append(None)
                else:
                    row.append(b[i] if b[i] is not None else torch.zeros_like(params[i]))
            # one flat all-reduce per (device, dtype) bucket
            buckets: Dict[tuple, list] = {}
            for i, g in enumerate(row):
                if g is not None:
                    buckets.setdefault((g.device, g.dtype), []).append(i)
            for idx in buckets.values():
                flat = torch._utils._flatten_dense_tensors([row[i] for i in idx])
                dist.all_reduce(flat)
                flat.div_(world)
                for i, t in zip(idx, torch._utils._unflatten_dense_tensors(
                        flat, [row[i] for i in idx])):
                    row[i] = t
            out.append(row)
        return out

    def _check_total(self, loss, task_losses, task_keys) -> None:
        self._checked_total = True
        print_log(f'OSGDOptimWrapper: {len(task_keys)} tasks (priority order): '
                  + '; '.join(f'task{k}={keys}' for k, keys in enumerate(task_keys)),
                  logger='current')
        all_keys = [key for keys in task_keys for key in keys]
        for k, pats in enumerate(self.tasks):
            if k >= len(task_keys) or not task_keys[k]:
                # a typo in a pattern silently turns OSGD into the plain optimizer for that task
                print_log(f'OSGDOptimWrapper: tasks[{k}] = {[p.pattern for p in pats]} matches no loss key of the '
                          f'model (its loss keys: {all_keys}); that task contributes no gradient',
                          logger='current', level=30)
        if not isinstance(loss, Tensor):
            return
        total = sum(t.detach() for t in task_losses if t is not None)
        if not torch.allclose(total.float(), loss.detach().float(), rtol=1e-4, atol=1e-6):
            print_log(f'OSGDOptimWrapper: the task losses sum to {float(total):.6g} but the '
                      f'model\'s summed loss is {float(loss):.6g}; the model probably weights '
                      f'its losses in parse_losses/train_step, which OSGD does not see.',
                      logger='current', level=30)
