"""Greedy k-center coreset selection (PatchCore's memory-bank subsampling)."""
from __future__ import annotations

import torch
from torch import Tensor


@torch.no_grad()
def greedy_coreset(features: Tensor, num: int, *, projection_dim: int | None = 128,
                   num_starts: int = 1, chunk_rows: int = 65536,
                   generator: torch.Generator | None = None) -> Tensor:
    """Indices of ``num`` rows of ``features`` [N, d] chosen by greedy k-center.

    Each step picks the row farthest from everything picked so far, so the coreset
    covers the feature space. Distances are computed in a random Gaussian projection to
    ``projection_dim`` dims (Johnson-Lindenstrauss; None keeps the original space), and
    only a length-N vector of distances to the current coreset is kept: memory is O(N),
    never the N x N matrix. Cost is O(N * projection_dim * num).
    """
    if not isinstance(features, Tensor) or features.ndim != 2 or not features.is_floating_point():
        raise ValueError('features must be a floating-point tensor of shape [N, d]')
    total = features.shape[0]
    if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= total:
        raise ValueError(f'num must be an int in [1, {total}], got {num!r}')
    if not 1 <= num_starts <= num:
        raise ValueError(f'num_starts must be in [1, num], got {num_starts}')
    # a finite sum settles it in one reduction, without an N x d mask (195 MiB for
    # 200000 x 1024); only a non-finite sum (NaN/Inf, or an overflow) needs the full check
    if not (bool(torch.isfinite(features.sum())) or bool(torch.isfinite(features).all())):
        raise ValueError('features contain NaN or Inf')
    device = features.device
    points = features.float()
    if projection_dim is not None and projection_dim < features.shape[1]:
        projection = torch.randn(features.shape[1], projection_dim, generator=generator)
        projection = projection.div_(projection_dim ** 0.5).to(device)
        projected = torch.empty(total, projection_dim, device=device)
        for i in range(0, total, chunk_rows):  # into one buffer: no list of chunks to concatenate
            torch.matmul(points[i:i + chunk_rows], projection, out=projected[i:i + chunk_rows])
        points = projected
    squared_norms = points.square().sum(1)

    def squared_distances_to(index: int) -> Tensor:
        center = points[index]
        return (squared_norms - 2 * (points @ center) + center.square().sum()).clamp_(min=0)

    starts = torch.randperm(total, generator=generator)[:num_starts].tolist()
    selected = torch.empty(num, dtype=torch.long, device=device)
    nearest = torch.full((total,), float('inf'), device=device)
    for position in range(num):
        index = starts[position] if position < num_starts else int(nearest.argmax())
        selected[position] = index
        torch.minimum(nearest, squared_distances_to(index), out=nearest)
        nearest[index] = -1.0  # never picked twice, even with duplicate rows
    return selected
