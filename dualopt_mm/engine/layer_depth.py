"""Layer depth of every parameter of any backbone: ``(layer_id, num_layers)`` per parameter name.

Three sources, tried in this order by ``depth_mode='auto'``:

* ``'model'`` -- the model's own ``get_layer_depth(name) -> (layer_id, max_id)`` (mmpretrain's
  ViT, BEiT, Swin, ConvNeXt, ResNet-50+); used when it answers for every parameter.
* ``'trace'`` -- one no-grad, eval-mode forward of each pre-trained module (e.g. the backbone) on
  a dummy image with forward-pre-hooks: *units* (blocks, see :func:`unit_key`) are ranked by the
  first execution of a module that owns their parameters.
* ``'order'`` -- units ranked by registration order (``named_parameters``).

Units before the first repeated block (stem convs and norms, patch embeddings, class tokens) form
one stem unit, as in mmpretrain's numbering. Every parameter outside the pre-trained prefixes gets
the last id, ``num_layers - 1`` (the "head" slot).
"""
from __future__ import annotations

import logging

import torch
from torch import nn

__all__ = ['unit_key', 'compute_layer_ids', 'DEPTH_MODES']

DEPTH_MODES = ('auto', 'model', 'trace', 'order')


def _is_repeat_container(module: nn.Module) -> bool:
    """A ModuleList/Sequential of >= 2 children of one class: a stack of blocks."""
    if not isinstance(module, (nn.ModuleList, nn.Sequential)):
        return False
    kinds = {type(m) for m in module.children()}
    return len(module) >= 2 and len(kinds) == 1


def unit_key(root: nn.Module, rel_name: str) -> tuple[str, bool]:
    """The block a parameter belongs to, relative to ``root``: the path up to its deepest index
    into a stack of blocks (``layer3.4``, ``stages.2.blocks.3``), and whether it is a block.
    Parameters outside any stack are keyed by their first path component (``conv1``)."""
    parts = rel_name.split('.')[:-1]  # drop the parameter's own name
    module = root
    deepest = -1
    for i, part in enumerate(parts):
        if part.isdigit() and _is_repeat_container(module):
            deepest = i
        module = module._modules.get(part)
        if module is None:
            break
    if deepest >= 0:
        return '.'.join(parts[:deepest + 1]), True
    return (parts[0] if parts else ''), False


def _execution_order(module: nn.Module, input_size) -> dict[str, int]:
    """First-execution index of every submodule (by name) in one dummy forward."""
    order: dict[str, int] = {}
    handles = []
    for name, sub in module.named_modules():
        def hook(_mod, _args, name=name):
            order.setdefault(name, len(order))
        handles.append(sub.register_forward_pre_hook(hook))
    was_training = module.training
    device = next((p.device for p in module.parameters()), torch.device('cpu'))
    try:
        module.eval()
        with torch.no_grad():
            module(torch.zeros(*input_size, device=device))
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    return order


def _rank_units(root: nn.Module, rel_names: list[str], module_rank) -> dict[str, int]:
    """Group parameters into units, order the units, merge the leading non-block units."""
    units: dict[str, tuple] = {}
    key_of = {}
    for idx, rel in enumerate(rel_names):
        key, is_block = unit_key(root, rel)
        key_of[rel] = key
        rank = module_rank(rel, idx)
        if key not in units or rank < units[key][0]:
            units[key] = (rank, is_block)
    ordered = sorted(units, key=lambda k: (units[k][0], k))
    first_block = next((i for i, k in enumerate(ordered) if units[k][1]), len(ordered))
    unit_id = {}
    for i, k in enumerate(ordered):
        unit_id[k] = 0 if i < first_block else i - first_block + (1 if first_block > 0 else 0)
    return {rel: unit_id[key_of[rel]] for rel in rel_names}


def _ids_by_trace(root: nn.Module, rel_names, input_size) -> dict[str, int]:
    order = _execution_order(root, input_size)
    n = len(order)
    owner = {}
    for rel in rel_names:
        owner[rel] = rel.rsplit('.', 1)[0] if '.' in rel else ''

    def rank(rel, idx):
        # parameters of modules that never ran (unused heads of a backbone) keep registration
        # order after everything that ran
        return order.get(owner[rel], n + idx)
    return _rank_units(root, rel_names, rank)


def _ids_by_order(root: nn.Module, rel_names) -> dict[str, int]:
    return _rank_units(root, rel_names, lambda rel, idx: idx)


def _ids_from_model(model: nn.Module, names: list[str]):
    """``(layer_id, num_layers)`` from the model's own ``get_layer_depth``, or None."""
    fn = getattr(model, 'get_layer_depth', None)
    prefix = ''
    if fn is None and hasattr(model, 'backbone') and hasattr(model.backbone, 'get_layer_depth'):
        fn, prefix = model.backbone.get_layer_depth, 'backbone.'
    if fn is None:
        return None
    try:
        out = {n: (fn(n, prefix) if prefix else fn(n)) for n in names}
    except (NotImplementedError, KeyError, ValueError, AttributeError, IndexError):
        return None
    return {n: (int(i), int(m)) for n, (i, m) in out.items()}


def compute_layer_ids(model: nn.Module, names: list[str], pretrained_prefixes, mode: str = 'auto',
                      input_size=(1, 3, 224, 224), logger=None):
    """``{name: (layer_id, num_layers)}`` for the given parameter names, and the mode used.

    Parameters under ``pretrained_prefixes`` are numbered 0..L-1 (per prefix, in the order the
    prefixes are listed, one after the other); all others get ``L`` and ``num_layers = L + 1``.
    """
    if mode not in DEPTH_MODES:
        raise ValueError(f'depth_mode must be one of {DEPTH_MODES}, got {mode!r}')
    log = logger or logging.getLogger(__name__)

    if mode in ('auto', 'model'):
        ids = _ids_from_model(model, names)
        if ids is not None:
            return ids, 'model'
        if mode == 'model':
            raise ValueError(f'depth_mode="model" but {type(model).__name__} (and its backbone) '
                             'has no working get_layer_depth(name)')

    ids: dict[str, int] = {}
    offset = 0
    used = 'order' if mode == 'order' else 'trace'
    for prefix in pretrained_prefixes:
        sub = model.get_submodule(prefix) if prefix else model
        lead = f'{prefix}.' if prefix else ''
        rel = [n[len(lead):] for n in names if n.startswith(lead) and n not in ids]
        if not rel:
            continue
        local = None
        if mode != 'order':
            try:
                local = _ids_by_trace(sub, rel, input_size)
            except Exception as exc:  # any forward failure: the fallback is well defined
                if mode == 'trace':
                    raise ValueError(f'depth_mode="trace": a dummy forward of {prefix or "the model"} '
                                     f'with input {tuple(input_size)} failed: {exc}') from exc
                log.warning(f'layer depth: tracing {prefix or "the model"} failed ({exc}); '
                            'using registration order')
                used = 'order'
        if local is None:
            local = _ids_by_order(sub, rel)
        for r, i in local.items():
            ids[lead + r] = offset + i
        offset += max(local.values()) + 1
    num_layers = offset + 1
    return {n: (ids.get(n, offset), num_layers) for n in names}, used
