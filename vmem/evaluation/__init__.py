"""Metrics (importing registers them) and the paired bootstrap that compares two models."""
from . import metrics  # noqa: F401
from .metrics.vid_outcomes import VIDOutcomes
from .paired_bootstrap import PairedGain, paired_bootstrap

__all__ = ['PairedGain', 'VIDOutcomes', 'paired_bootstrap']
