"""faiss-cpu flat (exact) search, used when faiss is installed and asked for."""
from __future__ import annotations

import importlib.util

import torch
from torch import Tensor


def is_available() -> bool:
    return importlib.util.find_spec('faiss') is not None


def faiss_topk(queries: Tensor, keys: Tensor, k: int, *, metric: str,
               mask: Tensor | None) -> tuple[Tensor, Tensor]:
    """Exact search with faiss' flat index; scores follow `topk`'s conventions."""
    import faiss

    if queries.device.type != 'cpu':
        raise ValueError(f"backend='faiss' runs on CPU tensors; got queries on {queries.device}")
    queries = queries.detach().float().contiguous()
    keys = keys.detach().float()
    key_ids = None
    if mask is not None:
        # faiss' ID selectors still scan every key; searching the subset is cheaper.
        key_ids = mask.nonzero().squeeze(1)
        keys = keys[key_ids]
    if metric == 'cosine':
        queries = torch.nn.functional.normalize(queries, dim=1)
        keys = torch.nn.functional.normalize(keys, dim=1)
    keys = keys.contiguous()
    index = (faiss.IndexFlatL2 if metric == 'l2' else faiss.IndexFlatIP)(keys.shape[1])
    index.add(keys.numpy())
    searchable = min(k, keys.shape[0])
    scores, indices = index.search(queries.numpy(), searchable) if searchable else (None, None)
    scores = torch.from_numpy(scores) if searchable else torch.empty(queries.shape[0], 0)
    indices = torch.from_numpy(indices) if searchable else torch.empty(
        queries.shape[0], 0, dtype=torch.long)
    if searchable < k:
        pad = k - searchable
        scores = torch.cat([scores, scores.new_full((scores.shape[0], pad), float('nan'))], 1)
        indices = torch.cat([indices, indices.new_full((indices.shape[0], pad), -1)], 1)
    if metric == 'l2':
        scores = scores.clamp_(min=0).sqrt_()
    if key_ids is not None:
        valid = indices >= 0
        indices = torch.where(valid, key_ids[indices.clamp(min=0)], indices)
    missing = indices < 0
    scores[missing] = float('inf') if metric == 'l2' else float('-inf')
    return scores, indices.long()
