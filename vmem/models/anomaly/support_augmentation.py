"""Augmented copies of few-shot support images, so a handful of normal images covers more
of the normal appearance (flips, right-angle rotations, small shifts; as in the few-shot
nearest-neighbour anomaly detectors that build PatchCore-style memories from 1-8 shots)."""
from __future__ import annotations

from typing import Callable, Dict, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

SHIFT_FRACTION = 1 / 16  # of the image side: a few patches at stride 8


def _shifts(images: Tensor) -> Tensor:
    # four translations by ~1/16 of the image, borders filled by reflection (no black bands
    # that would enter the memory as "normal")
    step = max(1, round(min(images.shape[-2:]) * SHIFT_FRACTION))
    padded = F.pad(images, (step, step, step, step), mode='reflect')
    height, width = images.shape[-2:]
    crops = [padded[..., dy:dy + height, dx:dx + width]
             for dy, dx in ((0, step), (2 * step, step), (step, 0), (step, 2 * step))]
    return torch.cat(crops)


def _rotation(turns: int) -> Callable[[Tensor], Tensor]:
    def rotate(images: Tensor) -> Tensor:
        if turns % 2 and images.shape[-1] != images.shape[-2]:
            raise ValueError(f'rot{90 * turns} needs square images, got {tuple(images.shape[-2:])}')
        return torch.rot90(images, turns, dims=(-2, -1))
    return rotate


SUPPORT_AUGMENTATIONS: Dict[str, Callable[[Tensor], Tensor]] = {
    'hflip': lambda images: images.flip(-1),
    'vflip': lambda images: images.flip(-2),
    'rot90': _rotation(1),
    'rot180': _rotation(2),
    'rot270': _rotation(3),
    'shift': _shifts,
}


def augment_support(images: Tensor, names: Sequence[str]) -> Tensor:
    """``images`` [B, 3, H, W] followed by each named augmentation of them."""
    return torch.cat([images, *(SUPPORT_AUGMENTATIONS[name](images) for name in names)])
