"""Anomaly detection with memory banks (PatchCore); importing registers the models and loop."""
from .memory_bank_build_loop import MemoryBankBuildLoop
from .patch_features import PatchFeatureExtractor, PatchFeatures
from .patchcore import PatchCore

__all__ = ['MemoryBankBuildLoop', 'PatchCore', 'PatchFeatureExtractor', 'PatchFeatures']
