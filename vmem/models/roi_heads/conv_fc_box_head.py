"""Convolutions, then fully connected layers, over RoI features: Faster R-CNN v2's box head."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import nn

from vmem.registry import MODELS

from .two_fc_box_head import AggregatorSpec, build_aggregator, enhance_after_fc


@MODELS.register_module()
class ConvFCBoxHead(BaseModule):
    """``num_convs`` x (3x3 conv -> norm -> ReLU) on the pooled maps, flatten, then
    ``num_fcs`` x (fc -> enhance(level) -> ReLU).

    torchvision's ``FastRCNNConvFCHead`` (4 convs of 256 with BatchNorm, one fc of 1024 in
    ``fasterrcnn_resnet50_fpn_v2``); the convs have no bias when a norm follows them. The
    ``enhance`` hook after each fc is ``TwoFCBoxHead``'s: ``aggregators`` holds one module
    or config (or None) per fc, called as ``aggregator(features, rois=rois, context=context)``.

    Args:
        in_channels: channels of the pooled map; ``roi_size`` its (square) side.
        conv_channels: width of every conv; ``norm``: ``'BN'``, ``'GN'`` (32 groups) or None.
        fc_channels: width of every fc layer (the head's ``out_channels``).
    """

    NORMS = ('BN', 'GN')

    def __init__(self, *, in_channels: int, roi_size: int = 7, num_convs: int = 4, conv_channels: int = 256,
                 num_fcs: int = 1, fc_channels: int = 1024, norm: Optional[str] = 'BN',
                 aggregators: Optional[Sequence[AggregatorSpec]] = None, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if norm is not None and norm not in self.NORMS:
            raise ValueError(f'ConvFCBoxHead: norm must be None or one of {self.NORMS}, got {norm!r}')
        if num_convs < 0 or num_fcs < 1:
            raise ValueError(f'ConvFCBoxHead needs num_convs >= 0 and num_fcs >= 1, got {num_convs}, {num_fcs}')
        self.in_channels, self.roi_size, self.out_channels = in_channels, roi_size, fc_channels
        self.num_fcs = num_fcs
        convs, channels = [], in_channels
        for _ in range(num_convs):
            convs.append(_conv_norm_relu(channels, conv_channels, norm))
            channels = conv_channels
        self.convs = nn.Sequential(*convs)
        widths = [channels * roi_size * roi_size] + [fc_channels] * num_fcs
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.relu = nn.ReLU(inplace=True)
        aggregators = list(aggregators) if aggregators is not None else [None] * num_fcs
        if len(aggregators) != num_fcs:
            raise ValueError(f'aggregators needs {num_fcs} entries (one per fc) or None, got {len(aggregators)}')
        self.aggregators = nn.ModuleDict(
            {str(level): build_aggregator(spec) for level, spec in enumerate(aggregators) if spec is not None})
        for module in self.convs.modules():
            if isinstance(module, nn.Conv2d):  # torchvision's initialisation of these convs
                nn.init.kaiming_normal_(module.weight, mode='fan_out', nonlinearity='relu')
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def enhance(self, level: int, features: torch.Tensor, rois: torch.Tensor,
                context: Optional[dict] = None) -> torch.Tensor:
        """Hook after fc ``level``, before its ReLU. ``rois``: [K, 5] (batch index, xyxy)."""
        return enhance_after_fc(self.aggregators, level, features, rois, context)

    def forward(self, roi_features: torch.Tensor, rois: torch.Tensor,
                context: Optional[dict] = None) -> torch.Tensor:
        """[K, C, S, S] pooled features -> [K, fc_channels]."""
        x = self.convs(roi_features).flatten(1)
        for level, fc in enumerate(self.fcs):
            x = self.relu(self.enhance(level, fc(x), rois, context))
        return x


def _conv_norm_relu(in_channels: int, out_channels: int, norm: Optional[str]) -> nn.Sequential:
    # the same layout as torchvision's Conv2dNormActivation (conv, norm, ReLU), so that its
    # weights map index for index
    layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=norm is None)]
    if norm == 'BN':
        layers.append(nn.BatchNorm2d(out_channels))
    elif norm == 'GN':
        layers.append(nn.GroupNorm(32, out_channels))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)
