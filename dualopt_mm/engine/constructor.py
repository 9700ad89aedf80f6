"""``LayerwiseOptimWrapperConstructor``: layer depth, pre-trained vs new groups, merged groups.

Use it in a config::

    optim_wrapper = dict(
        optimizer=dict(type='DualOptAdamW', lr=1e-4, rollback=0.01),
        constructor='LayerwiseOptimWrapperConstructor',
        paramwise_cfg=dict(pretrained_prefixes=['backbone'], norm_decay_mult=0.,
                           custom_keys={'backbone.layer1': dict(rollback=0.02)}))
"""
from __future__ import annotations

import logging
from collections import OrderedDict

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from .layer_depth import DEPTH_MODES, compute_layer_ids

__all__ = ['LayerwiseOptimWrapperConstructor']

_NORMS = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)
_MULTS = ('bias_lr_mult', 'bias_decay_mult', 'norm_decay_mult', 'dwconv_decay_mult',
          'flat_decay_mult', 'dcn_offset_lr_mult')
_KNOWN = set(_MULTS) | {'custom_keys', 'bypass_duplicate', 'pretrained_prefixes', 'depth_mode',
                        'layer_decay_rate', 'trace_input_size'}
# group keys the constructor writes; every one is also put into optimizer.defaults
_GROUP_KEYS = ('layer_id', 'num_layers', 'layer_depth', 'pretrained', 'param_names')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerwiseOptimWrapperConstructor:
    """Builds merged parameter groups that carry each parameter's layer depth and whether it is
    pre-trained, for any model, honouring mmengine's whole ``paramwise_cfg`` vocabulary.

    One pass over ``model.named_parameters()`` (shared parameters once, ``requires_grad=False``
    ones skipped). Per parameter:

    * ``lr`` and ``weight_decay``: mmengine's rules -- the longest ``custom_keys`` entry that is a
      substring of the name wins (``lr_mult``, ``decay_mult`` and any other key, e.g.
      ``rollback``, copied into the group); otherwise ``bias_lr_mult``, ``norm_decay_mult``,
      ``bias_decay_mult``, ``dwconv_decay_mult``, ``flat_decay_mult``, ``dcn_offset_lr_mult``;
      then, if ``layer_decay_rate`` is set, ``lr *= rate ** (num_layers - 1 - i)`` (layer-wise lr
      decay, the usual fine-tuning baseline), with ``i`` in the numbering of the OpenMMLab
      lr-decay constructors (norms after the blocks share the head's slot, see
      :mod:`.layer_depth`), which can differ from ``layer_id`` for those norms;
    * ``pretrained``: the parameter lies under one of ``pretrained_prefixes`` (module paths,
      default ``['backbone']``; necks and heads are new);
    * ``layer_id``, ``num_layers``, ``layer_depth = layer_id / (num_layers - 1)``: from the model's
      ``get_layer_depth``, else execution-order tracing of each pre-trained module, else
      registration order (``depth_mode``: ``'auto'``, ``'model'``, ``'trace'``, ``'order'``);
      ``trace_input_size`` is the dummy input's shape (default ``(1, 3, 224, 224)``). Depth goes
      up by one per block in the order modules run (:mod:`.layer_depth` has the rule).

    Parameters with identical settings share one group (in first-appearance order, so resumed
    runs line up); each group lists its ``param_names``. Every key the groups carry is also in
    ``optimizer.defaults`` so any mmengine ParamScheduler can schedule it.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None):
        if not isinstance(optim_wrapper_cfg, dict):
            raise TypeError(f'optim_wrapper_cfg must be a dict, got {type(optim_wrapper_cfg).__name__}')
        self.optim_wrapper_cfg = dict(optim_wrapper_cfg)
        if 'optimizer' not in self.optim_wrapper_cfg:
            raise ValueError('optim_wrapper_cfg needs an "optimizer" entry')
        self.optimizer_cfg = dict(self.optim_wrapper_cfg.pop('optimizer'))
        self.optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        self.paramwise_cfg = dict(paramwise_cfg or {})
        self._validate()
        self.base_lr = self.optimizer_cfg.get('lr')
        self.base_wd = self.optimizer_cfg.get('weight_decay')

    def _validate(self):
        cfg = self.paramwise_cfg
        unknown = set(cfg) - _KNOWN
        if unknown:
            raise ValueError(f'paramwise_cfg: unknown keys {sorted(unknown)}; known: {sorted(_KNOWN)}')
        custom = cfg.get('custom_keys', {})
        if not isinstance(custom, dict) or not all(isinstance(v, dict) for v in custom.values()):
            raise ValueError('paramwise_cfg.custom_keys must map name substrings to dicts')
        base_lr, base_wd = self.optimizer_cfg.get('lr'), self.optimizer_cfg.get('weight_decay')
        for k in _MULTS:
            if k in cfg and (isinstance(cfg[k], bool) or not isinstance(cfg[k], (int, float))):
                raise ValueError(f'paramwise_cfg.{k} must be a number, got {cfg[k]!r}')
        for key, opts in custom.items():
            for m in ('lr_mult', 'decay_mult'):
                if m in opts and (isinstance(opts[m], bool) or not isinstance(opts[m], (int, float))):
                    raise ValueError(f'paramwise_cfg.custom_keys[{key!r}].{m} must be a number, got {opts[m]!r}')
        # a multiplier of a value the optimizer config does not give would silently do nothing
        # (the optimizer's own default applies instead); mmengine refuses these too
        decay_mults = [k for k in ('norm_decay_mult', 'bias_decay_mult', 'dwconv_decay_mult', 'flat_decay_mult')
                       if k in cfg] + [f'custom_keys[{k!r}].decay_mult' for k, o in custom.items() if 'decay_mult' in o]
        if decay_mults and base_wd is None:
            raise ValueError(f'paramwise_cfg: {", ".join(decay_mults)} multiplies the weight decay, but the '
                             'optimizer config has no weight_decay: set optimizer.weight_decay')
        lr_mults = [k for k in ('bias_lr_mult', 'dcn_offset_lr_mult') if k in cfg] + \
            [f'custom_keys[{k!r}].lr_mult' for k, o in custom.items() if 'lr_mult' in o]
        if lr_mults and base_lr is None:
            raise ValueError(f'paramwise_cfg: {", ".join(lr_mults)} multiplies the lr, but the optimizer '
                             'config has no lr: set optimizer.lr')
        prefixes = cfg.setdefault('pretrained_prefixes', ['backbone'])
        if isinstance(prefixes, str) or not all(isinstance(p, str) for p in prefixes):
            raise ValueError('paramwise_cfg.pretrained_prefixes must be a list of module paths, '
                             f'got {prefixes!r}')
        if cfg.setdefault('depth_mode', 'auto') not in DEPTH_MODES:
            raise ValueError(f'paramwise_cfg.depth_mode must be one of {DEPTH_MODES}, '
                             f'got {cfg["depth_mode"]!r}')
        rate = cfg.get('layer_decay_rate')
        if rate is not None and not (isinstance(rate, (int, float)) and 0 < rate <= 1):
            raise ValueError(f'paramwise_cfg.layer_decay_rate must be in (0, 1], got {rate!r}')

    # ----------------------------------------------------------------------------------------
    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):  # DDP / MMDistributedDataParallel
            model = model.module
        optimizer_cfg = dict(self.optimizer_cfg)
        # mmengine passes the groups under the optimizer's first argument, whatever its name
        optimizer_cfg[_first_argument(optimizer_cfg.get('type'))] = self.build_param_groups(model)
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        self._check_group_keys(optimizer)
        self._expose_group_keys(optimizer)
        return OPTIM_WRAPPERS.build(self.optim_wrapper_cfg, default_args=dict(optimizer=optimizer))

    def build_param_groups(self, model: nn.Module) -> list[dict]:
        cfg = self.paramwise_cfg
        entries = self._collect(model)
        names = [name for name, _, _ in entries]
        prefixes = cfg['pretrained_prefixes']
        for prefix in prefixes:
            if not any(_under(n, prefix) for n in names):
                tops = sorted({n.split('.')[0] for n in names})
                raise ValueError(f'paramwise_cfg.pretrained_prefixes: {prefix!r} matches no trainable '
                                 f'parameter of {type(model).__name__}; top-level modules: {tops}')
        size = tuple(cfg.get('trace_input_size', (1, 3, 224, 224)))
        ids, used = compute_layer_ids(model, names, prefixes, cfg['depth_mode'], size)
        rate = cfg.get('layer_decay_rate')
        decay_ids = ids if rate is None else \
            compute_layer_ids(model, names, prefixes, used, size, numbering='lr_decay')[0]
        print_log(f'LayerwiseOptimWrapperConstructor: layer depth from {used!r}, '
                  f'{next(iter(ids.values()))[1] if ids else 0} layers', logger='current')

        groups: OrderedDict = OrderedDict()
        for name, param, settings in entries:
            layer_id, num_layers = ids[name]
            settings['pretrained'] = any(_under(name, p) for p in prefixes)
            settings['layer_id'] = layer_id
            settings['num_layers'] = num_layers
            settings['layer_depth'] = layer_id / (num_layers - 1) if num_layers > 1 else 0.0
            if rate is not None and 'lr' in settings:
                decay_id, decay_layers = decay_ids[name]
                settings['lr'] = settings['lr'] * rate ** (decay_layers - 1 - decay_id)
            key = tuple(sorted((k, _hashable(v)) for k, v in settings.items()))
            group = groups.setdefault(key, dict(settings, params=[], param_names=[]))
            group['params'].append(param)
            group['param_names'].append(name)
        return list(groups.values())

    def _collect(self, model: nn.Module):
        """``[(name, param, settings)]`` in ``named_parameters`` order, mmengine's rules applied."""
        cfg = self.paramwise_cfg
        custom = cfg.get('custom_keys', {})
        sorted_keys = sorted(sorted(custom), key=len, reverse=True)
        owner = {}
        modules = dict(model.named_modules())
        for mod_name, module in modules.items():
            for p_name, p in module.named_parameters(recurse=False):
                owner.setdefault(id(p), (module, p_name, mod_name))
        dcn_types = _dcn_types()
        matched = {}
        out, seen = [], set()
        for name, param in model.named_parameters():  # yields each shared tensor once
            if id(param) in seen:
                continue
            seen.add(id(param))
            if not param.requires_grad:
                continue
            module, p_name, mod_name = owner[id(param)]
            parent = modules.get(mod_name.rsplit('.', 1)[0] if '.' in mod_name else '') if mod_name else None
            # mmengine: the offset conv *inside* a deformable conv (its parent) is a DCN part
            in_dcn = bool(dcn_types) and isinstance(parent, dcn_types)
            settings = {}
            if self.base_lr is not None:
                settings['lr'] = self.base_lr
            if self.base_wd is not None:
                settings['weight_decay'] = self.base_wd
            # mmengine matches custom keys against f'{module path}.{param}', so a root-level
            # parameter reads '.cls_token' and mmpretrain's leading-dot keys reach it
            key = next((k for k in sorted_keys if k in f'{mod_name}.{p_name}'), None)
            if key is not None:
                matched[key] = matched.get(key, 0) + 1
                opts = custom[key]
                if self.base_lr is not None:
                    settings['lr'] = self.base_lr * opts.get('lr_mult', 1.0)
                if self.base_wd is not None:
                    settings['weight_decay'] = self.base_wd * opts.get('decay_mult', 1.0)
                settings.update({k: v for k, v in opts.items() if k not in ('lr_mult', 'decay_mult')})
            else:
                self._default_rules(settings, module, p_name, mod_name, param, in_dcn)
            out.append((name, param, settings))
        for key in sorted(matched):
            print_log(f'LayerwiseOptimWrapperConstructor: paramwise_cfg.custom_keys[{key!r}] sets '
                      f'{custom[key]} on {matched[key]} parameter tensor(s)', logger='current')
        for key in sorted(set(custom) - set(matched)):
            print_log(f'LayerwiseOptimWrapperConstructor: paramwise_cfg.custom_keys[{key!r}] matches no trainable '
                      f'parameter of {type(model).__name__}: it changes nothing', logger='current',
                      level=logging.WARNING)
        return out

    def _default_rules(self, settings, module, p_name, mod_name, param, in_dcn):
        cfg = self.paramwise_cfg
        is_norm = isinstance(module, _NORMS)
        is_dwconv = isinstance(module, nn.Conv2d) and module.in_channels == module.groups
        if p_name == 'bias' and not is_norm and not in_dcn and 'bias_lr_mult' in cfg and 'lr' in settings:
            settings['lr'] = self.base_lr * cfg['bias_lr_mult']
        if (in_dcn and 'conv_offset' in mod_name and isinstance(module, nn.Conv2d)
                and 'dcn_offset_lr_mult' in cfg and 'lr' in settings):
            settings['lr'] = self.base_lr * cfg['dcn_offset_lr_mult']
        if self.base_wd is None:
            return
        if is_norm and 'norm_decay_mult' in cfg:
            settings['weight_decay'] = self.base_wd * cfg['norm_decay_mult']
        elif p_name == 'bias' and not in_dcn and 'bias_decay_mult' in cfg:
            settings['weight_decay'] = self.base_wd * cfg['bias_decay_mult']
        elif is_dwconv and 'dwconv_decay_mult' in cfg:
            settings['weight_decay'] = self.base_wd * cfg['dwconv_decay_mult']
        elif param.ndim == 1 and not in_dcn and 'flat_decay_mult' in cfg:
            settings['weight_decay'] = self.base_wd * cfg['flat_decay_mult']

    def _check_group_keys(self, optimizer: torch.optim.Optimizer) -> None:
        """A custom_keys entry may set any group key the optimizer reads (e.g. ``rollback``); a key
        it does not read would be carried along and ignored: refuse it, naming it."""
        known = set(optimizer.defaults) | {'lr', 'weight_decay', 'lr_mult', 'decay_mult', *_GROUP_KEYS}
        for key, opts in self.paramwise_cfg.get('custom_keys', {}).items():
            unknown = sorted(set(opts) - known)
            if unknown:
                raise ValueError(f'paramwise_cfg.custom_keys[{key!r}]: {type(optimizer).__name__} reads no group '
                                 f'key {unknown} (a typo?); it reads {sorted(set(optimizer.defaults) - {"params"})}')

    @staticmethod
    def _expose_group_keys(optimizer: torch.optim.Optimizer) -> None:
        """Every group key also in ``optimizer.defaults`` (mmengine's schedulers read it for the
        ``base_param_settings`` group) and in every group (schedulers touch every group)."""
        for group in optimizer.param_groups:
            for k, v in group.items():
                if k != 'params' and k not in optimizer.defaults:
                    optimizer.defaults[k] = [] if k == 'param_names' else v
        for group in optimizer.param_groups:
            for k, v in optimizer.defaults.items():
                group.setdefault(k, v)


def _under(name: str, prefix: str) -> bool:
    """``name`` lies under the module path ``prefix`` (``''``: the whole model)."""
    return prefix == '' or name == prefix or name.startswith(prefix + '.')


def _first_argument(type_name) -> str:
    import inspect
    cls = OPTIMIZERS.get(type_name) if isinstance(type_name, str) else type_name
    if cls is None:
        return 'params'
    names = [n for n in inspect.signature(cls.__init__).parameters if n != 'self']
    return names[0] if names else 'params'


def _hashable(v):
    if isinstance(v, (list, tuple)):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    if isinstance(v, torch.Tensor):
        return ('tensor', id(v))
    return v


def _dcn_types():
    try:
        from mmcv.ops import DeformConv2d, ModulatedDeformConv2d
        return (DeformConv2d, ModulatedDeformConv2d)
    except ImportError:  # mmcv without compiled ops
        return ()

