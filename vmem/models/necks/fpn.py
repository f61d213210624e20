"""Feature pyramid neck: torchvision's ``FeaturePyramidNetwork`` behind a registry name."""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import nn
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from vmem.registry import MODELS


@MODELS.register_module()
class FPN(BaseModule):
    """Top-down pyramid over the backbone's maps; ``add_pool_level`` appends a stride-2
    max-pooled copy of the coarsest output (the P6 that FPN's RPN anchors use).

    Takes and returns a tuple of maps, finest first; every output has ``out_channels``.
    ``norm='BN'`` puts a BatchNorm after each lateral and output conv (which then have no
    bias), as in torchvision's Faster R-CNN v2; ``None`` (default): plain convs.
    """

    NORMS = {'BN': nn.BatchNorm2d}

    def __init__(self, *, in_channels: Sequence[int], out_channels: int = 256, add_pool_level: bool = True,
                 norm: Optional[str] = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if not in_channels:
            raise ValueError('FPN needs at least one input level (in_channels is empty)')
        if norm is not None and norm not in self.NORMS:
            raise ValueError(f'FPN: norm must be None or one of {sorted(self.NORMS)}, got {norm!r}')
        self.in_channels = tuple(in_channels)
        self.out_channels = out_channels
        self.num_outs = len(self.in_channels) + int(add_pool_level)
        self.fpn = FeaturePyramidNetwork(list(self.in_channels), out_channels,
                                         extra_blocks=LastLevelMaxPool() if add_pool_level else None,
                                         norm_layer=self.NORMS[norm] if norm else None)

    def forward(self, features: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        if len(features) != len(self.in_channels):
            raise ValueError(f'FPN was built for {len(self.in_channels)} levels, got {len(features)}')
        named = OrderedDict((str(i), feature) for i, feature in enumerate(features))
        return tuple(self.fpn(named).values())
