r"""Exponential random scaling of a whole step (Zhang & Cutkosky, ICML 2024).

One scalar :math:`s_t \sim \mathrm{Exp}(1)` per step, shared by every tensor of every group,
multiplies the base optimizer's whole displacement. Because both SGD's and AdamW's displacements
(AdamW's decoupled decay included) are linear in the learning rate, scaling the displacement by
:math:`s_t` is exactly running the base step with learning rate :math:`s_t\eta_t`; that is how it
is applied, so a fused base kernel stays a single pass.

The draws are counter-based: draw number :math:`k` of seed :math:`S` comes from a fresh
``torch.Generator`` seeded with a hash of :math:`(S, k)`. The whole generator state is therefore
two integers (``seed``, ``draws``), saved in the optimizer's state dict: a resumed run draws the
same scalars, every data-parallel rank with the same seed draws the same :math:`s_t`, and
``torch.load(weights_only=True)`` works.
"""

from __future__ import annotations

import torch

__all__ = ["ExpScaleSource"]

_MASK63 = (1 << 63) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(seed: int, k: int) -> int:
    # splitmix64-style mixing of (seed, draw index) into one 63-bit generator seed
    z = (seed + _GOLDEN * (k + 1)) & ((1 << 64) - 1)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & ((1 << 64) - 1)
    return (z ^ (z >> 31)) & _MASK63


class ExpScaleSource:
    """Reproducible source of Exp(1) scalars with a tiny, serialisable state."""

    def __init__(self, seed: int | None = None):
        if seed is None:
            # no draw from the global generator (it would shift the user's random stream);
            # torch.initial_seed() is what torch.manual_seed / mmengine's seeding set.
            seed = torch.initial_seed()
        self.seed = int(seed) & _MASK63
        self.draws = 0

    def peek(self, k: int | None = None) -> float:
        """Draw number ``k`` (default: the next one) without advancing."""
        k = self.draws if k is None else k
        gen = torch.Generator(device="cpu").manual_seed(_mix(self.seed, k))
        return float(torch.empty((), dtype=torch.float64).exponential_(1.0, generator=gen))

    def draw(self) -> float:
        s = self.peek()
        self.draws += 1
        return s

    def state_dict(self) -> dict:
        return {"seed": self.seed, "draws": self.draws}

    def load_state_dict(self, state: dict) -> None:
        self.seed = int(state["seed"])
        self.draws = int(state["draws"])
