"""SAM 2's memory encoder: a frame's stride-16 features fused with its (downsampled)
predicted mask into a compact memory map (64 channels by default) plus its encoding."""
from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import nn

from vmem.models.layers.position_encoding import SinePositionEncoding2d
from vmem.models.layers.token_attention import LayerNorm2d


class MaskDownSampler(nn.Module):
    """Conv (stride 2) + LayerNorm2d + GELU, repeated to a total stride of 16 with 4x the
    channels each time, then a 1x1 conv to ``dim``."""

    def __init__(self, *, dim: int = 256, kernel_size: int = 3, stride: int = 2, padding: int = 1,
                 total_stride: int = 16):
        super().__init__()
        num_layers = round(math.log(total_stride, stride))
        if stride ** num_layers != total_stride:
            raise ValueError(f'total_stride {total_stride} is not a power of stride {stride}')
        layers, channels = [], 1
        for _ in range(num_layers):
            wider = channels * stride ** 2
            layers += [nn.Conv2d(channels, wider, kernel_size=kernel_size, stride=stride, padding=padding),
                       LayerNorm2d(wider), nn.GELU()]
            channels = wider
        layers.append(nn.Conv2d(channels, dim, kernel_size=1))
        self.encoder = nn.Sequential(*layers)

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        return self.encoder(masks)


class ConvNeXtBlock(nn.Module):
    """Depth-wise 7x7 conv, LayerNorm, MLP (x4) with GELU, layer scale, residual."""

    def __init__(self, *, dim: int = 256, kernel_size: int = 7, padding: int = 3,
                 layer_scale_init_value: float = 1e-6):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=kernel_size, padding=padding, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(layer_scale_init_value * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(y)))
        return x + y.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    def __init__(self, *, dim: int = 256, num_layers: int = 2):
        super().__init__()
        self.layers = nn.ModuleList(ConvNeXtBlock(dim=dim) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    def __init__(self, *, in_dim: int = 256, out_dim: int = 64, fuser_layers: int = 2):
        super().__init__()
        self.mask_downsampler = MaskDownSampler(dim=in_dim)
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = Fuser(dim=in_dim, num_layers=fuser_layers)
        self.out_proj = nn.Conv2d(in_dim, out_dim, kernel_size=1) if out_dim != in_dim else nn.Identity()
        self.position_encoding = SinePositionEncoding2d(dim=out_dim)
        self.out_dim = out_dim

    def forward(self, features: torch.Tensor, mask_probs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """features [B, C, h, w] (the frame's unconditioned stride-16 map), mask_probs
        [B, 1, 16h, 16w] (already squashed/scaled) -> memory [B, out_dim, h, w] and its encoding."""
        if features.shape[0] > 1 and features.stride(0) == 0:
            # one frame's features repeated per object (`FrameFeatures.repeat`): project once
            projected = self.pix_feat_proj(features[:1]).expand(features.shape[0], -1, -1, -1)
        else:
            projected = self.pix_feat_proj(features)
        x = projected + self.mask_downsampler(mask_probs)
        x = self.out_proj(self.fuser(x))
        return x, self.position_encoding(x).to(x.dtype)
