"""The SAM 2 image encoder: a Hiera trunk (timm's ``sam2_hiera_*``) and SAM 2's FPN neck."""
from __future__ import annotations

from typing import Dict, List, Sequence

import timm
import torch
import torch.nn.functional as F
from torch import nn

from vmem.models.layers.position_encoding import SinePositionEncoding2d

# Stage widths of the official trunks, for checks and the checkpoint converter.
HIERA_CHANNELS = {
    'sam2_hiera_tiny': (96, 192, 384, 768),
    'sam2_hiera_small': (96, 192, 384, 768),
    'sam2_hiera_base_plus': (112, 224, 448, 896),
    'sam2_hiera_large': (144, 288, 576, 1152),
}


def is_hiera(model_name: str) -> bool:
    return model_name.startswith(('sam2_hiera', 'hieradet'))


def build_trunk(*, model_name: str = 'sam2_hiera_tiny', model_kwargs: dict | None = None) -> nn.Module:
    """A timm Hiera (``sam2_hiera_*``, any size; ``model_kwargs`` override e.g. ``embed_dim``
    and ``stages`` for a tiny trunk) without its classifier, or any other timm model with
    four feature levels at strides 4 to 32 (e.g. ``resnet10t``; not loadable from official
    checkpoints, but convolutions learn faster from scratch).

    A Hiera's parameters keep timm's names, which are the official SAM 2 names except
    ``mlp.layers.{0,1}`` -> ``mlp.fc{1,2}`` (see ``checkpoint.py``)."""
    if is_hiera(model_name):
        model = timm.create_model(model_name, pretrained=False, num_classes=0, **(model_kwargs or {}))
        model.head = nn.Identity()   # the classifier's norm is not part of SAM 2
        return model
    model = timm.create_model(model_name, pretrained=False, features_only=True, **(model_kwargs or {}))
    strides = model.feature_info.reduction()[-4:]   # of the levels the model returns
    if strides != [4, 8, 16, 32]:
        raise ValueError(f'trunk {model_name!r}: the last four feature levels must have strides 4, 8, 16, 32, '
                         f'got {strides}')
    return model


class FpnNeck(nn.Module):
    """SAM 2's FPN: 1x1 lateral convs to ``dim`` channels; top-down (nearest x2) sums only
    into ``top_down_levels``; no output convs. Returns maps and their sine encodings,
    high resolution first."""

    def __init__(self, *, in_channels: Sequence[int], dim: int = 256,
                 top_down_levels: Sequence[int] = (2, 3), interpolation: str = 'nearest'):
        super().__init__()
        # convs[0] serves the lowest-resolution level, as in the official neck
        self.convs = nn.ModuleList()
        for width in reversed(list(in_channels)):
            lateral = nn.Sequential()
            lateral.add_module('conv', nn.Conv2d(width, dim, kernel_size=1))
            self.convs.append(lateral)
        self.dim = dim
        self.top_down_levels = list(top_down_levels)
        self.interpolation = interpolation
        self.position_encoding = SinePositionEncoding2d(dim=dim)

    def forward(self, features: Sequence[torch.Tensor]):
        last = len(self.convs) - 1
        outputs: List[torch.Tensor] = [None] * len(features)   # type: ignore[list-item]
        coarser = None
        for level in range(last, -1, -1):
            lateral = self.convs[last - level](features[level])
            if level in self.top_down_levels and coarser is not None:
                upsampled = F.interpolate(coarser.float(), scale_factor=2.0, mode=self.interpolation,
                                          align_corners=None if self.interpolation == 'nearest' else False)
                coarser = lateral + upsampled
            else:
                coarser = lateral
            outputs[level] = coarser
        return outputs, [self.position_encoding(x).to(x.dtype) for x in outputs]


class ImageEncoder(nn.Module):
    """Hiera + FPN; the lowest-resolution level is dropped (``scalp``), as in SAM 2.

    Returns ``dict(fpn=[stride 4, 8, 16 maps], pos=[their encodings])``; the stride-16 map
    is the one memory attention and the mask decoder work on."""

    def __init__(self, *, trunk: dict, dim: int = 256, scalp: int = 1):
        super().__init__()
        self.trunk = build_trunk(**trunk)
        self.hiera = is_hiera(trunk.get('model_name', 'sam2_hiera_tiny'))
        channels = ([info['num_chs'] for info in self.trunk.feature_info] if self.hiera
                    else self.trunk.feature_info.channels())
        self.neck = FpnNeck(in_channels=channels[-4:], dim=dim)
        self.scalp = scalp

    def forward(self, images: torch.Tensor) -> Dict[str, List[torch.Tensor]]:
        if self.hiera:
            stages = self.trunk.forward_intermediates(images, indices=4, intermediates_only=True)
        else:
            stages = self.trunk(images)[-4:]
        features, pos = self.neck(stages)
        if self.scalp:
            features, pos = features[:-self.scalp], pos[:-self.scalp]
        return dict(fpn=features, pos=pos)
