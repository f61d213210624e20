"""Context R-CNN's attention block: box features attend to a camera's memory entries."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from vmem.memory import topk


class ContextAttention(nn.Module):
    """``features + out(softmax(q k^T / temperature) v)`` (Beery et al., CVPR 2020).

    Queries come from the box features [Q, dim], keys and values from memory entries
    [N, entry_dim]; each goes through its own linear layer to ``bottleneck_dim`` (and a
    ReLU, see ``embedding``) and is L2-normalised, so the logits are cosines and the temperature alone sets how peaked
    the attention is. The output projection starts at zero: before training, the block
    is the identity and a detector it is added to keeps its outputs.

    ``num_keys``: None attends to every entry; k attends to each query's k most similar
    entries only (exact top-k of the same logits, through the shared `vmem.memory.topk`):
    the softmax and the weighted sum then cost k per query, not the bank size (the search
    itself still reads every key). ``value_dim``: values are made from ``value_dim``
    numbers of each entry only, from ``value_start`` on (e.g. their features, leaving box
    and time to the keys, which use the whole entry); None: the whole entry.

    ``embedding``: 'relu' (linear + ReLU, then L2 norm, as the paper) or 'linear' (no
    ReLU). ``matched_init``: the key projection of the entries' first ``dim`` numbers
    starts equal to the query projection, and the rest of it at zero; with 'linear', a
    random projection keeps cosines roughly as they are, so before any training a query
    already attends to the entries whose features are most like its own (box features
    of the same object seen before) instead of to random ones.

    ``learn_matching=False`` keeps the query and key projections as initialised (they do
    not train): with ``matched_init``, a RoI keeps attending to the entries whose features
    are like its own, and training changes only what it takes from them.

    ``null_key``: None, or a cosine: a learned 'nothing' option joins each query's softmax
    with logit ``null_key / temperature`` (learned from there) and a zero value, so a RoI
    whose best entries are less similar than that takes less from memory instead of the
    full weighted mean of poor matches (the softmax alone always adds a whole mean).
    """

    def __init__(self, *, dim: int, entry_dim: int, bottleneck_dim: int = 2048, temperature: float = 0.01,
                 num_keys: Optional[int] = None, value_dim: Optional[int] = None, embedding: str = 'relu',
                 matched_init: bool = False, value_start: int = 0, null_key: Optional[float] = None,
                 learn_matching: bool = True):
        super().__init__()
        for name, value in (('dim', dim), ('entry_dim', entry_dim), ('bottleneck_dim', bottleneck_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive int, got {value!r}')
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature!r}')
        if num_keys is not None and (isinstance(num_keys, bool) or not isinstance(num_keys, int) or num_keys < 1):
            raise ValueError(f'num_keys must be a positive int or None (attend to all), got {num_keys!r}')
        if isinstance(value_start, bool) or not isinstance(value_start, int) or not 0 <= value_start < entry_dim:
            raise ValueError(f'value_start must be an int in [0, entry_dim={entry_dim}), got {value_start!r}')
        value_dim = entry_dim - value_start if value_dim is None else value_dim
        if isinstance(value_dim, bool) or not isinstance(value_dim, int) or \
                not 1 <= value_dim <= entry_dim - value_start:
            raise ValueError(f'value_dim must be an int in [1, entry_dim - value_start = {entry_dim - value_start}] '
                             f'or None, got {value_dim!r}')
        if embedding not in ('relu', 'linear'):
            raise ValueError(f"embedding must be 'relu' or 'linear', got {embedding!r}")
        if null_key is not None and (isinstance(null_key, bool) or not isinstance(null_key, (int, float))
                                     or not -1 <= null_key <= 1):
            raise ValueError(f'null_key must be a cosine in [-1, 1] or None, got {null_key!r}')
        if matched_init and entry_dim < dim:
            raise ValueError(f'matched_init needs entries that start with {dim} features, got entry_dim={entry_dim}')
        self.embedding = embedding
        self.dim, self.entry_dim, self.bottleneck_dim = dim, entry_dim, bottleneck_dim
        self.temperature, self.num_keys, self.value_dim = temperature, num_keys, value_dim
        self.value_start = value_start
        self.query = nn.Linear(dim, bottleneck_dim)
        self.key = nn.Linear(entry_dim, bottleneck_dim)
        self.value = nn.Linear(value_dim, bottleneck_dim)
        self.out = nn.Linear(bottleneck_dim, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.null_key = None if null_key is None else nn.Parameter(torch.tensor(float(null_key)))
        self.learn_matching = bool(learn_matching)
        for layer in (self.query, self.key):
            layer.requires_grad_(self.learn_matching)
        if matched_init:
            with torch.no_grad():
                self.key.weight.zero_()
                self.key.weight[:, :dim] = self.query.weight
                self.key.bias.copy_(self.query.bias)

    def _embed(self, layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        projected = layer(x)
        return F.normalize(F.relu(projected) if self.embedding == 'relu' else projected, dim=-1)

    def project_entries(self, entries: torch.Tensor) -> torch.Tensor:
        """Memory entries [N, entry_dim] -> their keys and values side by side [N, 2 * bottleneck]
        (what an inference cache stores: they depend only on the entry and the weights)."""
        value_part = entries[:, self.value_start:self.value_start + self.value_dim]
        return torch.cat([self._embed(self.key, entries), self._embed(self.value, value_part)], dim=-1)

    def forward(self, features: torch.Tensor, entries: Optional[torch.Tensor] = None, *,
                projected: Optional[torch.Tensor] = None, allowed: Optional[torch.Tensor] = None,
                query_input: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``features`` [Q, dim] enhanced by memory ``entries`` [N, entry_dim] (or their
        ``projected`` keys/values from `project_entries`, side by side or as a (keys, values)
        pair of contiguous tensors, which retrieval reads faster); ``allowed`` (bool [N]) masks
        entries out; ``query_input`` (default: ``features``) is what the queries are made
        from. Nothing to attend to: ``features`` come back unchanged."""
        if projected is None:
            if entries is None or entries.shape[0] == 0:
                return features
            if entries.shape[-1] != self.entry_dim:
                raise ValueError(f'memory entries have {entries.shape[-1]} features, the attention '
                                 f'expects {self.entry_dim}')
            projected = self.project_entries(entries.to(features.dtype))
        keys, values = projected if isinstance(projected, tuple) else projected.split(self.bottleneck_dim, dim=-1)
        num_allowed = keys.shape[0] if allowed is None else int(allowed.sum())
        if num_allowed == 0 or features.shape[0] == 0:
            return features
        if allowed is not None and num_allowed == keys.shape[0]:
            allowed = None   # nothing to mask: the unmasked paths are cheaper
        queries = self._embed(self.query, features if query_input is None else query_input)
        if self.num_keys is None or self.num_keys >= num_allowed:
            cosines = queries @ keys.t()
            if allowed is not None:
                cosines = cosines.masked_fill(~allowed, float('-inf'))
            return features + self.out(self._weights(cosines) @ values)
        return features + self.out(self._sparse(queries, keys, values, allowed))

    def _sparse(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                allowed: Optional[torch.Tensor]) -> torch.Tensor:
        with torch.no_grad():   # which keys: a selection, not differentiated
            # keys are this block's normalised projections of bank entries, which the bank
            # checked for NaN/Inf when they were written: no need to scan them every frame
            found = topk(queries.detach(), keys.detach(), self.num_keys, metric='ip', mask=allowed,
                         check_finite=False)
        valid = found.indices >= 0                                                              # [Q, k]
        rows = found.indices.clamp(min=0).flatten()
        shape = (*found.indices.shape, -1)
        if torch.is_grad_enabled() and (queries.requires_grad or keys.requires_grad):
            # index_select gathers whole rows, several times faster than advanced indexing here
            logits = torch.bmm(keys.index_select(0, rows).view(shape), queries[:, :, None])[..., 0]
        else:   # nothing to differentiate: the search's scores are these logits already
            logits = found.scores.to(queries.dtype)
        weights = self._weights(logits.masked_fill(~valid, float('-inf')))
        return torch.bmm(weights[:, None, :], values.index_select(0, rows).view(shape))[:, 0]

    def _weights(self, cosines: torch.Tensor) -> torch.Tensor:
        """Attention weights [Q, N] from cosines [Q, N] (-inf: masked); with ``null_key``
        the 'nothing' option takes its share and the rows sum to less than one."""
        if self.null_key is None:
            return torch.softmax(cosines / self.temperature, dim=-1)
        null = self.null_key.to(cosines.dtype).expand(cosines.shape[0], 1)
        return torch.softmax(torch.cat([cosines, null], dim=-1) / self.temperature, dim=-1)[:, :-1]

    def extra_repr(self) -> str:
        return (f'dim={self.dim}, entry_dim={self.entry_dim}, bottleneck_dim={self.bottleneck_dim}, '
                f'temperature={self.temperature}, num_keys={self.num_keys}, value_dim={self.value_dim}, '
                f'value_start={self.value_start}, embedding={self.embedding!r}, '
                f'null_key={None if self.null_key is None else round(float(self.null_key), 3)}, '
                f'learn_matching={self.learn_matching}')
