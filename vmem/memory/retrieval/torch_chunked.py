"""Exact top-k maximum-inner-product search in blocks, on CPU or CUDA.

The n x N score matrix is computed one block of at most ``chunk_elements`` scores at a
time, so peak memory is bounded by the chunk size, not by the bank. Two things make it
faster than ``(q @ keys.T).topk(k)``, not just leaner (see tools/benchmark/retrieval.py):

* blocks keep the GEMM output cache-friendly and reuse one buffer, so no n x N allocation
  is ever faulted in;
* selection is two-stage: the top-k of a block lies inside the k groups with the largest
  group maximum (each of those k elements' group max is at least the element itself, and
  at most k-1 groups can beat it), so a cheap vectorised max over groups shrinks the
  row before ``topk`` sorts anything.

On CPU, large float32 GEMMs go through numpy's OpenBLAS on zero-copy views: on the AMD
build machines torch's MKL path ran 5-20% slower on those shapes (MKL does not use
AVX-512 on AMD). Set ``VMEM_CPU_GEMM=torch`` to use torch's everywhere.
"""
from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor

DEFAULT_CHUNK_ELEMENTS = 1 << 23  # 32 MiB of float32 scores
# GEMMs with fewer query rows than this starve the CPU's FMA units, so query blocks are
# kept at least this tall (unless the caller's chunk is smaller still).
MIN_QUERY_BLOCK = 256


# Below this many FLOPs per block, handing work between OpenBLAS' and torch's thread
# pools (both spin-wait) costs more than OpenBLAS' faster kernels save.
NUMPY_GEMM_MIN_FLOPS = 4e9


def _use_numpy_gemm(queries: Tensor, keys: Tensor) -> bool:
    return (queries.device.type == 'cpu' and queries.dtype == torch.float32
            and 2.0 * queries.shape[0] * keys.shape[0] * queries.shape[1] >= NUMPY_GEMM_MIN_FLOPS
            and os.environ.get('VMEM_CPU_GEMM', 'numpy') == 'numpy')


def _block_scores(queries: Tensor, keys: Tensor, out: Tensor) -> Tensor:
    """``out = queries @ keys.T`` in float32."""
    if _use_numpy_gemm(queries, keys):
        np.matmul(queries.numpy(), keys.numpy().T, out=out.numpy())
    elif queries.dtype == torch.float32:
        torch.mm(queries, keys.T, out=out)
    elif queries.device.type == 'cpu':
        # CPU half-precision GEMMs are slow and inexact: score in float32.
        torch.mm(queries.float(), keys.float().T, out=out)
    else:
        out.copy_(torch.mm(queries, keys.T))
    return out


def _group_size(length: int, k: int) -> int:
    """Group size for two-stage selection, or 1 when plain topk is as cheap."""
    for group in (16, 8):
        if length >= 4 * k * group:
            return group
    return 1


def select_topk(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Exact ``scores.topk(k, dim=1)`` (up to ties) of a contiguous [b, L] block."""
    rows, length = scores.shape
    group = _group_size(length, k)
    if group == 1:
        return scores.topk(k, dim=1)
    # Strided groups {c, c + width, c + 2*width, ...}: the max reduces over a
    # non-innermost dim, which vectorises far better than reducing runs of 16.
    width = length // group
    body = scores[:, :width * group]
    group_max = body.view(rows, group, width).amax(dim=1)
    _, top_groups = group_max.topk(k, dim=1)
    offsets = torch.arange(group, device=scores.device).mul_(width)
    candidates = (top_groups.unsqueeze(1) + offsets.view(1, group, 1)).view(rows, -1)
    tail = length - width * group
    if tail:
        tail_cols = torch.arange(width * group, length, device=scores.device)
        candidates = torch.cat([candidates, tail_cols.expand(rows, tail)], dim=1)
    values, picked = scores.gather(1, candidates).topk(k, dim=1)
    return values, candidates.gather(1, picked)


def _merge(best: tuple[Tensor, Tensor] | None, new: tuple[Tensor, Tensor],
           k: int) -> tuple[Tensor, Tensor]:
    if best is None:
        return new
    values = torch.cat([best[0], new[0]], dim=1)
    indices = torch.cat([best[1], new[1]], dim=1)
    values, picked = values.topk(min(k, values.shape[1]), dim=1)
    return values, indices.gather(1, picked)


def block_shape(num_queries: int, num_keys: int, chunk_elements: int) -> tuple[int, int]:
    """(query rows, key rows) of one score block: at most ``chunk_elements`` scores."""
    query_rows = min(num_queries, max(min(MIN_QUERY_BLOCK, chunk_elements),
                                      chunk_elements // num_keys))
    key_rows = min(num_keys, max(1, chunk_elements // query_rows))
    return query_rows, key_rows


def chunked_mips_topk(queries: Tensor, keys: Tensor, k: int, *,
                      key_scale: Tensor | None = None, key_bias: Tensor | None = None,
                      chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> tuple[Tensor, Tensor]:
    """Top-k of ``(queries @ keys.T) * key_scale + key_bias`` per row, descending.

    Inputs are validated by the caller (`vmem.memory.retrieval.topk`).
    Returns float32 scores [n, k] and int64 indices [n, k].
    """
    num_queries, num_keys = queries.shape[0], keys.shape[0]
    query_rows, key_rows = block_shape(num_queries, num_keys, chunk_elements)
    scores_out = torch.empty(num_queries, k, dtype=torch.float32, device=queries.device)
    indices_out = torch.empty(num_queries, k, dtype=torch.long, device=queries.device)
    workspace = torch.empty(query_rows * key_rows, dtype=torch.float32, device=queries.device)
    for q_start in range(0, num_queries, query_rows):
        q_block = queries[q_start:q_start + query_rows]
        rows = q_block.shape[0]
        best = None
        for k_start in range(0, num_keys, key_rows):
            k_end = min(num_keys, k_start + key_rows)
            block = _block_scores(q_block, keys[k_start:k_end],
                                  workspace[:rows * (k_end - k_start)].view(rows, -1))
            if key_scale is not None:
                block.mul_(key_scale[k_start:k_end])
            if key_bias is not None:
                block.add_(key_bias[k_start:k_end])
            values, indices = select_topk(block, min(k, k_end - k_start))
            best = _merge(best, (values, indices.add_(k_start)), k)
        scores_out[q_start:q_start + rows] = best[0]
        indices_out[q_start:q_start + rows] = best[1]
    return scores_out, indices_out
