"""Choosing the light-weight key set a frame attends to, from a memory bank."""
from __future__ import annotations

from typing import Optional

import torch

from vmem.memory import MemoryBank, MemoryRead

KEY_SETS = ('random', 'topk', 'score', 'all')


def check_key_set(*, key_set: str, num_keys: Optional[int], capacity: int) -> None:
    """Raise ValueError for a key-set config that cannot work with a bank of ``capacity``."""
    if key_set not in KEY_SETS:
        raise ValueError(f'key_set must be one of {KEY_SETS}, got {key_set!r}')
    if key_set == 'all':
        if num_keys is not None:
            raise ValueError("num_keys must be None with key_set='all' (every stored entry is a key)")
        return
    if isinstance(num_keys, bool) or not isinstance(num_keys, int) or num_keys < 1:
        raise ValueError(f'num_keys must be a positive int with key_set={key_set!r}, got {num_keys!r}')
    if num_keys > capacity:
        raise ValueError(f'num_keys ({num_keys}) exceeds the memory capacity ({capacity}): the key set '
                         'is read from the bank, so it cannot be larger than it')


def read_key_set(bank: MemoryBank, *, key_set: str, num_keys: Optional[int],
                 queries: Optional[torch.Tensor] = None, metric: str = 'cosine',
                 column: str = 'keys') -> MemoryRead:
    """The key set's entries: ``.keys`` [m, dim] (m <= num_keys; m = 0 for an empty bank)
    or, with ``column='values'`` in banks that cache them, only their ``.values`` (see
    `key_projections_to_store`).

    - ``'random'``: ``num_keys`` random entries (MAMBA's default).
    - ``'score'``: the ``num_keys`` entries with the highest ``score`` field.
    - ``'all'``: every stored entry (SELSA-style: the bank holds only the references).
    - ``'topk'``: each of the frame's n queries retrieves its ``max(1, num_keys // n)``
      nearest entries (``metric``) through the bank's ``topk``; of the union, the
      ``num_keys`` entries retrieved by the most queries are kept.
    """
    if column not in ('keys', 'values'):
        raise ValueError(f"column must be 'keys' or 'values', got {column!r}")
    columns = (column,)
    if bank.size == 0 or key_set == 'all':  # an empty read gives a [0, dim] key set
        return bank.read(columns=columns)
    if key_set == 'random':
        return bank.sample(num_keys, columns=columns)
    if key_set == 'score':
        return bank.rank('score', num_keys, columns=columns)
    if key_set != 'topk':
        raise ValueError(f'key_set must be one of {KEY_SETS}, got {key_set!r}')
    if queries is None or len(queries) == 0:
        return bank.gather(torch.zeros(0, dtype=torch.long, device=bank.device), columns)
    per_query = max(1, num_keys // len(queries))
    # the memories keep float32 banks; queries may be half precision under autocast
    found = bank.topk(queries.detach().float(), per_query, metric=metric).indices.flatten()
    slots, hits = found[found >= 0].unique(return_counts=True)
    if len(slots) > num_keys:
        slots = slots[hits.topk(num_keys).indices]
    return bank.gather(slots, columns)


def key_projections_to_store(geo, features: torch.Tensor, *, cache: bool, training: bool) -> Optional[torch.Tensor]:
    """The bank values to write with ``features``: their ``geo.project_keys`` at inference,
    so frames reading them skip that work (None when the bank caches nothing).

    In training the weights change every step and the gradient must flow through the
    projection, so reads project afresh and what is stored (zeros) is never read; memory
    is reset between training steps and at every new video, so no stream mixes the two."""
    if not cache:
        return None
    if training:
        return features.new_zeros(len(features), geo.projected_dim)
    return geo.project_keys(features)
