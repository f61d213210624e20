"""Two shared fully connected layers over RoI features, with a hook after each of them."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from torch import nn

from vmem.registry import MODELS

AggregatorSpec = Union[dict, nn.Module, None]


@MODELS.register_module()
class TwoFCBoxHead(BaseModule):
    """Flatten pooled RoI features, then ``fc1 -> enhance(0) -> ReLU -> fc2 -> enhance(1) -> ReLU``.

    ``roi_aggregator`` (a module or config, like ``aggregators``) acts before all that, on
    the pooled RoI maps [K, C, S, S] straight after RoIAlign: Context R-CNN's attention
    "after the RPN". It must return maps of the same shape.

    ``enhance(level, features, rois, context)`` is where memory models act on the RoI
    features of one frame: SELSA/MAMBA-style aggregation sits between each fc and its ReLU.
    By default it applies ``aggregators[level]`` (a module or config, ``None`` = identity),
    called as ``aggregator(features, rois=rois, context=context)`` and returning features
    of the same shape. Subclasses may override ``enhance`` instead.

    Args:
        in_channels: channels of the pooled map; ``roi_size`` its (square) side.
        fc_channels: width of both fc layers (1024 in Faster R-CNN).
        aggregators: ``None`` or one entry per fc layer.
    """

    num_fcs = 2

    def __init__(self, *, in_channels: int, roi_size: int = 7, fc_channels: int = 1024,
                 aggregators: Optional[Sequence[AggregatorSpec]] = None, roi_aggregator: AggregatorSpec = None,
                 init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels, self.roi_size, self.out_channels = in_channels, roi_size, fc_channels
        self.fc1 = nn.Linear(in_channels * roi_size * roi_size, fc_channels)
        self.fc2 = nn.Linear(fc_channels, fc_channels)
        self.relu = nn.ReLU(inplace=True)
        aggregators = list(aggregators) if aggregators is not None else [None] * self.num_fcs
        if len(aggregators) != self.num_fcs:
            raise ValueError(f'aggregators needs {self.num_fcs} entries (after fc1, after fc2) or None, '
                             f'got {len(aggregators)}')
        # a ModuleDict cannot hold None; absent keys mean identity
        self.aggregators = nn.ModuleDict()
        for level, spec in enumerate(aggregators):
            if spec is not None:
                self.aggregators[str(level)] = build_aggregator(spec)
        self.roi_aggregator = None if roi_aggregator is None else build_aggregator(roi_aggregator)

    @property
    def fcs(self):
        return (self.fc1, self.fc2)

    def enhance(self, level: int, features: torch.Tensor, rois: torch.Tensor,
                context: Optional[dict] = None) -> torch.Tensor:
        """Hook after fc ``level`` (0 or 1), before its ReLU. ``rois``: [K, 5] (batch index, xyxy)."""
        return enhance_after_fc(self.aggregators, level, features, rois, context)

    def forward(self, roi_features: torch.Tensor, rois: torch.Tensor,
                context: Optional[dict] = None) -> torch.Tensor:
        """[K, C, S, S] pooled features -> [K, fc_channels]."""
        if self.roi_aggregator is not None:
            enhanced = self.roi_aggregator(roi_features, rois=rois, context=context)
            if enhanced.shape != roi_features.shape:
                raise ValueError(f'roi_aggregator changed the pooled RoI shape from {tuple(roi_features.shape)} '
                                 f'to {tuple(enhanced.shape)}')
            roi_features = enhanced
        x = roi_features.flatten(1)
        for level, fc in enumerate(self.fcs):
            x = self.relu(self.enhance(level, fc(x), rois, context))
        return x


def enhance_after_fc(aggregators: nn.ModuleDict, level: int, features: torch.Tensor, rois: torch.Tensor,
                     context: Optional[dict]) -> torch.Tensor:
    """The box heads' ``enhance`` hook: fc ``level``'s aggregator, if any, shape-checked."""
    if str(level) not in aggregators:
        return features
    enhanced = aggregators[str(level)](features, rois=rois, context=context)
    if enhanced.shape != features.shape:
        raise ValueError(f'aggregator after fc{level + 1} changed the feature shape from '
                         f'{tuple(features.shape)} to {tuple(enhanced.shape)}')
    return enhanced


def build_aggregator(spec: Union[dict, nn.Module]) -> nn.Module:
    return spec if isinstance(spec, nn.Module) else MODELS.build(spec)
