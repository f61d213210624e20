"""Detectors and their building blocks; importing this package registers them in MODELS."""
from . import anomaly, backbones, data_preprocessors, dense_heads, detectors, layers, memory, necks, roi_heads, selfsup, trackers  # noqa: F401
from .anomaly import PatchCore
from .backbones import TimmBackbone
from .data_preprocessors import DetDataPreprocessor
from .dense_heads import RPNHead
from .detectors import MAMBA, ContextRCNN, FasterRCNN
from .layers import GEO, ContextAttention
from .memory import CameraMemory, ContextAggregator, InstanceMemory, PixelMemory
from .necks import FPN, ChannelMapper
from .roi_heads import ConvFCBoxHead, StandardRoIHead, TwoFCBoxHead
from .selfsup import HardNegativeMixer, MoCo, ProjectionHead
from .trackers import SAM2Tracker

__all__ = ['CameraMemory', 'ChannelMapper', 'ContextAggregator', 'ContextAttention', 'ContextRCNN', 'ConvFCBoxHead',
           'DetDataPreprocessor', 'FPN', 'FasterRCNN', 'GEO', 'HardNegativeMixer', 'InstanceMemory', 'MAMBA', 'MoCo', 'PatchCore',
           'PixelMemory', 'ProjectionHead', 'RPNHead', 'SAM2Tracker', 'StandardRoIHead', 'TimmBackbone', 'TwoFCBoxHead']
