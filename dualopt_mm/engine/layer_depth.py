"""Layer depth of every parameter of any backbone: ``(layer_id, num_layers)`` per parameter name.

Three sources, tried in this order by ``depth_mode='auto'``:

* ``'model'`` -- the model's own ``get_layer_depth(name) -> (layer_id, max_id)`` (mmpretrain's
  ViT, BEiT, Swin, ConvNeXt, ResNet-50+); used when it answers for every parameter.
* ``'trace'`` -- one no-grad, eval-mode forward of each pre-trained module (e.g. the backbone) on
  a dummy image (``trace_input_size``) with forward-pre-hooks, which gives the order in which the
  modules holding parameters first run.
* ``'order'`` -- the same rule on registration order (``named_parameters``), no forward.

The rule (both ``trace`` and ``order``): the backbone is cut into *blocks*, and the depth goes up
by one at each block, in the order the modules run. So depth never decreases along the forward
pass, starts at 0, and has one level per block (plus the stem, when something runs before the
first block). Modules outside every block (a stem, a downsampling conv or patch merging between
stages, a CSP stage's entry / final convs, an output norm) take the depth current when they first
run: the stem's 0, or the preceding block's.

What a block is, found from the module tree alone (no model-specific tables):

* a *composite* module has at least two children holding parameters (a conv + norm, a residual
  block), a plain ``Conv2d`` / ``Linear`` / norm / ``DeformConv2dPack`` does not;
* a *stack* is a ``ModuleList`` / ``Sequential`` with at least two composite children of one class
  (``layer1`` of a ResNet, Swin's ``blocks``, EfficientNet's ``layers``), or the backbone itself
  with at least three (MobileNetV3's ``layer1`` ... ``layer15``, a ResNet's ``layer1`` ...
  ``layer4`` attributes); its members are the composite children of a repeated class;
* a block is a stack member that holds no stack below it: a ResNet's ``layer3.4``, Swin's
  ``stages.2.blocks.3``, but not ``stages.2`` (a stage holding a stack) and not Res2Net's
  per-scale ``convs`` (plain convs: not composite).

When no block is found, each child of the backbone holding parameters is a block.

``numbering='lr_decay'`` is the numbering of the OpenMMLab layer-wise lr-decay constructors:
norms after the first block that sit directly in the backbone or in a stage (Swin's ``norm0`` ..
``norm3``, ViT's final norm, ConvNeXt's output norms, MiT's stage norms) get the head's slot
instead of the preceding block's. Parameters outside the pre-trained prefixes always get the last
id, ``num_layers - 1`` (the head slot).
"""
from __future__ import annotations

import torch
from mmengine.logging import print_log
from torch import nn

__all__ = ['compute_layer_ids', 'find_blocks', 'DEPTH_MODES', 'NUMBERINGS']

DEPTH_MODES = ('auto', 'model', 'trace', 'order')
NUMBERINGS = ('depth', 'lr_decay')


def _holds_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _is_composite(module: nn.Module) -> bool:
    """At least three modules holding parameters of their own: a residual block, not a single
    layer (a conv + norm ``ConvModule``, a ``DeformConv2dPack`` with its offset conv)."""
    return sum(1 for m in module.modules() if any(True for _ in m.parameters(recurse=False))) >= 3


def _stack_members(module: nn.Module, is_root: bool) -> list:
    """Names of the children of ``module`` that are members of a stack of blocks (or [])."""
    if isinstance(module, (nn.ModuleList, nn.Sequential)):
        least = 2
    elif is_root:
        least = 3
    else:
        return []
    by_class: dict = {}
    for name, child in module.named_children():
        if _is_composite(child):
            by_class.setdefault(type(child), []).append(name)
    return [n for names in by_class.values() if len(names) >= least for n in names]


def find_blocks(root: nn.Module) -> tuple[dict, set]:
    """``({module path: block path}, stage paths)`` for every module inside a block; a stage is a
    stack member (or the root) holding a stack below it."""
    member_paths = []
    stages = set()

    def visit(module, path, is_root):
        members = set(_stack_members(module, is_root))
        for name, child in module.named_children():
            child_path = f'{path}.{name}' if path else name
            visit(child, child_path, False)
            if name in members:
                member_paths.append(child_path)
    visit(root, '', True)

    members = set(member_paths)
    # a member holding another member below it is a stage, not a block
    for p in member_paths:
        parts = p.split('.')
        for i in range(1, len(parts)):
            stages.add('.'.join(parts[:i]))
    blocks = [p for p in member_paths if p not in stages]
    if not blocks:
        blocks = [name for name, child in root.named_children() if _holds_params(child)]
    stages = (stages & members) | {''}
    block_of = {}
    for block in blocks:
        block_of[block] = block
        for name, _ in root.get_submodule(block).named_modules():
            if name:
                block_of[f'{block}.{name}'] = block
    return block_of, stages


def _param_modules(root: nn.Module) -> list:
    """Paths of the modules that own parameters directly, in registration order."""
    return [name for name, m in root.named_modules()
            if any(True for _ in m.parameters(recurse=False))]


def _execution_order(root: nn.Module, input_size) -> dict[str, int]:
    """First-execution index of every submodule (by path) in one dummy forward."""
    order: dict[str, int] = {}
    handles = []
    for name, sub in root.named_modules():
        def hook(_mod, _args, name=name):
            order.setdefault(name, len(order))
        handles.append(sub.register_forward_pre_hook(hook))
    was_training = root.training
    device = next((p.device for p in root.parameters()), torch.device('cpu'))
    try:
        root.eval()
        with torch.no_grad():
            root(torch.zeros(*input_size, device=device))
    finally:
        root.train(was_training)
        for h in handles:
            h.remove()
    return order


def _post_block_norm(root: nn.Module, path: str, stages: set) -> bool:
    module = root.get_submodule(path)
    if next(module.children(), None) is not None:
        return False
    is_norm = isinstance(module, (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)) \
        or 'Norm' in type(module).__name__
    parent = path.rsplit('.', 1)[0] if '.' in path else ''
    return is_norm and parent in stages


def _local_ids(root: nn.Module, run_order: list, numbering: str) -> dict[str, int]:
    """``{module path: id}`` for the parameter-owning modules of ``root`` walked in ``run_order``;
    ``-1`` marks the head slot (``lr_decay`` numbering's post-block norms)."""
    block_of, stages = find_blocks(root)
    ids: dict[str, int] = {}
    block_id: dict[str, int] = {}
    depth = 0
    for path in run_order:
        block = block_of.get(path)
        if block is None:
            if numbering == 'lr_decay' and block_id and _post_block_norm(root, path, stages):
                ids[path] = -1
            else:
                ids[path] = depth
            continue
        if block not in block_id:
            if ids:  # something (a stem or an earlier block) ran before this block
                depth += 1
            block_id[block] = depth
        ids[path] = block_id[block]
    return ids


def _ids_by_walk(root: nn.Module, rel_names: list, numbering: str, input_size=None) -> dict[str, int]:
    owners = _param_modules(root)
    if input_size is None:
        run_order = owners
    else:
        first = _execution_order(root, input_size)
        ran = sorted((p for p in owners if p in first), key=first.__getitem__)
        # modules that never ran (an unused head of a backbone) come last, in registration order
        run_order = ran + [p for p in owners if p not in first]
    by_module = _local_ids(root, run_order, numbering)
    return {rel: by_module[rel.rsplit('.', 1)[0] if '.' in rel else ''] for rel in rel_names}


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
                      input_size=(1, 3, 224, 224), numbering: str = 'depth'):
    """``{name: (layer_id, num_layers)}`` for the given parameter names, and the mode used.

    Parameters under ``pretrained_prefixes`` are numbered 0..L-1 (per prefix, in the order the
    prefixes are listed, one after the other); all others get ``L`` and ``num_layers = L + 1``.
    Warnings go to mmengine's current logger, so they reach the run's log.
    """
    if mode not in DEPTH_MODES:
        raise ValueError(f'depth_mode must be one of {DEPTH_MODES}, got {mode!r}')
    if numbering not in NUMBERINGS:
        raise ValueError(f'numbering must be one of {NUMBERINGS}, got {numbering!r}')

    if mode in ('auto', 'model'):
        ids = _ids_from_model(model, names)
        if ids is not None:
            return ids, 'model'
        if mode == 'model':
            raise ValueError(f'depth_mode="model" but {type(model).__name__} (and its backbone) '
                             'has no working get_layer_depth(name)')

    ids: dict[str, int] = {}
    head_slot = set()
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
                local = _ids_by_walk(sub, rel, numbering, input_size)
            except Exception as exc:  # any forward failure: the fallback is well defined
                where = prefix or 'the model'
                if mode == 'trace':
                    raise ValueError(f'depth_mode="trace": a dummy forward of {where} with '
                                     f'paramwise_cfg.trace_input_size={tuple(input_size)} failed: '
                                     f'{exc}') from exc
                print_log(f'layer depth: a dummy forward of {where} with '
                          f'paramwise_cfg.trace_input_size={tuple(input_size)} failed ({exc}); '
                          'depth follows registration order instead: set trace_input_size to an input '
                          'the module accepts, or depth_mode="order" to silence this',
                          logger='current', level=30)
                used = 'order'
        if local is None:
            local = _ids_by_walk(sub, rel, numbering)
        for r, i in local.items():
            if i < 0:
                head_slot.add(lead + r)
            else:
                ids[lead + r] = offset + i
        offset += max(local.values()) + 1
    num_layers = offset + 1
    out = {}
    for n in names:
        if n in head_slot or n not in ids:
            out[n] = (offset, num_layers)
        else:
            out[n] = (ids[n], num_layers)
    return out, used

