"""Detectors and their building blocks; importing this package registers them in MODELS."""
from . import backbones, data_preprocessors, dense_heads, detectors, necks, roi_heads  # noqa: F401
from .backbones import TimmBackbone
from .data_preprocessors import DetDataPreprocessor
from .dense_heads import RPNHead
from .detectors import FasterRCNN
from .necks import FPN, ChannelMapper
from .roi_heads import StandardRoIHead, TwoFCBoxHead

__all__ = ['ChannelMapper', 'DetDataPreprocessor', 'FPN', 'FasterRCNN', 'RPNHead', 'StandardRoIHead', 'TimmBackbone',
           'TwoFCBoxHead']
