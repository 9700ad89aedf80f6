"""Fixes that make the pinned OpenMMLab stack work with a current torch. Applied on ``import dualopt_mm``."""
from .checkpoint import apply_checkpoint_fix

__all__ = ['apply_checkpoint_fix', 'apply_all']


def apply_all() -> None:
    apply_checkpoint_fix()
