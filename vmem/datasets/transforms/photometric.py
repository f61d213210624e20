"""Pixel-value transforms."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from vmem.registry import TRANSFORMS

from .base import BaseTransform

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@TRANSFORMS.register_module()
class Normalize(BaseTransform):
    """``(img - mean) / std`` per RGB channel, as float32; records ``img_norm_cfg``.

    vmem's detectors normalise in their data preprocessor instead (on the device, after
    batching, as mmdet does), so their configs leave this out; it is for pipelines that feed
    other consumers (feature extraction, anomaly models, export) with ready tensors.
    """

    def __init__(self, *, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD):
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f'mean and std need 3 values (RGB), got {mean!r} and {std!r}')
        if min(std) <= 0:
            raise ValueError(f'std must be positive, got {std!r}')
        self.mean = tuple(float(v) for v in mean)
        self.std = tuple(float(v) for v in std)

    def transform(self, results: dict) -> dict:
        image = results.get('img')
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("Normalize needs results['img'] as an HxWx3 RGB array; put LoadFrame before it")
        mean = np.asarray(self.mean, dtype=np.float32)
        std = np.asarray(self.std, dtype=np.float32)
        results['img'] = (image.astype(np.float32) - mean) / std
        results['img_norm_cfg'] = dict(mean=self.mean, std=self.std)
        return results
