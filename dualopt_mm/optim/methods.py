"""The named optimizers, each a declaration: a base, the stages, and the defaults that differ
from the arguments' own (the maths lives in :mod:`._stages`, the base steps in :mod:`._base`)."""

from __future__ import annotations

from ._base import ADAMW, SGD
from ._info import declare
from ._stages import Anchor, HybridApply, L2SP, LayerwiseDecay, RandomScale, Rollback, SelectiveProjection

__all__ = ["DualOptAdamW", "DualOptSGD", "SPDAdamW", "SPDSGD", "RandomScaledSGD",
           "RandomScaledAdamW", "HybridSGD", "HybridAdamW", "L2SPAdamW", "L2SPSGD"]

_DUALOPT = (Rollback(), LayerwiseDecay(), Anchor())
_SPD = (SelectiveProjection(), Anchor())
_L2SP = (L2SP(), Anchor())
_ANCHORED = dict(weight_decay=0.0)  # the pull toward the anchors replaces AdamW's default decay

DualOptAdamW = declare(
    "DualOptAdamW", ADAMW, _DUALOPT, defaults=_ANCHORED,
    summary="DualOpt over an AdamW base: weight rollback (fine-tuning) or real-time decay (scratch).")
DualOptSGD = declare(
    "DualOptSGD", SGD, _DUALOPT,
    summary="DualOpt over an SGD-momentum base: weight rollback (fine-tuning) or real-time decay.")
# SPD's argument order predates the declarations (a public signature)
SPDAdamW = declare(
    "SPDAdamW", ADAMW, _SPD, defaults=_ANCHORED,
    order=("projection_decay", "amsgrad", "anchor_dtype", "projection_eps"),
    summary="Selective Projection Decay over an AdamW base.")
SPDSGD = declare(
    "SPDSGD", SGD, _SPD, order=("projection_decay", "anchor_dtype", "projection_eps"),
    summary="Selective Projection Decay over an SGD-momentum base.")
RandomScaledSGD = declare(
    "RandomScaledSGD", SGD, (RandomScale(),),
    summary="SGD with momentum and exponential random scaling of each step.")
RandomScaledAdamW = declare(
    "RandomScaledAdamW", ADAMW, (RandomScale(),),
    summary="AdamW with exponential random scaling of each step (a natural extension of the rule).")
HybridSGD = declare(
    "HybridSGD", SGD, (HybridApply(),),
    summary="Hybrid multiplicative/additive update over SGD with momentum (GOFAU).")
HybridAdamW = declare(
    "HybridAdamW", ADAMW, (HybridApply(),),
    summary="Hybrid multiplicative/additive update over AdamW (GOFAU).")
L2SPAdamW = declare(
    "L2SPAdamW", ADAMW, _L2SP, defaults=_ANCHORED,
    summary="L2-SP over an AdamW base (coupled pull toward the anchors).")
L2SPSGD = declare(
    "L2SPSGD", SGD, _L2SP, summary="L2-SP over an SGD-momentum base (coupled pull toward the anchors).")
