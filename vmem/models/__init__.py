"""Detectors and their building blocks; importing this package registers them in MODELS."""
from . import backbones, data_preprocessors, dense_heads, detectors, layers, memory, necks, roi_heads, trackers  # noqa: F401
from .backbones import TimmBackbone
from .data_preprocessors import DetDataPreprocessor
from .dense_heads import RPNHead
from .detectors import MAMBA, FasterRCNN
from .layers import GEO
from .memory import InstanceMemory, PixelMemory
from .necks import FPN, ChannelMapper
from .roi_heads import StandardRoIHead, TwoFCBoxHead
from .trackers import SAM2Tracker

__all__ = ['ChannelMapper', 'DetDataPreprocessor', 'FPN', 'FasterRCNN', 'GEO', 'InstanceMemory', 'MAMBA',
           'PixelMemory', 'RPNHead', 'SAM2Tracker', 'StandardRoIHead', 'TimmBackbone', 'TwoFCBoxHead']
