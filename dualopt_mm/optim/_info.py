"""Declarations and the one listing: a named optimizer is a base plus stages plus defaults
(:func:`declare`); its signature, docstring, capability flags and :data:`OPTIMIZERS_INFO` entry
are generated from the declaration, and the listing drives the config generator, the
micro-benchmark, the stats hook, the table-driven tests and the docs table."""

from __future__ import annotations

import dataclasses
import sys
import textwrap
from typing import Any

from ._base import Arg, Base
from ._core import ComposedOptimizer
from ._stages import Anchor, Stage

__all__ = ["OptimizerEntry", "OPTIMIZERS_INFO", "get_optimizer_info", "declare"]


@dataclasses.dataclass(frozen=True)
class OptimizerEntry:
    """Capability flags of one optimizer.

    ``neutral`` (kwargs) makes the optimizer equal ``torch_equivalent`` (a torch.optim class,
    built with the same base kwargs); ``extra_neutral`` lists further (kwargs, torch class)
    pairs. ``typical`` are non-neutral kwargs for property tests.
    """

    name: str
    cls: type
    base: str  # 'sgd' | 'adamw'
    anchored: bool
    supports_foreach: bool
    supports_fused: bool
    neutral: dict[str, Any]
    torch_equivalent: type
    typical: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra_neutral: tuple = ()
    random: bool = False


OPTIMIZERS_INFO: dict[str, OptimizerEntry] = {}

_PARAMS = ("params (iterable): parameters, (name, parameter) pairs, or dicts defining parameter "
           "groups. Groups may carry ``layer_depth`` (float in [0, 1]) and ``pretrained`` (bool, "
           "default True) and any of the hyper-parameters below; unknown keys (e.g. mmengine's "
           "``layer_id``, ``param_names``, ``initial_lr``) are kept and ignored.")
_COMMON = (
    Arg("maximize", False, "maximize (bool): maximize the objective (the gradient is negated) "
        "(default: %(default)s)."),
    Arg("foreach", None, "foreach (bool, optional): run the base step through torch's "
        "multi-tensor code (default %(default)s: only when every parameter is on CUDA)."),
    Arg("fused", None, "fused (bool, optional): run the base step through torch's fused kernel "
        "(CPU, CUDA; floating-point parameters) (default %(default)s = False). Equal to the "
        "for-loop path up to rounding. Needs torch >= 2.4 on CPU and, for the SGD-based "
        "optimizers, torch >= 2.3 on any device; elsewhere ``RuntimeError`` names the torch "
        "needed."),
    Arg("nonfinite", "skip", "nonfinite (str): what a ``step()`` with a non-finite gradient "
        "does: ``'skip'`` (default; nothing changes, a warning is issued, ``skipped_steps`` is "
        "incremented), ``'raise'`` (``FloatingPointError``) or ``'ignore'`` (torch.optim's "
        "behaviour). Steps skipped by ``torch.amp.GradScaler`` never reach ``step()``."),
)


def _kwargs(d: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in d.items())


def _doc(name, base, stages, summary, args, values, entry) -> str:
    def line(text):
        return textwrap.fill(text, 96, initial_indent=" " * 8, subsequent_indent=" " * 12,
                             break_long_words=False, break_on_hyphens=False)

    eq = "; ".join(f"``{_kwargs(kw)}`` equals ``torch.optim.{cls.__name__}``"
                   for kw, cls in ((entry.neutral, entry.torch_equivalent),) + entry.extra_neutral)
    typical = {k: v for k, v in entry.typical.items() if k != "seed"}
    groups = ("[{'params': backbone.parameters()},\n        ...     {'params': head.parameters(), "
              "'pretrained': False}]" if entry.anchored else "model.parameters()")
    refs = list(dict.fromkeys(s.reference for s in stages if s.reference))
    return (f"{summary}\n" + "".join(s.math % {"base": base.title} for s in stages)
            + f"\n    {eq}.\n\n    Args:\n" + line(_PARAMS) + "\n"
            + "\n".join(line(a.doc % {"default": repr(values[a.name])}) for a in args)
            + f"\n\n    Example:\n        >>> opt = {name}({groups}, "
            f"{_kwargs(dict(lr=values['lr'], **typical))})\n"
            "        >>> loss_fn(model(x), y).backward(); opt.step(); opt.zero_grad()\n\n"
            + "".join(f"    Reference: {r}\n" for r in refs))


def _role(stages, name):
    return tuple(s for s in stages if getattr(type(s), name) is not getattr(Stage, name))


def declare(name: str, base: Base, stages, *, defaults: dict | None = None,
            order: tuple | None = None, summary: str, register: bool = True) -> type:
    """Build the optimizer class ``name``: ``base`` (``._base.SGD`` / ``ADAMW``) and ``stages``
    (``._stages``), with ``defaults`` overriding the arguments' own. The signature is the
    base's positional arguments, then keyword-only: the stages' (in ``order`` if given, a
    permutation of them and the base's keyword-only ones), the base's, the common ones. Adds the
    entry to :data:`OPTIMIZERS_INFO` (unless ``register=False``: a local combination)."""
    stages = tuple(stages)
    if register and name in OPTIMIZERS_INFO:
        raise ValueError(f"declare: an optimizer named {name!r} exists already")
    kwonly = [a for s in stages for a in s.args] + list(base.kwargs)
    by_name = {a.name: a for a in list(base.args) + kwonly + list(_COMMON)}
    if len(by_name) != len(base.args) + len(kwonly) + len(_COMMON):
        raise ValueError(f"declare {name}: two stages (or a stage and the base) define the same argument")
    if order is not None:
        if sorted(order) != sorted(a.name for a in kwonly):
            raise ValueError(f"declare {name}: order must list the keyword arguments "
                             f"{[a.name for a in kwonly]}, got {list(order)}")
        kwonly = [by_name[n] for n in order]
    kwonly += list(_COMMON)
    values = {n: a.default for n, a in by_name.items()}
    unknown = set(defaults or {}) - set(values)
    if unknown:
        raise ValueError(f"declare {name}: defaults for unknown arguments {sorted(unknown)}")
    values.update(defaults or {})
    if len(_role(stages, "apply")) > 1:
        raise ValueError(f"declare {name}: at most one stage may replace the final apply")
    if any(s.anchors for s in stages) and not any(isinstance(s, Anchor) for s in stages):
        raise ValueError(f"declare {name}: stages that pull toward anchors need the Anchor stage")

    ctor = tuple(a.name for a in kwonly if not a.group_key)
    sig = ", ".join([f"{a.name}=_v[{a.name!r}]" for a in base.args] + ["*"]
                    + [f"{a.name}=_v[{a.name!r}]" for a in kwonly])
    src = (f"def __init__(self, params, {sig}):\n"
           f"    _construct(self, params, dict({', '.join(f'{n}={n}' for n in by_name)}))\n")
    ns = {"_v": values, "_construct": _construct}
    exec(src, ns)  # a real signature: inspect, help() and a mistyped keyword all see it
    measures = _role(stages, "measure")
    entry = OptimizerEntry(
        name, None, base.name, any(s.anchors for s in stages), all(s.list_form for s in stages),
        True, {k: v for s in stages for k, v in s.neutral.items()}, base.torch_class,
        typical={k: v for s in stages for k, v in s.typical.items()},
        extra_neutral=tuple((kw, getattr(base, attr)) for s in stages for kw, attr in s.extra_neutral),
        random=any(s.random for s in stages))
    cls = type(name, (ComposedOptimizer,), dict(
        __init__=ns["__init__"], __module__=sys._getframe(1).f_globals.get("__name__", "__main__"),
        __qualname__=name, __doc__=_doc(name, base, stages, summary, list(base.args) + kwonly,
                                        values, entry),
        _base=base, _stages=stages, _ctor_args=ctor, _uses_anchors=entry.anchored,
        _needs_depth=any(s.needs_depth for s in stages), _supports_foreach=entry.supports_foreach,
        _pipelined=bool(measures + _role(stages, "rewrite") + _role(stages, "pull")
                        + _role(stages, "apply")),
        _r_init=_role(stages, "init_state"), _r_begin=_role(stages, "begin_step"),
        _r_lr=_role(stages, "lr_factor"), _r_wd=_role(stages, "base_weight_decay"),
        _r_measure=measures, _r_rewrite=_role(stages, "rewrite"), _r_fold=_role(stages, "fold"),
        _r_fold_list=_role(stages, "fold_list"), _r_apply=_role(stages, "apply"),
        _r_pull=_role(stages, "pull"),
    ))
    cls._entry = entry = dataclasses.replace(entry, cls=cls)
    if register:
        OPTIMIZERS_INFO[name] = entry
    return cls


def _construct(self, params, values: dict) -> None:
    ctor = {n: values.pop(n) for n in self._ctor_args}
    for s in self._stages:
        s.init(self, ctor)
    ComposedOptimizer.__init__(self, params, values)


def get_optimizer_info(name: str | None = None):
    """The entry of ``name``, or the list of all entries."""
    return OPTIMIZERS_INFO[name] if name is not None else list(OPTIMIZERS_INFO.values())
