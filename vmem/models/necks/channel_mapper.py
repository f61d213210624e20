"""Per-level convolution to a common channel count (the DC5 detectors' 2048 -> 512 reduction)."""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn

from vmem.registry import MODELS


@MODELS.register_module()
class ChannelMapper(BaseModule):
    """One ``kernel_size`` conv (+ ReLU) per input level, each to ``out_channels``.

    mmtracking's Faster R-CNN R-50/101-DC5 (under SELSA, MAMBA) maps C5's 2048 channels to
    512 with a 3x3 conv and ReLU before the RPN and RoI head; this is that neck.
    """

    def __init__(self, *, in_channels: Sequence[int], out_channels: int, kernel_size: int = 3,
                 with_relu: bool = True, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if not in_channels:
            raise ValueError('ChannelMapper needs at least one input level (in_channels is empty)')
        self.in_channels, self.out_channels = tuple(in_channels), out_channels
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, out_channels, kernel_size, padding=kernel_size // 2),
                          nn.ReLU(inplace=True) if with_relu else nn.Identity())
            for channels in self.in_channels)

    def forward(self, features: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(features) != len(self.convs):
            raise ValueError(f'ChannelMapper was built for {len(self.convs)} levels, got {len(features)}')
        return tuple(conv(feature) for conv, feature in zip(self.convs, features))
