"""Hooks that make the optimizers' behaviour visible in an mmengine run.

* :class:`AnchorHook` -- captures the anchors explicitly once the pre-trained weights are loaded
  (``before_train`` runs after ``init_weights`` and ``load_from`` / resume) and says what it did;
  warns when a fine-tuning optimizer has no pre-trained weights to anchor to, or when a resumed
  checkpoint carries no anchors.
* :class:`OptimizerStatsHook` -- every ``interval`` iterations, writes to mmengine's MessageHub
  (so to the text and json logs and any visualizer backend): the relative distance to the anchor
  ``||theta - theta_0|| / ||theta_0||`` per depth bucket, the rollback strength in force, the share
  of SPD gates that opened, the last random scale and the hybrid gamma.
"""
from __future__ import annotations

import math

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from ..optim._anchor import depth_map, group_depth
from ..optim._core import statistics

__all__ = ['AnchorHook', 'OptimizerStatsHook', 'iter_optimizers', 'pretrained_weights_configured']


def iter_optimizers(runner):
    """The torch optimizers behind ``runner.optim_wrapper`` (an OptimWrapperDict holds several)."""
    wrapper = runner.optim_wrapper
    wrappers = wrapper.values() if hasattr(wrapper, 'values') else [wrapper]
    return [w.optimizer for w in wrappers]


def _uses_anchors(optimizer) -> bool:
    if not hasattr(optimizer, 'capture_anchors'):
        return False
    return any(optimizer._group_anchored(g) for g in optimizer.param_groups)


def pretrained_weights_configured(cfg) -> bool:
    """``load_from`` is set, or the model config has an ``init_cfg`` of type Pretrained or a
    ``pretrained`` checkpoint somewhere."""
    if cfg.get('load_from'):
        return True

    def walk(node):
        if isinstance(node, dict):
            init = node.get('init_cfg')
            inits = init if isinstance(init, list) else [init]
            if any(isinstance(i, dict) and i.get('type') == 'Pretrained' for i in inits):
                return True
            if isinstance(node.get('pretrained'), str):
                return True
            return any(walk(v) for v in node.values())
        if isinstance(node, (list, tuple)):
            return any(walk(v) for v in node)
        return False
    return walk(cfg.get('model', {}))


def _anchor_stats(optimizer):
    n, nbytes = 0, 0
    for state in optimizer.state.values():
        a = state.get('anchor') if isinstance(state, dict) else None
        if a is not None:
            n += 1
            nbytes += a.numel() * a.element_size()
    return n, nbytes


@HOOKS.register_module()
class AnchorHook(Hook):
    """Capture the optimizer's anchors right before training, after the weights are loaded.

    The optimizers capture lazily at their first step anyway; this hook makes the moment explicit,
    logs how many tensors and bytes were anchored, and warns about the silent failure modes of
    fine-tuning: no pre-trained weights configured (the anchor would be the random
    initialisation), a resumed checkpoint without anchors (they are re-captured from the resumed
    weights, which are no longer the pre-trained ones), and groups that do not say which
    parameters are pre-trained (built without the layer-wise constructor: new heads are anchored
    to, and rolled back toward, their random initialisation).
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        resumed = bool(getattr(runner, '_resume', False)) and getattr(runner, '_has_loaded', False)
        for optimizer in iter_optimizers(runner):
            name = type(optimizer).__name__
            if not _uses_anchors(optimizer):
                print_log(f'AnchorHook: {name} keeps no anchors; nothing to capture', logger='current')
                continue
            groups = optimizer.param_groups
            if all(g.get('pretrained', True) for g in groups) and not any('layer_id' in g for g in groups):
                # mmengine's default constructor: nothing tells pre-trained from new parameters
                print_log(f'AnchorHook: {name} anchors every parameter it optimizes, the randomly '
                          'initialised neck and head included (every param group has the default '
                          '`pretrained=True`): set optim_wrapper.constructor="LayerwiseOptimWrapperConstructor" '
                          '(paramwise_cfg.pretrained_prefixes, default ["backbone"]) to anchor only '
                          'the pre-trained part', logger='current', level=30)
            had, _ = _anchor_stats(optimizer)
            if resumed and had == 0:
                print_log(f'AnchorHook: the resumed checkpoint holds no anchors for {name}; they are '
                          'captured from the resumed weights, NOT the pre-trained ones',
                          logger='current', level=30)
            elif not resumed and not pretrained_weights_configured(runner.cfg):
                print_log(f'AnchorHook: {name} pulls toward pre-trained weights, but neither '
                          '`load_from` nor an `init_cfg=dict(type="Pretrained", ...)` is configured: '
                          'the anchors are the random initialisation', logger='current', level=30)
            new = optimizer.capture_anchors()
            n, nbytes = _anchor_stats(optimizer)
            print_log(f'AnchorHook: {name}: {n} tensors anchored ({new} captured now, {n - new} from '
                      f'the checkpoint), {nbytes / 2 ** 20:.1f} MiB', logger='current')


def _order_depth(groups):
    """The optimizers' fallback depth (tensor order) when some group has no ``layer_depth``."""
    return depth_map(groups) if any(g.get('layer_depth') is None for g in groups) else None


@HOOKS.register_module()
class OptimizerStatsHook(Hook):
    """Log what the optimizer did, every ``interval`` training iterations.

    Keys (under ``train/`` in the MessageHub; only those that apply are written):
    ``anchor_dist/d{b}`` relative distance to the anchor of depth bucket ``b`` (0 = nearest the
    input, ``num_buckets`` buckets over ``layer_depth``); ``rollback_lambda`` the pull
    ``(lr/initial_lr) * r(d)`` of the shallowest pre-trained group; ``spd_gate_open`` the share of
    tensors whose SPD gate opened at the last step; ``random_scale`` the last ``s_t``;
    ``hybrid_gamma`` the current gamma; ``start_dist/d{b}`` (``start_distance=True``, the
    default) the same relative distance for an optimizer without anchors (SGD, AdamW, ...), to the
    weights at the start of training (kept as one copy of the parameters), so a baseline's drift
    can be compared with an anchored method's ``anchor_dist``.
    """

    priority = 'NORMAL'  # before LoggerHook (BELOW_NORMAL) so the values reach the same log line

    def __init__(self, interval: int = 50, num_buckets: int = 4, start_distance: bool = True):
        if interval < 1 or num_buckets < 1:
            raise ValueError(f'interval and num_buckets must be >= 1, got {interval}, {num_buckets}')
        self.interval = interval
        self.num_buckets = num_buckets
        self.start_distance = start_distance
        self._start = {}

    @torch.no_grad()
    def before_train(self, runner) -> None:
        # after the checkpoint loaded (before_train runs after load_or_resume): the start weights
        # of the optimizers that keep no anchors of their own
        if not self.start_distance:
            return
        for optimizer in iter_optimizers(runner):
            if not _uses_anchors(optimizer):
                self._start[id(optimizer)] = {p: p.detach().clone() for g in optimizer.param_groups
                                              for p in g['params'] if g.get('pretrained', True)}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if not self.every_n_train_iters(runner, self.interval) and runner.iter != 0:
            return
        hub = runner.message_hub
        for optimizer in iter_optimizers(runner):
            for key, value in self.collect(optimizer).items():
                hub.update_scalar(f'train/{key}', value)

    @torch.no_grad()
    def collect(self, optimizer) -> dict:
        out = {}
        out.update(self._anchor_distance(optimizer))
        start = self._start.get(id(optimizer))
        if start:
            out.update({k.replace('anchor_dist', 'start_dist'): v
                        for k, v in self._anchor_distance(optimizer, start).items()})
        out.update(statistics(optimizer))  # each stage of the optimizer reports its own
        return out

    def _anchor_distance(self, optimizer, reference: dict | None = None) -> dict:
        """Relative distance per depth bucket to the anchors (or to ``reference``: param -> tensor)."""
        num = [0.0] * self.num_buckets
        den = [0.0] * self.num_buckets
        seen = False
        order = _order_depth(optimizer.param_groups)
        for g in optimizer.param_groups:
            for p in g['params']:
                a = optimizer.state.get(p, {}).get('anchor') if reference is None else reference.get(p)
                if a is None:
                    continue
                b = min(int(group_depth(g, p, order) * self.num_buckets), self.num_buckets - 1)
                seen = True
                num[b] += float(torch.linalg.vector_norm(p.detach().float() - a.float())) ** 2
                den[b] += float(torch.linalg.vector_norm(a.float())) ** 2
        if not seen:
            return {}
        return {f'anchor_dist/d{b}': math.sqrt(num[b]) / math.sqrt(den[b])
                for b in range(self.num_buckets) if den[b] > 0}
