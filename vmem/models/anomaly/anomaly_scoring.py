"""Scoring test patches against a bank of normal patch features (PatchCore inference)."""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from vmem.memory import MemoryBank


class PatchScores(NamedTuple):
    """``patch_scores`` [B, h, w]: distance of each patch to its nearest normal patch;
    ``image_scores`` [B]: the largest patch score, optionally reweighted."""
    patch_scores: Tensor
    image_scores: Tensor


@torch.no_grad()
def nearest_neighbour_scores(patches: Tensor, bank: MemoryBank, *, num_neighbours: int = 1,
                             reweight_neighbours: Optional[int] = None,
                             chunk_elements: Optional[int] = None) -> PatchScores:
    """Score patch features [B, D, h, w] by their L2 distance to the bank.

    A patch's score is its mean distance to its ``num_neighbours`` nearest bank entries
    (1 in the paper). Retrieval is `MemoryBank.topk`: at most ``chunk_elements`` distances
    exist at once, so memory does not grow with the bank.

    ``reweight_neighbours=b`` applies the paper's image-score reweighting (its eq. 7): for
    the most anomalous patch m and its nearest bank entry m*, the score is scaled by
    ``1 - exp|m - m*| / sum_n exp|m - n|`` over n in the b nearest bank entries of m*
    (m* included): when m* lies in a dense region of the bank, with neighbours about as
    close to m as m* is, the score shrinks towards (1 - 1/b) of itself; when m* is
    isolated, it keeps almost all of it. (Written as a softmax, which cannot overflow.)
    """
    batch, dim, height, width = patches.shape
    queries = patches.permute(0, 2, 3, 1).reshape(-1, dim).to(bank.keys.dtype).contiguous()
    result = bank.topk(queries, num_neighbours, metric='l2', chunk_elements=chunk_elements)
    scores = result.scores.mean(1) if num_neighbours > 1 else result.scores[:, 0]
    patch_scores = scores.reshape(batch, height, width)
    flat = patch_scores.reshape(batch, -1)
    image_scores, worst = flat.max(1)
    if reweight_neighbours is not None and reweight_neighbours > 1:
        rows = torch.arange(batch, device=patches.device) * height * width + worst
        worst_patches = queries[rows]                                        # [B, D]
        nearest_slot = result.indices[rows, 0]                               # m*
        nearest_keys = bank.gather(nearest_slot, columns=('keys',)).keys     # [B, D]
        support = min(reweight_neighbours, len(bank))
        support_slots = bank.topk(nearest_keys, support, metric='l2', chunk_elements=chunk_elements).indices
        # m* itself comes first (distance 0), unless duplicates tie with it: put it there
        support_slots[:, 0] = nearest_slot
        support_keys = bank.gather(support_slots, columns=('keys',)).keys   # [B, b, D]
        distances = torch.linalg.vector_norm(support_keys - worst_patches[:, None], dim=-1)
        weights = 1 - torch.softmax(distances, dim=1)[:, 0]
        image_scores = weights * image_scores
    return PatchScores(patch_scores, image_scores)


def gaussian_kernel1d(sigma: float, *, device=None, dtype=torch.float32) -> Tensor:
    """Normalised 1-D Gaussian of radius ceil(4 sigma) (scipy's default truncation)."""
    radius = max(1, math.ceil(4 * sigma))
    positions = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    kernel = torch.exp(-0.5 * (positions / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(maps: Tensor, sigma: float) -> Tensor:
    """Blur [B, H, W] maps with a separable Gaussian (reflected borders); sigma <= 0: unchanged."""
    if sigma <= 0:
        return maps
    kernel = gaussian_kernel1d(sigma, device=maps.device, dtype=maps.dtype)
    radius = kernel.numel() // 2
    out = maps[:, None]
    for axis in (2, 3):
        pad = (radius, radius, 0, 0) if axis == 3 else (0, 0, radius, radius)
        size = out.shape[axis]
        if radius >= size:  # reflect padding needs the map to be larger than the radius
            out = F.pad(out, pad, mode='replicate')
        else:
            out = F.pad(out, pad, mode='reflect')
        weight = kernel.view(1, 1, -1, 1) if axis == 2 else kernel.view(1, 1, 1, -1)
        out = F.conv2d(out, weight)
    return out[:, 0]


MAP_UPSAMPLING = ('bilinear', 'nearest')


def anomaly_maps(patch_scores: Tensor, size: tuple[int, int], *, sigma: float = 4.0,
                 upsampling: str = 'bilinear') -> Tensor:
    """Patch scores [B, h, w] -> pixel anomaly maps [B, H, W]: upsampling to the input size
    (``'bilinear'`` or ``'nearest'``), then a Gaussian blur of ``sigma`` pixels (4 in the paper)."""
    if upsampling == 'nearest':
        maps = F.interpolate(patch_scores[:, None], size=size, mode='nearest')[:, 0]
    else:
        maps = F.interpolate(patch_scores[:, None], size=size, mode='bilinear', align_corners=False)[:, 0]
    return gaussian_blur(maps, sigma)
