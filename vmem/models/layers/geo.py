"""GEO, MAMBA's generalized enhancement operation: multi-head attention from queries to a
key set whose values are the keys themselves, then a grouped projection, residually."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from vmem.registry import MODELS


class GEOLayer(nn.Module):
    """One enhancement: ``x + proj(concat_h softmax(q_h k_h^T / sqrt(dk)) M)``, from the key
    set's :meth:`project_keys`.

    Each head attends from the queries ``x`` [n, d] to the key set ``M`` [m, d] with its own
    query/key projections (d -> dk) and reads the unprojected key features (so a head's
    output is d-wide). Queries and key set are layer-normalised first (``M`` above is the
    normalised key set): the papers start from pretrained detectors and small SGD steps,
    but a detector trained from scratch (the tiny SynthVID configs) feeds GEO features
    whose scale keeps changing, and without the norms its training diverged (gradient
    norms of 1e3-1e6 after ~800 iterations). The H outputs, concatenated to [n, H*d], go through a 1x1 projection
    with H groups (head h's d channels -> d/H output channels), which is linear, so it is
    applied to the key set *before* attending: softmax(...) (M W_h^T) equals
    (softmax(...) M) W_h^T, and costs m*d^2 + n*m*d instead of H*n*m*d + n*d^2.
    """

    def __init__(self, *, dim: int, num_heads: int, key_dim: int, init_scale: float,
                 max_attention_elements: int):
        super().__init__()
        self.dim, self.num_heads, self.key_dim = dim, num_heads, key_dim
        self.max_attention_elements = max_attention_elements
        self.query_norm = nn.LayerNorm(dim)
        self.key_norm = nn.LayerNorm(dim)
        self.query = nn.Linear(dim, num_heads * key_dim)
        self.key = nn.Linear(dim, num_heads * key_dim)
        # grouped 1x1 projection: weight[h] maps head h's d features to its d/H outputs
        self.proj_weight = nn.Parameter(torch.empty(num_heads, dim // num_heads, dim))
        self.proj_bias = nn.Parameter(torch.zeros(dim))
        # near zero, so a fresh layer is nearly the identity and a pretrained detector
        # starts from its single-frame behaviour
        nn.init.normal_(self.proj_weight, std=init_scale)

    @property
    def projected_dim(self) -> int:
        """Width of one key's projection: H*dk attention keys, then d values."""
        return self.num_heads * self.key_dim + self.dim

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """[m, d] key set -> [m, H*dk + d]: each entry's attention keys and (projected) values.

        A function of one entry and the weights only, so memories can compute it once per
        stored entry at inference instead of once per frame that reads the entry."""
        keys = self.key_norm(keys)
        # the grouped value projection as one [d, d] matmul ([H, d/H, d] -> rows head by
        # head): memories call this for every write at inference, where an einsum's
        # overhead cost more than its math
        values = F.linear(keys, self.proj_weight.reshape(self.dim, self.dim))
        return torch.cat([self.key(keys), values], dim=1)

    def forward(self, x: torch.Tensor, projected_keys: torch.Tensor) -> torch.Tensor:
        heads, key_dim = self.num_heads, self.key_dim
        m = len(projected_keys)
        k = projected_keys[:, :heads * key_dim].reshape(m, heads, key_dim).transpose(0, 1)   # [H, m, dk]
        # value of head h = keys projected by its group: [H, m, d/H]
        v = projected_keys[:, heads * key_dim:].reshape(m, heads, self.dim // heads).transpose(0, 1)
        # chunk the queries so that no [H, chunk, m] attention map exceeds the budget
        chunk = max(1, self.max_attention_elements // max(1, heads * m))
        outputs = []
        for start in range(0, len(x), chunk):
            q = self.query(self.query_norm(x[start:start + chunk]))
            q = q.view(-1, heads, key_dim).transpose(0, 1)                                # [H, c, dk]
            attended = F.scaled_dot_product_attention(q, k, v)                            # [H, c, d/H]
            outputs.append(attended.transpose(0, 1).reshape(-1, self.dim))
        attended = outputs[0] if len(outputs) == 1 else torch.cat(outputs)
        return x + attended + self.proj_bias


@MODELS.register_module()
class GEO(nn.Module):
    """A stack of ``num_layers`` enhancement layers sharing one key set.

    ``GEO(queries [n, dim], key_set [m, dim]) -> [n, dim]``. Layer l + 1 enhances the output
    of layer l against the same (unenhanced) key set. An empty key set (m = 0: a video's
    first frame, an empty memory) returns the queries unchanged. The same module serves
    the instance level (queries: RoI features) and the pixel level (queries: the H*W cells
    of a feature map).

    Args:
        dim: feature width d of queries and keys (divisible by ``num_heads``).
        num_heads: attention heads H (16 in MAMBA and Relation Networks).
        key_dim: per-head width dk of the query/key projections; default ``dim // num_heads``,
            so the projections are d -> d as in Relation Networks / SELSA.
        num_layers: stacked layers.
        init_scale: std of the output projection's initial weights (its bias starts at 0).
        max_attention_elements: queries are processed in chunks so that one attention
            map [H, chunk, m] holds at most this many elements.
    """

    def __init__(self, *, dim: int, num_heads: int = 16, key_dim: Optional[int] = None,
                 num_layers: int = 1, init_scale: float = 1e-3, max_attention_elements: int = 2 ** 24):
        super().__init__()
        for name, value in (('dim', dim), ('num_heads', num_heads), ('num_layers', num_layers),
                            ('max_attention_elements', max_attention_elements)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive int, got {value!r}')
        if dim % num_heads:
            raise ValueError(f'dim ({dim}) must be divisible by num_heads ({num_heads}): the output '
                             'projection gives each head dim / num_heads channels')
        key_dim = dim // num_heads if key_dim is None else key_dim
        if isinstance(key_dim, bool) or not isinstance(key_dim, int) or key_dim < 1:
            raise ValueError(f'key_dim must be a positive int or None, got {key_dim!r}')
        if not init_scale >= 0:
            raise ValueError(f'init_scale must be >= 0, got {init_scale!r}')
        self.dim, self.num_heads, self.key_dim = dim, num_heads, key_dim
        self.layers = nn.ModuleList(
            GEOLayer(dim=dim, num_heads=num_heads, key_dim=key_dim, init_scale=init_scale,
                     max_attention_elements=max_attention_elements)
            for _ in range(num_layers))

    @property
    def projected_dim(self) -> int:
        """Width of :meth:`project_keys`' output per key."""
        return sum(layer.projected_dim for layer in self.layers)

    def project_keys(self, key_set: torch.Tensor) -> torch.Tensor:
        """[m, dim] -> [m, projected_dim]: what every layer computes from each key. Passing
        it as ``projected_keys`` gives the same output as passing the key set."""
        self._check('key_set', key_set, self.dim)
        return torch.cat([layer.project_keys(key_set) for layer in self.layers], dim=1)

    def forward(self, queries: torch.Tensor, key_set: Optional[torch.Tensor] = None, *,
                projected_keys: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Enhance ``queries`` [n, dim] from ``key_set`` [m, dim], or from its cached
        :meth:`project_keys` (exactly one of the two)."""
        if (key_set is None) == (projected_keys is None):
            raise ValueError('GEO needs exactly one of key_set and projected_keys')
        self._check('queries', queries, self.dim)
        if projected_keys is None:
            self._check('key_set', key_set, self.dim)
            if len(key_set) == 0 or len(queries) == 0:
                return queries
            projected_keys = self.project_keys(key_set.to(queries.dtype))
        else:
            self._check('projected_keys', projected_keys, self.projected_dim)
            if len(projected_keys) == 0 or len(queries) == 0:
                return queries
            projected_keys = projected_keys.to(queries.dtype)
        start = 0
        for layer in self.layers:
            width = layer.projected_dim
            queries = layer(queries, projected_keys[:, start:start + width])
            start += width
        return queries

    @staticmethod
    def _check(name: str, tensor: torch.Tensor, width: int) -> None:
        if tensor.dim() != 2 or tensor.shape[1] != width:
            raise ValueError(f'GEO {name} must be [num, {width}], got {tuple(tensor.shape)}')

    def extra_repr(self) -> str:
        return f'dim={self.dim}, num_heads={self.num_heads}, key_dim={self.key_dim}, num_layers={len(self.layers)}'
