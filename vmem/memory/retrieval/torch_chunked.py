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

On CPU, large searches split their rows (or, for few queries, their keys) over one
single-threaded worker per core (see `cpu_threads`). Float32 GEMMs in those workers, and
all of them when torch runs on one thread, go through numpy's OpenBLAS on zero-copy
views: torch's MKL does not use AVX-512 on AMD CPUs and ran 1.3-2x slower on the build
machines. Set ``VMEM_CPU_GEMM=torch`` to use torch's GEMM.
"""
from __future__ import annotations

import os

import numpy as np
import torch
from torch import Tensor

from . import cpu_threads

DEFAULT_CHUNK_ELEMENTS = 1 << 23  # 32 MiB of float32 scores
# Keys per score block when the chunk allows more queries: on the build machines a
# 1024 x 1024 x d float32 GEMM ran at 100 GFLOP/s per core, a 150 x 20000 x d one at 85;
# but torch's topk costs ~10-30 us per row, so blocks should not be too short either.
KEY_BLOCK = 4096


# Below this many FLOPs in all, handing rows to worker threads costs more than it saves.
PARALLEL_MIN_FLOPS = 2e8
# With fewer query rows than this per worker, workers split the keys instead. Splitting
# rows is preferred: a key split repeats selection's per-row cost in every worker.
MIN_ROWS_PER_WORKER = 64


def _block_scores(queries: Tensor, keys: Tensor, out: Tensor, *, numpy_gemm: bool) -> Tensor:
    """``out = queries @ keys.T`` in float32."""
    if numpy_gemm:
        # On the AMD build machines OpenBLAS ran float32 GEMMs 1.3-2x faster than torch's
        # MKL, which does not use AVX-512 on AMD. Zero-copy views, no conversion.
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


def _row_topk(scores: Tensor, k: int, *, ordered: bool = True) -> tuple[Tensor, Tensor]:
    """``scores.topk(k, dim=1)`` of a 2-D block; ``ordered=False``: the same k, any order."""
    if scores.device.type != 'cpu' or scores.dtype != torch.float32 or scores.requires_grad:
        return scores.topk(k, dim=1, sorted=ordered)
    # numpy's introselect, then a sort of the k winners only, ran 3-4x faster than torch's
    # CPU topk on the [100, 512-625] rows that selection makes (build machine, 2026-11-25).
    array = scores.numpy()
    length = array.shape[1]
    picked = np.argpartition(array, length - k, axis=1)[:, length - k:] if k < length else \
        np.broadcast_to(np.arange(length), array.shape)
    values = np.take_along_axis(array, picked, axis=1)
    if ordered:
        order = np.argsort(-values, axis=1)
        values, picked = np.take_along_axis(values, order, axis=1), np.take_along_axis(picked, order, axis=1)
    return torch.from_numpy(np.ascontiguousarray(values)), torch.from_numpy(picked.astype(np.int64, copy=False))


def select_topk(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Exact ``scores.topk(k, dim=1)`` (up to ties) of a contiguous [b, L] block."""
    rows, length = scores.shape
    group = _group_size(length, k)
    if group == 1:
        return _row_topk(scores, k)
    # Strided groups {c, c + width, c + 2*width, ...}: the max reduces over a
    # non-innermost dim, which vectorises far better than reducing runs of 16.
    width = length // group
    body = scores[:, :width * group]
    group_max = body.view(rows, group, width).amax(dim=1)
    _, top_groups = _row_topk(group_max, k, ordered=False)
    offsets = torch.arange(group, device=scores.device).mul_(width)
    candidates = (top_groups.unsqueeze(1) + offsets.view(1, group, 1)).view(rows, -1)
    tail = length - width * group
    if tail:
        tail_cols = torch.arange(width * group, length, device=scores.device)
        candidates = torch.cat([candidates, tail_cols.expand(rows, tail)], dim=1)
    values, picked = _row_topk(scores.gather(1, candidates), k)
    return values, candidates.gather(1, picked)


def _merge(best: tuple[Tensor, Tensor] | None, new: tuple[Tensor, Tensor],
           k: int) -> tuple[Tensor, Tensor]:
    if best is None:
        return new
    values = torch.cat([best[0], new[0]], dim=1)
    indices = torch.cat([best[1], new[1]], dim=1)
    values, picked = _row_topk(values, min(k, values.shape[1]))
    return values, indices.gather(1, picked)


def block_shape(num_queries: int, num_keys: int, chunk_elements: int,
                k: int = 1) -> tuple[int, int]:
    """(query rows, key rows) of one score block: at most ``chunk_elements`` scores.

    Blocks are made tall (many queries, ~KEY_BLOCK keys) because GEMMs with few rows run
    well below peak, but keep at least 16 k keys so selection still shrinks each block.
    """
    key_rows = min(num_keys, max(KEY_BLOCK, 16 * k), chunk_elements)
    query_rows = min(num_queries, max(1, chunk_elements // key_rows))
    key_rows = min(num_keys, max(1, chunk_elements // query_rows))
    return query_rows, key_rows


def _search(queries: Tensor, keys: Tensor, k: int, key_scale: Tensor | None,
            key_bias: Tensor | None, chunk_elements: int,
            numpy_gemm: bool) -> tuple[Tensor, Tensor]:
    """Blockwise search of all ``queries`` against all ``keys`` on the calling thread."""
    num_queries, num_keys = queries.shape[0], keys.shape[0]
    k = min(k, num_keys)
    query_rows, key_rows = block_shape(num_queries, num_keys, chunk_elements, k)
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
                                  workspace[:rows * (k_end - k_start)].view(rows, -1),
                                  numpy_gemm=numpy_gemm)
            if key_scale is not None:
                block.mul_(key_scale[k_start:k_end])
            if key_bias is not None:
                block.add_(key_bias[k_start:k_end])
            values, indices = select_topk(block, min(k, k_end - k_start))
            best = _merge(best, (values, indices.add_(k_start)), k)
        scores_out[q_start:q_start + rows] = best[0]
        indices_out[q_start:q_start + rows] = best[1]
    return scores_out, indices_out


def _parallel_search(queries: Tensor, keys: Tensor, k: int, key_scale: Tensor | None,
                     key_bias: Tensor | None, chunk_elements: int,
                     workers: int) -> tuple[Tensor, Tensor]:
    """Rows (or, for few queries, keys) split over single-threaded CPU workers."""
    numpy_gemm = _numpy_gemm_usable(queries)
    per_worker_chunk = max(1, chunk_elements // workers)
    num_queries, num_keys = queries.shape[0], keys.shape[0]
    if num_queries >= workers * MIN_ROWS_PER_WORKER:
        bounds = torch.linspace(0, num_queries, workers + 1).long().tolist()
        parts = cpu_threads.run_parallel([
            (lambda lo=lo, hi=hi: _search(queries[lo:hi], keys, k, key_scale, key_bias,
                                          per_worker_chunk, numpy_gemm))
            for lo, hi in zip(bounds[:-1], bounds[1:])])
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    bounds = torch.linspace(0, num_keys, workers + 1).long().tolist()
    spans = [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    parts = cpu_threads.run_parallel([
        (lambda lo=lo, hi=hi: _search(
            queries, keys[lo:hi], k,
            None if key_scale is None else key_scale[lo:hi],
            None if key_bias is None else key_bias[lo:hi], per_worker_chunk, numpy_gemm))
        for lo, hi in spans])
    best = None
    for (lo, _), (values, indices) in zip(spans, parts):
        best = _merge(best, (values, indices.add_(lo)), k)
    return best


def chunked_mips_topk(queries: Tensor, keys: Tensor, k: int, *,
                      key_scale: Tensor | None = None, key_bias: Tensor | None = None,
                      chunk_elements: int = DEFAULT_CHUNK_ELEMENTS) -> tuple[Tensor, Tensor]:
    """Top-k of ``(queries @ keys.T) * key_scale + key_bias`` per row, descending.

    Inputs are validated by the caller (`vmem.memory.retrieval.topk`).
    Returns float32 scores [n, k] and int64 indices [n, k].
    """
    workers = cpu_threads.worker_count()
    flops = 2.0 * queries.shape[0] * keys.shape[0] * queries.shape[1]
    if queries.device.type == 'cpu' and workers > 1 and flops >= PARALLEL_MIN_FLOPS:
        return _parallel_search(queries, keys, k, key_scale, key_bias, chunk_elements, workers)
    if queries.device.type == 'cpu' and workers == 1 and _numpy_gemm_usable(queries):
        # One thread in all: OpenBLAS on one thread has no pool to spin against torch's,
        # and its GEMM is the faster one here (e.g. 100 x 10000 x 128: 2.2 ms against
        # 2.6 ms for torch's MKL on the build machine, 2026-11-25).
        with cpu_threads.single_threaded_blas():
            return _search(queries, keys, k, key_scale, key_bias, chunk_elements, numpy_gemm=True)
    return _search(queries, keys, k, key_scale, key_bias, chunk_elements, numpy_gemm=False)


def _numpy_gemm_usable(queries: Tensor) -> bool:
    return (queries.dtype == torch.float32 and cpu_threads.openblas_controls() is not None
            and os.environ.get('VMEM_CPU_GEMM', 'numpy') == 'numpy')
