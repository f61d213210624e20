"""`topk`: the one retrieval function every vmem model uses.

All metrics reduce to maximum inner product search with a per-key scale and bias, which
is all the torch and Triton backends implement:

* ``ip``:      q . k
* ``cosine``:  (q / |q|) . k * (1 / |k|)
* ``l2``:      q . k - |k|^2 / 2, the same ranking as -|q - k|^2 / 2; distances are then
  re-scored exactly from the differences of the k winners, avoiding the expansion's
  cancellation error;
* a key mask is a bias of -inf.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from . import faiss_flat
from .torch_chunked import DEFAULT_CHUNK_ELEMENTS, chunked_mips_topk

METRICS = ('ip', 'cosine', 'l2')
BACKENDS = ('auto', 'torch', 'triton', 'faiss')
PRECISIONS = ('fp32', 'tf32', 'bf16')


class TopkResult(NamedTuple):
    """``scores`` [n, k] (similarities descending; for ``l2``, distances ascending) and
    ``indices`` [n, k] into the keys; -1 where fewer than k keys were allowed."""
    scores: Tensor
    indices: Tensor


def _triton_module():
    """The Triton backend, or None when triton is not importable here."""
    try:
        from . import triton_fused
    except ImportError:
        return None
    return triton_fused


def available_backends(device: torch.device | str = 'cpu') -> list[str]:
    device = torch.device(device)
    backends = ['torch']
    if device.type == 'cuda' and _triton_module() is not None:
        backends.append('triton')
    if device.type == 'cpu' and faiss_flat.is_available():
        backends.append('faiss')
    return backends


def _check_inputs(queries, keys, k, metric, mask, backend, precision, check_finite) -> None:
    for name, tensor in (('queries', queries), ('keys', keys)):
        if not isinstance(tensor, Tensor):
            raise TypeError(f'{name} must be a torch.Tensor, got {type(tensor).__name__}')
        if tensor.ndim != 2:
            raise ValueError(f'{name} must be 2-D [num, dim], got shape {tuple(tensor.shape)}')
        if not tensor.is_floating_point():
            raise TypeError(f'{name} must be a floating-point tensor, got {tensor.dtype}')
    if queries.shape[1] != keys.shape[1]:
        raise ValueError(f'queries have dim {queries.shape[1]} but keys have dim {keys.shape[1]}')
    if queries.dtype != keys.dtype:
        raise TypeError(f'queries ({queries.dtype}) and keys ({keys.dtype}) must share a dtype')
    if queries.device != keys.device:
        raise ValueError(f'queries are on {queries.device} but keys are on {keys.device}')
    if keys.shape[0] == 0:
        raise ValueError('keys is empty: nothing to retrieve from')
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f'k must be a positive int, got {k!r}')
    if k > keys.shape[0]:
        raise ValueError(f'k={k} is larger than the number of keys ({keys.shape[0]})')
    if metric not in METRICS:
        raise ValueError(f'metric must be one of {METRICS}, got {metric!r}')
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    if mask is not None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.shape != keys.shape[:1]:
            raise ValueError(f'mask must be a bool tensor of shape [{keys.shape[0]}]')
        if mask.device != keys.device:
            raise ValueError(f'mask is on {mask.device} but keys are on {keys.device}')
    if not all_finite(queries):
        raise ValueError('queries contain NaN or Inf')
    if check_finite and not all_finite(keys):
        raise ValueError('keys contain NaN or Inf')


def all_finite(tensor: Tensor) -> bool:
    """Whether every element is finite, in one streaming pass on the common path.

    A NaN or Inf anywhere makes the sum non-finite, so a finite sum proves the tensor
    finite; ``isfinite(x).all()`` would allocate a mask as large as a bank. Only a
    non-finite sum (overflow of huge values is possible) takes the exact check.
    """
    if torch.isfinite(tensor.sum(dtype=torch.float32)):
        return True
    return bool(torch.isfinite(tensor).all())


def _pick_backend(backend: str, queries: Tensor, k: int, precision: str) -> str:
    if backend == 'auto':
        triton = _triton_module()
        if queries.device.type == 'cuda' and triton is not None and triton.supports(k):
            backend = 'triton'
        else:
            # On CPU the chunked torch path matches or beats faiss' flat index on every
            # workload of tools/benchmark/retrieval.py (README), so it is the default.
            backend = 'torch'
    if backend == 'triton':
        triton = _triton_module()
        if queries.device.type != 'cuda' and not _triton_interpreted():
            raise ValueError("backend='triton' needs CUDA tensors (or TRITON_INTERPRET=1)")
        if triton is None:
            raise ValueError("backend='triton' needs the triton package")
        if not triton.supports(k):
            raise ValueError(f"backend='triton' does not support k={k}; use backend='torch'")
    if precision != 'fp32' and backend != 'triton':
        raise ValueError(f"precision={precision!r} needs backend='triton'; the {backend} "
                         'backend computes exact fp32 scores')
    return backend


def _triton_interpreted() -> bool:
    import os
    return os.environ.get('TRITON_INTERPRET') == '1'


def _exact_l2(queries: Tensor, keys: Tensor, indices: Tensor,
              chunk_elements: int) -> Tensor:
    """|q_i - keys[indices[i, j]]| computed from differences, in bounded chunks."""
    num_queries, k = indices.shape
    rows = max(1, chunk_elements // max(1, k * keys.shape[1]))
    distances = torch.empty(num_queries, k, dtype=torch.float32, device=queries.device)
    for start in range(0, num_queries, rows):
        idx = indices[start:start + rows]
        neighbours = keys[idx.clamp(min=0)].float()
        diff = neighbours - queries[start:start + rows, None, :].float()
        distances[start:start + rows] = torch.linalg.vector_norm(diff, dim=-1)
    return distances


@torch.no_grad()
def topk(queries: Tensor, keys: Tensor, k: int, *, metric: str = 'ip',
         mask: Tensor | None = None, backend: str = 'auto', precision: str = 'fp32',
         chunk_elements: int = DEFAULT_CHUNK_ELEMENTS, check_finite: bool = True) -> TopkResult:
    """The ``k`` best keys for each query.

    Args:
        queries: [n, d] floating tensor.
        keys: [N, d] tensor of the same dtype and device.
        k: number of neighbours, 1 <= k <= N.
        metric: ``'ip'`` (inner product), ``'cosine'`` or ``'l2'`` (Euclidean distance,
            returned ascending).
        mask: optional bool [N]; keys where it is False are never returned. When fewer
            than k keys are allowed, the remaining slots hold index -1 and score -inf
            (+inf for l2).
        backend: ``'auto'`` (Triton on CUDA, chunked torch otherwise), ``'torch'``,
            ``'triton'`` or ``'faiss'`` (CPU, when faiss is installed).
        precision: ``'fp32'`` (exact); ``'tf32'``/``'bf16'`` select candidates in reduced
            precision and re-score them exactly (Triton only).
        chunk_elements: most scores the torch backend holds at once (memory bound).
        check_finite: verify keys are finite (a bank that validated its writes skips it).
    """
    _check_inputs(queries, keys, k, metric, mask, backend, precision, check_finite)
    if chunk_elements < 1:
        raise ValueError(f'chunk_elements must be positive, got {chunk_elements}')
    backend = _pick_backend(backend, queries, k, precision)
    queries, keys = queries.detach(), keys.detach()
    num_queries = queries.shape[0]
    if num_queries == 0:
        return TopkResult(queries.new_empty(0, k, dtype=torch.float32),
                          torch.empty(0, k, dtype=torch.long, device=queries.device))
    if backend == 'faiss':
        return TopkResult(*faiss_flat.faiss_topk(queries, keys, k, metric=metric, mask=mask))

    search_queries, key_scale, key_bias = queries.contiguous(), None, None
    if metric == 'cosine':
        search_queries = F.normalize(search_queries, dim=1)
        key_scale = torch.linalg.vector_norm(keys, dim=1, dtype=torch.float32)
        key_scale = key_scale.clamp_(min=1e-12).reciprocal_()
    elif metric == 'l2':
        key_bias = torch.linalg.vector_norm(keys, dim=1, dtype=torch.float32).square_().mul_(-0.5)
    if mask is not None:
        blocked = torch.zeros(keys.shape[0], dtype=torch.float32, device=keys.device)
        blocked.masked_fill_(~mask, -math.inf)
        key_bias = blocked if key_bias is None else key_bias.add_(blocked)

    if backend == 'triton':
        scores, indices = _triton_module().fused_mips_topk(
            search_queries, keys.contiguous(), k, key_scale=key_scale, key_bias=key_bias,
            precision=precision)
    else:
        scores, indices = chunked_mips_topk(search_queries, keys.contiguous(), k,
                                            key_scale=key_scale, key_bias=key_bias,
                                            chunk_elements=chunk_elements)
    missing = torch.isneginf(scores)
    if metric == 'l2':
        scores = _exact_l2(queries, keys, indices, chunk_elements)
        scores, order = scores.masked_fill_(missing, math.inf).sort(dim=1)
        indices, missing = indices.gather(1, order), missing.gather(1, order)
    if missing.any():
        indices = indices.masked_fill(missing, -1)
    return TopkResult(scores, indices)
