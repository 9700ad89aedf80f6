"""Argument documentation shared by the optimizer docstrings."""

_PARAMS_ARG = r"""
        params (iterable): parameters, (name, parameter) pairs, or dicts defining parameter
            groups. Groups may carry ``layer_depth`` (float in [0, 1]) and ``pretrained``
            (bool, default True) and any of the hyper-parameters below; unknown keys (e.g.
            mmengine's ``layer_id``, ``param_names``, ``initial_lr``) are kept and ignored."""

SGD_ARGS = _PARAMS_ARG + r"""
        lr (float or Tensor): learning rate :math:`\eta` (default: 1e-2).
        momentum (float): momentum factor :math:`\mu` (default: 0.9).
        dampening (float): dampening :math:`\tau` (default: 0).
        weight_decay (float): coupled weight decay :math:`\lambda` (default: 0).
        nesterov (bool): Nesterov momentum (default: False)."""

ADAMW_ARGS = _PARAMS_ARG + r"""
        lr (float or Tensor): learning rate :math:`\eta` (default: 1e-3).
        betas (tuple[float, float]): :math:`(\beta_1, \beta_2)` (default: (0.9, 0.999)).
        eps (float): :math:`\epsilon` added to the denominator (default: 1e-8).
        weight_decay (float): decoupled weight decay :math:`\lambda`."""

COMMON_ARGS = r"""
        maximize (bool): maximize the objective (the gradient is negated) (default: False).
        foreach (bool, optional): run the base step through torch's multi-tensor code
            (default None: only when every parameter is on CUDA).
        fused (bool, optional): run the base step through torch's fused kernel (CPU, CUDA;
            floating-point parameters) (default None = False). Equal to the for-loop path up to
            rounding. Needs torch >= 2.4 on CPU and, for the SGD-based optimizers, torch >= 2.3
            on any device; elsewhere ``RuntimeError`` names the torch needed.
        nonfinite (str): what a ``step()`` with a non-finite gradient does: ``'skip'`` (default;
            nothing changes, a warning is issued, ``skipped_steps`` is incremented),
            ``'raise'`` (``FloatingPointError``) or ``'ignore'`` (torch.optim's behaviour). Steps
            skipped by ``torch.amp.GradScaler`` never reach ``step()``."""

ANCHOR_ARGS = r"""
        anchor_dtype (torch.dtype, optional): storage dtype of the anchors :math:`\theta_0`
            (default None: fp32, or the parameter's dtype when wider; ``torch.bfloat16``
            halves the memory)."""
