r"""The method pieces, each a small stage object written once: its arguments (:class:`~._base.Arg`,
documented), their validation, its maths (a docstring block; ``%(base)s`` is the base's torch
class), the settings that make it neutral and typical ones (the generic tests use them), its
reference, and the roles it plays. The executor (:mod:`._core`) calls the roles in one order on
every path, the order of the methods of :class:`Stage`, each a no-op there.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ._anchor import capture_anchor_, depth_map, group_depth
from ._base import Arg, Direction, apply_additive_, as_scalar, check_range
from ._pull import decay_level, pull_, rollback_level, shrink_, spd_measure, spd_pull_
from ._random_scale import ExpScaleSource

__all__ = ["Stage", "Anchor", "Rollback", "LayerwiseDecay", "SelectiveProjection", "L2SP",
           "RandomScale", "HybridApply"]


def _choice(g: dict, name: str, choices: tuple) -> None:
    if g[name] not in choices:
        raise ValueError(f"Invalid {name}: {g[name]!r} (expected one of {choices})")


class Stage:
    """A method piece; every role is a no-op here (see module docstring)."""

    args: tuple[Arg, ...] = ()
    math: str = ""
    reference: str = ""
    neutral: dict[str, Any] = {}
    typical: dict[str, Any] = {}
    extra_neutral: tuple = ()  # (kwargs, torch class attribute of the base) pairs
    anchors = False  # some groups need anchors (``wants_anchor``); declare with :class:`Anchor`
    needs_depth = False  # ``pull`` reads the tensor's depth
    list_form = True  # False: foreach runs the for-loop; fused runs per tensor on every device
    random = False
    carried: tuple[str, ...] = ()  # private attributes that pickle / deepcopy keep
    # tools/bench_optim.py: the step time this stage may cost (ratio to torch's fused base
    # step), and named settings timed as rows of their own
    budget: float | None = None
    variants: dict[str, dict] = {}

    def init(self, opt, ctor: dict) -> None:
        """Constructor-only arguments (not group keys), before any group exists."""

    def validate(self, g: dict) -> None:
        """Raise ``ValueError`` naming the argument; may normalise a value in ``g``."""

    def wants_anchor(self, group: dict) -> bool:
        return True  # with ``anchors = True``: whether this group's tensors need anchors

    def init_state(self, opt, group, p, state) -> None:
        """Lazy per-tensor state, at the tensor's first step (after the base's)."""

    def active(self, group) -> bool:
        return True  # planned once per group and step: False skips the per-tensor roles below

    def begin_step(self, opt) -> None:
        """Once per step that is not skipped, before any group (a random draw)."""

    def lr_factor(self, opt, group) -> float:
        return 1.0  # a multiplier on the group's lr for this step

    def base_weight_decay(self, group, wd):
        return wd  # the decay the base step keeps

    def measure(self, opt, group, p, grad, state):
        return None  # before the base step: a context handed to this stage's ``pull``

    def rewrite(self, opt, group, p, grad, state, maximize):
        return grad, maximize  # for-loop: the gradient the base sees

    def fold(self, opt, group, p, grad, state, wd, maximize, decoupled):
        return grad, wd, maximize, decoupled  # fused, per tensor: ``rewrite`` as kernel arguments

    def fold_list(self, opt, group, params, grads, states, wd, maximize, decoupled):
        return grads, wd, maximize, decoupled  # list path: the same for the whole list

    def fusable(self, group, base) -> bool:
        return True  # False: this group's fused=True runs the for-loop

    def kernel_lr(self, group, lr):
        return lr  # fused: the lr the kernel gets (the additive part of ``apply``)

    def apply(self, opt, group, p, direction) -> None:
        """For-loop: replaces the final additive apply of the base's direction."""
        raise NotImplementedError

    def after_kernel(self, opt, group, p, state, lr) -> None:
        """Fused, per tensor: the rest of ``apply``, after the kernel."""

    def pull(self, opt, group, p, state, ctx, depth) -> None:
        """After the base step (anchor pulls)."""

    def stats(self, opt) -> dict[str, float]:
        return {}  # what a monitoring hook reports (OptimizerStatsHook)

    def save(self, opt, state_dict: dict) -> None:
        """Add what the stage keeps outside torch's state to ``state_dict``."""

    def take(self, opt, state_dict: dict):
        """Remove it from a state dict about to be loaded (``restore`` loads it after)."""

    def restore(self, opt, saved) -> None:
        """Load what ``take`` removed, once torch's state is loaded."""


# ---------------------------------------------------------------------------------- anchors
def check_anchor_dtype(anchor_dtype):
    """The anchor storage dtype as a ``torch.dtype`` (None: the parameter's, fp32 at least); a
    name (``'bfloat16'``, ``'torch.float16'``) is accepted so configs can set it."""
    if isinstance(anchor_dtype, str):
        name = anchor_dtype[len("torch."):] if anchor_dtype.startswith("torch.") else anchor_dtype
        resolved = getattr(torch, name, None)
        anchor_dtype = resolved if isinstance(resolved, torch.dtype) else anchor_dtype
    if anchor_dtype is not None and not (isinstance(anchor_dtype, torch.dtype)
                                         and anchor_dtype.is_floating_point):
        raise ValueError(f"Invalid anchor_dtype: {anchor_dtype!r} (expected None, a floating "
                         "torch.dtype or its name, e.g. 'bfloat16')")
    return anchor_dtype


class Anchor(Stage):
    """Lazy anchor capture: θ₀ is the tensor's value at its first step (or at capture_anchors()),
    kept in the optimizer state, for the groups a stage wants anchored (see ._anchor)."""

    args = (Arg("anchor_dtype", None, r"anchor_dtype (torch.dtype, optional): storage dtype of "
                r"the anchors :math:`\theta_0` (default %(default)s: fp32, or the parameter's "
                "dtype when wider; ``torch.bfloat16`` halves the memory)."),)

    def validate(self, g):
        g["anchor_dtype"] = check_anchor_dtype(g["anchor_dtype"])

    def init_state(self, opt, group, p, state):
        if opt._group_anchored(group):
            capture_anchor_(state, p, group.get("anchor_dtype"))


# ---------------------------------------------------------------------------------- DualOpt
_MODES = ("finetune", "scratch")
_DUALOPT_REF = r"""Ning, Li, et al., *DualOpt*, arXiv 2604.22838 (2026); fine-tuning half: OLOR,
    "One-step Learning, One-step Review", AAAI 2024."""


class Rollback(Stage):
    """DualOpt, fine-tuning: after the base step, θ ← θ̂ − ρ(θ̂ − θ₀), ρ = (η_t/η₀)·r(d)."""

    args = (
        Arg("mode", "finetune", "mode (str): ``'finetune'`` (weight rollback toward the anchors) "
            "or ``'scratch'`` (real-time layer-wise decay, no anchors) (default: %(default)s)."),
        Arg("rollback", 0.01, r"rollback (float): :math:`r_{max}`, fraction pulled back per "
            "step at the peak lr for the shallowest layer, in [0, 1] (default: %(default)s)."),
        Arg("rollback_min", 0.0, r"rollback_min (float): :math:`r_{min}` for the deepest "
            "layer, in [0, rollback] (default: %(default)s)."),
        Arg("rollback_power", 1.0, r"rollback_power (float): :math:`p` (default: %(default)s)."),
    )
    math = r"""
    Per parameter tensor :math:`\theta` with normalized depth :math:`d\in[0,1]`
    (0 = nearest the input; the group's ``layer_depth`` or the tensor order :math:`j/(N-1)`):

    .. math::
       \begin{aligned}
         &\hat\theta_t \leftarrow \text{base step of } \theta_{t-1}
            \text{ (exactly \texttt{torch.optim.%(base)s}, with weight decay } \lambda_b\text{)} \\
         &\textbf{if}\ \textit{mode} = \text{finetune and the group is pretrained:} \\
         &\hspace{5mm} \lambda_b = \lambda,\quad
            r(d) = r_{min} + (r_{max} - r_{min})(1-d)^p,\quad
            \rho = (\eta_t/\eta_0)\, r(d) \\
         &\hspace{5mm} \theta_t \leftarrow \hat\theta_t - \rho\,(\hat\theta_t - \theta_0) \\
         &\textbf{if}\ \textit{mode} = \text{scratch:} \\
         &\hspace{5mm} \lambda_b = 0,\quad s(d) = s_{min} + (1-s_{min})\, d^{q},\quad
            \theta_t \leftarrow (1 - \eta_t\, \lambda\, s(d))\, \hat\theta_t \\
         &\textbf{else (finetune, group with \texttt{pretrained=False}):}\
            \theta_t \leftarrow \hat\theta_t
       \end{aligned}

    :math:`\theta_0` is the anchor (the tensor's value when first stepped, or at
    ``capture_anchors()``), :math:`\eta_t` the group's current lr, :math:`\eta_0` its
    ``initial_lr`` (set by lr schedulers; without one :math:`\eta_t/\eta_0 = 1`),
    :math:`r_{max}` = ``rollback``, :math:`r_{min}` = ``rollback_min``, :math:`p` =
    ``rollback_power``, :math:`\lambda` = ``weight_decay``, :math:`s_{min}` = ``decay_min``,
    :math:`q` = ``decay_power``. Fine-tuning pulls shallow layers back hardest and follows the
    lr schedule; from-scratch decay shrinks the post-update weight, so it never pushes a weight
    across zero, and decays deeper layers more. The rollback multiplies the post-step weight
    for SGD as for AdamW (OLOR's SGD code differs from its paper; this follows the equation).
"""
    reference = _DUALOPT_REF
    neutral = dict(rollback=0.0, rollback_min=0.0)
    typical = dict(rollback=0.2, rollback_min=0.05)
    extra_neutral = ((dict(mode="scratch", weight_decay=0.0), "plain_class"),)
    anchors = needs_depth = True
    budget, variants = 1.5, {"scratch": dict(mode="scratch")}

    def validate(self, g):
        _choice(g, "mode", _MODES)
        check_range("rollback", g["rollback"], 0.0, 1.0)
        check_range("rollback_min", g["rollback_min"], 0.0, 1.0)
        if g["rollback_min"] > g["rollback"]:
            raise ValueError(f"Invalid rollback_min: {g['rollback_min']} (must be <= rollback "
                             f"= {g['rollback']})")
        check_range("rollback_power", g["rollback_power"], 0.0)

    def wants_anchor(self, group):
        return group["mode"] == "finetune"

    @staticmethod
    def rho(group, depth):
        r"""The pull in force, :math:`\rho = (\eta_t/\eta_0)\, r(d)`, or None where :math:`r(d) = 0`
        (:math:`\eta_0` = ``initial_lr``, set by lr schedulers; without it, or 0, the ratio is 1)."""
        r = rollback_level(depth, group["rollback"], group["rollback_min"], group["rollback_power"])
        if r == 0:
            return None
        lr0 = as_scalar(group.get("initial_lr", 0))
        return r if isinstance(lr0, (int, float)) and lr0 == 0 else r * (as_scalar(group["lr"]) / lr0)

    def active(self, group):
        return group["mode"] == "finetune" and group["pretrained"]

    def pull(self, opt, group, p, state, ctx, depth):
        lam = self.rho(group, depth)
        if lam is not None:
            pull_(p, state["anchor"], lam)

    def stats(self, opt):
        groups = opt.param_groups
        pre = [g for g in groups if g.get("pretrained", True) and g["mode"] == "finetune"]
        if not pre:
            return {}
        # the pull applied to the shallowest pre-trained tensor, with the depth the step used
        order = depth_map(groups) if any(g.get("layer_depth") is None for g in groups) else None
        d, g = min(((group_depth(g, p, order), g) for g in pre for p in g["params"]),
                   key=lambda t: t[0])
        return {"rollback_lambda": float(self.rho(g, d) or 0.0)}


class LayerwiseDecay(Stage):
    """DualOpt, from scratch: the decay leaves the base step, then θ ← (1 − η·λ·s(d))·θ̂ (groups
    with mode='scratch' where Rollback owns the mode)."""

    args = (
        Arg("decay_min", 0.0, r"decay_min (float): :math:`s_{min}`, in [0, 1] "
            "(default: %(default)s)."),
        Arg("decay_power", 1.0, r"decay_power (float): :math:`q` (default: %(default)s)."),
    )
    reference = _DUALOPT_REF
    needs_depth = True
    budget = 1.5

    def validate(self, g):
        check_range("decay_min", g["decay_min"], 0.0, 1.0)
        check_range("decay_power", g["decay_power"], 0.0)

    def base_weight_decay(self, group, wd):
        return 0.0 if group.get("mode", "scratch") == "scratch" else wd

    def active(self, group):
        return group["weight_decay"] != 0 and group.get("mode", "scratch") == "scratch"

    def pull(self, opt, group, p, state, ctx, depth):
        lr, wd = as_scalar(group["lr"]), group["weight_decay"]
        shrink_(p, lr * wd * decay_level(depth, group["decay_min"], group["decay_power"]))


# ---------------------------------------------------------------------------------- SPD
class SelectiveProjection(Stage):
    """SPD: c = −⟨g, θ − θ₀⟩ before the step; if c < 0, the growth of the deviation is projected
    back by λ·r after it (a device-side gate, no host sync)."""

    args = (
        Arg("projection_decay", 1.0, r"projection_decay (float): :math:`\lambda` in [0, 1] "
            "(default: %(default)s)."),
        Arg("projection_eps", 1e-12, r"projection_eps (float): :math:`\varepsilon` > 0 "
            "(default: %(default)s)."),
    )
    math = r"""
    Per tensor :math:`\theta` of a pretrained group, with anchor :math:`\theta_0`:

    .. math::
       \begin{aligned}
         &c \leftarrow -\langle g_t, \theta_{t-1} - \theta_0\rangle
            \quad (\text{whole-tensor inner product; } g_t \text{ negated when maximizing}) \\
         &\tilde\theta_t \leftarrow \text{base step of } \theta_{t-1}
            \text{ (exactly \texttt{torch.optim.%(base)s})} \\
         &r \leftarrow \mathrm{clip}\Big(\frac{\lVert\tilde\theta_t - \theta_0\rVert
            - \lVert\theta_{t-1} - \theta_0\rVert}{\lVert\tilde\theta_t - \theta_0\rVert
            + \varepsilon}, 0, 1\Big) \\
         &\theta_t \leftarrow \tilde\theta_t - \lambda\, r\, [c < 0]\,
            (\tilde\theta_t - \theta_0)
       \end{aligned}

    :math:`\lambda` = ``projection_decay`` (not multiplied by the lr), :math:`\varepsilon` =
    ``projection_eps``. :math:`c < 0` means the first-order estimate says the accumulated
    deviation has raised the loss; only then, and only by the part of the step that grows the
    deviation, is the tensor projected back. With :math:`\lambda = 1` the deviation's length
    returns to its previous radius. The gate is evaluated on the device (``torch.where``), with
    no host synchronisation. Groups with ``pretrained=False`` get the plain base step.
"""
    reference = r"""Tian, Huang & Kira, *Rethinking Weight Decay for Robust Fine-Tuning of
    Foundation Models* (Selective Projection Decay), NeurIPS 2024, arXiv 2411.01713."""
    neutral = dict(projection_decay=0.0)
    typical = dict(projection_decay=0.7)
    anchors = True
    budget = 2.0

    def validate(self, g):
        check_range("projection_decay", g["projection_decay"], 0.0, 1.0)
        check_range("projection_eps", g["projection_eps"], 0.0, lo_open=True)

    def begin_step(self, opt):
        # the gates [c < 0] of the last step, as 0-dim device tensors (no host sync here);
        # monitoring reads them (stats), they are not optimizer state
        opt.last_gates = []

    def active(self, group):
        return group["pretrained"] and group["projection_decay"] != 0

    def measure(self, opt, group, p, grad, state):
        ctx = spd_measure(p, grad, state["anchor"], group["maximize"], out=opt._scratch(p))
        opt.last_gates.append(ctx[0])
        return ctx

    def pull(self, opt, group, p, state, ctx, depth):
        spd_pull_(p, state["anchor"], ctx[0], ctx[1], group["projection_decay"],
                  group["projection_eps"], out=opt._scratch(p))

    def stats(self, opt):
        gates = getattr(opt, "last_gates", None)
        return {"spd_gate_open": float(torch.stack([x.float() for x in gates]).mean())} if gates else {}


# ---------------------------------------------------------------------------------- L2-SP
def _pulled_grad(p, grad, anchor, alpha, maximize, out=None):
    r""":math:`(\pm g) + \alpha(\theta - \theta_0)`; a wider anchor (fp32 for a bf16 parameter)
    computes in its precision (unless ``out`` is given), the base sees the gradient's dtype."""
    g = torch.sub(p, anchor, out=out).mul_(alpha)
    g = g.sub_(grad) if maximize else g.add_(grad)
    return g if g.dtype == grad.dtype else g.to(grad.dtype)


def _shifted_grad(grad, anchor, alpha, maximize, out=None):
    r""":math:`g - \alpha\theta_0` (sign folded as the kernel will negate): a coupled decay
    :math:`\alpha\theta` in the kernel completes :math:`g + \alpha(\theta - \theta_0)` in one pass."""
    g = torch.add(grad, anchor, alpha=(1.0 if maximize else -1.0) * alpha, out=out)
    return g if g.dtype == grad.dtype else g.to(grad.dtype)


class L2SP(Stage):
    """L2-SP: the base step sees g + α(θ − θ₀) in pre-trained groups."""

    args = (Arg("sp_alpha", 0.01, r"sp_alpha (float): :math:`\alpha` >= 0 (default: %(default)s)."),)
    math = r"""
    For tensors of pretrained groups, with anchor :math:`\theta_0`, the gradient the base step
    sees is

    .. math::
       g_t \leftarrow g_t + \alpha\,(\theta_{t-1} - \theta_0)

    (:math:`g_t` negated first when maximizing), then :math:`\theta_t` = the
    ``torch.optim.%(base)s`` step on it. :math:`\alpha` = ``sp_alpha``. Groups with
    ``pretrained=False`` get the plain base step (with its ``weight_decay``).
"""
    reference = r"""Li, Grandvalet & Davoine, *Explicit Inductive Bias for Transfer Learning
    with Convolutional Networks* (L2-SP), ICML 2018."""
    neutral = dict(sp_alpha=0.0)
    typical = dict(sp_alpha=0.5)
    anchors = True
    budget = 1.5

    def validate(self, g):
        check_range("sp_alpha", g["sp_alpha"], 0.0)

    def active(self, group):
        return bool(group["pretrained"]) and group["sp_alpha"] != 0

    def rewrite(self, opt, group, p, grad, state, maximize):
        # the sign is folded in: the base sees maximize=False
        return _pulled_grad(p, grad, state["anchor"], group["sp_alpha"], maximize), False

    def fold(self, opt, group, p, grad, state, wd, maximize, decoupled):
        alpha, work = group["sp_alpha"], opt._scratch(p)  # reused: no allocation per tensor
        if not opt._base.decoupled_decay or wd == 0:
            # the kernel adds the coupled alpha * theta (Adam: coupled, not decoupled, decay)
            return _shifted_grad(grad, state["anchor"], alpha, maximize, out=work), wd + alpha, \
                maximize, False
        # decoupled decay: the base must see (+-g) + alpha (theta - a) itself
        return _pulled_grad(p, grad, state["anchor"], alpha, maximize, out=work), wd, False, True

    def fold_list(self, opt, group, params, grads, states, wd, maximize, decoupled):
        # one kernel launch needs every tensor's gradient at once: these allocate
        alpha = group["sp_alpha"]
        if not opt._base.decoupled_decay or wd == 0:
            return ([_shifted_grad(g, s["anchor"], alpha, maximize) for g, s in zip(grads, states)],
                    wd + alpha, maximize, False)
        return ([_pulled_grad(p, g, s["anchor"], alpha, maximize)
                 for p, g, s in zip(params, grads, states)], wd, False, True)


# ---------------------------------------------------------------------------------- random scaling
_RS_KEY = "random_scaling"


class RandomScale(Stage):
    """One s_t ~ Exp(1) per step scales the whole displacement (the base step at lr·s_t); the
    draws are saved in the state dict (see ._random_scale)."""

    args = (
        Arg("random_scaling", True, r"random_scaling (bool): draw and apply :math:`s_t` "
            "(default: %(default)s; False gives the plain base optimizer)."),
        Arg("max_scale", None, r"max_scale (float, optional): clip :math:`s_t` (default: "
            "%(default)s; clipping departs from the theory)."),
        Arg("seed", None, "seed (int, optional): seed of the draws (default: "
            "``torch.initial_seed()``, which consumes nothing from the global generator).",
            group_key=False),
    )
    math = r"""
    One scalar per step, shared by every tensor of every group:

    .. math::
       \begin{aligned}
         &s_t \sim \mathrm{Exp}(1)\quad (\text{clipped to } \texttt{max\_scale} \text{ if set}) \\
         &\theta_t \leftarrow \theta_{t-1} + s_t\,\Delta_t,
       \end{aligned}

    where :math:`\Delta_t` is the whole displacement ``torch.optim.%(base)s`` would make (its
    weight decay included). The displacement is linear in the lr, so this is the base step with
    lr :math:`s_t\eta_t`; the base state is not scaled. ``last_scale`` holds the last draw. The
    draw counter and seed are saved in ``state_dict()['random_scaling']``: a resumed run draws
    the same scalars, and ranks with the same seed draw the same :math:`s_t`.
"""
    reference = r"""Zhang & Cutkosky, *Random Scaling and Momentum for Non-smooth Non-convex
    Optimization*, ICML 2024, arXiv 2405.09742 (for AdamW a natural extension of the rule)."""
    neutral = dict(random_scaling=False)
    typical = dict(random_scaling=True, seed=3)
    random = True
    carried = ("_scale_source",)
    budget = 1.1

    def init(self, opt, ctor):
        seed = ctor["seed"]
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"Invalid seed: {seed!r} (expected None or an int)")
        opt._scale_source = ExpScaleSource(seed)
        opt.last_scale = None

    def validate(self, g):
        if not isinstance(g["random_scaling"], bool):
            raise ValueError(f"Invalid random_scaling: {g['random_scaling']!r} (expected a bool)")
        if g["max_scale"] is not None:
            check_range("max_scale", g["max_scale"], 0.0, lo_open=True)

    def begin_step(self, opt):
        if any(g["random_scaling"] for g in opt.param_groups):
            opt.last_scale = opt._scale_source.draw()

    def lr_factor(self, opt, group):
        if not group["random_scaling"]:
            return 1.0
        s = opt.last_scale
        return s if group["max_scale"] is None else min(s, group["max_scale"])

    # the draw counter is part of the optimizer state: state_dict / deepcopy / pickle carry it
    def save(self, opt, state_dict):
        state_dict[_RS_KEY] = dict(opt._scale_source.state_dict(), last_scale=opt.last_scale)

    def take(self, opt, state_dict):
        return state_dict.pop(_RS_KEY, None)

    def restore(self, opt, saved):
        if saved is not None:
            opt._scale_source.load_state_dict(saved)
            opt.last_scale = saved.get("last_scale")

    def stats(self, opt):
        return {} if opt.last_scale is None else {"random_scale": float(opt.last_scale)}


# ---------------------------------------------------------------------------------- hybrid
def tanh_into_(out: Tensor, direction: Direction, scale: float) -> Tensor:
    r"""``out`` <- :math:`\tanh(\mathrm{scale}\cdot d)/2`, written into a work buffer.

    Computed as :math:`\sigma(2x) - 1/2` (equal to :math:`\tanh(x)/2`): torch's vectorised
    CPU ``sigmoid`` is ~6x faster than its ``tanh`` (which evaluates an accurate polynomial per
    element), and the form keeps the sign of :math:`x` (:math:`\sigma(2x) \ge 1/2` iff
    :math:`x \ge 0`) and :math:`|\tanh| \le 1`. The absolute error is a few ulps of 1/2.
    """
    s = 2.0 * scale * direction.d_scale
    if direction.den is None:
        torch.mul(direction.num, s, out=out)
    else:
        torch.div(direction.num, direction.den, out=out)
        if s != 1.0:
            out.mul_(s)
    return out.sigmoid_().sub_(0.5)


_VARIANTS = ("abs", "pow")


class HybridApply(Stage):
    """GOFAU: the final apply becomes θ ← θ' − γ·Δ_mul − (1 − γ)·η·d, with the base's state and d."""

    args = (
        Arg("lr_in", 1.0, r"lr_in (float): :math:`\eta_{in}` >= 0 (default: %(default)s)."),
        Arg("lr_out", 1e-3, r"lr_out (float): :math:`\eta_{out}` >= 0 (default: %(default)s)."),
        Arg("gamma", 0.5, r"gamma (float): :math:`\gamma` in [0, 1] (default: %(default)s)."),
        Arg("variant", "abs", "variant (str): ``'abs'`` or ``'pow'`` (default: %(default)s)."),
    )
    math = r"""
    Keeps ``torch.optim.%(base)s``'s state and direction :math:`d` (the step is
    :math:`\theta' - \eta d`) and replaces only that final apply:

    .. math::
       \begin{aligned}
         &\theta' \leftarrow \theta_{t-1} \text{ after the base's own parameter-side work
            (AdamW's decoupled decay } (1-\eta\lambda)\theta_{t-1}\text{)} \\
         &\Delta \leftarrow \eta_{out}\, |\theta'| \odot \tanh(\eta_{in} d)
            \quad\text{(variant 'abs')} \\
         &\Delta \leftarrow \theta' - \theta' \odot 2^{-\mathrm{sign}(\theta')\,\eta_{out}
            \tanh(\eta_{in} d)} \quad\text{(variant 'pow', sign-exact)} \\
         &\theta_t \leftarrow \theta' - \gamma\,\Delta - (1-\gamma)\,\eta\, d
       \end{aligned}

    :math:`\eta` = ``lr``, :math:`\eta_{in}` = ``lr_in``, :math:`\eta_{out}` = ``lr_out``,
    :math:`\gamma` = ``gamma`` in [0, 1] (1 = multiplicative, 0 = additive; schedule it through
    the group key ``gamma``). Pitfall: weights that are exactly zero never move under the pure
    multiplicative rule (:math:`\gamma = 1`); use :math:`\gamma < 1` or an additive group
    (``gamma=0``) for zero-initialised biases and norm shifts. ``fused=True`` runs torch's
    fused kernel for the additive part and rebuilds :math:`d` from the state (groups with
    Nesterov, no momentum or ``variant='pow'`` fall back to the for-loop); ``foreach`` is
    accepted and runs the for-loop (torch's foreach code does not expose :math:`d`).
"""
    reference = r"""Kirtas, Passalis & Tefas, *Multiplicative update rules for accelerating
    deep learning training and increasing robustness* (GOFAU), arXiv 2307.07189."""
    neutral = dict(gamma=0.0)
    typical = dict(gamma=0.5, lr_out=0.05)
    list_form = False
    budget = 2.5

    def validate(self, g):
        check_range("gamma", g["gamma"], 0.0, 1.0)
        check_range("lr_in", g["lr_in"], 0.0)
        check_range("lr_out", g["lr_out"], 0.0)
        _choice(g, "variant", _VARIANTS)

    def active(self, group):
        return group["gamma"] != 0  # gamma = 0: the base's own additive apply

    def apply(self, opt, group, p, direction):
        gamma, lr_out = group["gamma"], group["lr_out"]
        # work buffers reused across tensors: no memory is allocated per tensor
        half_t = tanh_into_(opt._scratch(p), direction, group["lr_in"])  # tanh(lr_in d) / 2
        work2 = opt._scratch(p, slot=1)
        if group["variant"] == "abs":
            mag = torch.abs(p, out=work2)  # |theta'|, before the additive part moves theta
            if gamma != 1:
                apply_additive_(p, direction, factor=1 - gamma)
            p.addcmul_(mag, half_t, value=-2.0 * gamma * lr_out)
            return
        # 'pow': theta' * 2^(-sign(theta') lr_out tanh(lr_in d))
        sgn = torch.sign(p, out=work2)
        factor = torch.exp2(half_t.mul_(sgn).mul_(-2.0 * lr_out), out=half_t)
        if gamma == 1:
            p.mul_(factor)
            return
        # delta = theta' - theta' * factor = theta' * (1 - factor)
        delta = torch.mul(p, factor.neg_().add_(1.0), out=work2)
        apply_additive_(p, direction, factor=1 - gamma)
        p.sub_(delta, alpha=gamma)

    # fused: the kernel makes the additive part (lr (1 - gamma)); d is rebuilt from its state
    def fusable(self, group, base):
        if group["gamma"] == 0:
            return True
        if group["variant"] != "abs" or not base.holds_direction(group):
            return False
        # gamma = 1 leaves the kernel lr 0, which would also drop a decoupled decay
        return group["gamma"] != 1 or group["weight_decay"] == 0 or not base.decoupled_decay

    def kernel_lr(self, group, lr):
        return lr * (1 - group["gamma"])

    def fold(self, opt, group, p, grad, state, wd, maximize, decoupled):
        gamma = group["gamma"]
        torch.abs(p, out=opt._scratch(p, slot=1))  # |theta_{t-1}|, before the kernel moves it
        if opt._base.decoupled_decay and wd != 0:
            wd = wd / (1 - gamma)  # kernel lr (1 - gamma) lr: keep lr * wd
        return grad, wd, maximize, decoupled

    def after_kernel(self, opt, group, p, state, lr):
        gamma = group["gamma"]
        work, mag = opt._scratch(p), opt._scratch(p, slot=1)
        direction = opt._base.direction_from_state(group, state, work)
        # |theta'| = scale |theta_{t-1}|
        scale = opt._base.param_scale(group, lr)
        half_t = tanh_into_(work, direction, group["lr_in"])
        p.addcmul_(mag, half_t, value=-2.0 * gamma * group["lr_out"] * scale)

    def stats(self, opt):
        return {"hybrid_gamma": float(opt.param_groups[0]["gamma"])}
