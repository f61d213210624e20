"""Attention blocks of SAM-style models, with the parameter names of the official code
(``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``; ``layers.N`` in MLPs) so that official
checkpoints load without renaming."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .position_encoding import AxialRotaryEncoding


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of a [B, C, H, W] map (ConvNeXt / SAM)."""

    def __init__(self, num_channels: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class MLP(nn.Module):
    """``num_layers`` linear layers with ReLU between them (none after the last)."""

    def __init__(self, *, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int,
                 sigmoid_output: bool = False):
        super().__init__()
        widths = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.sigmoid_output = sigmoid_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return torch.sigmoid(x) if self.sigmoid_output else x


class TokenAttention(nn.Module):
    """Multi-head attention [B, Nq, C] x [B, Nk, Ck] -> [B, Nq, C], with an optional
    internal width ``C / downsample_rate`` (SAM's cheaper token <-> image attention)."""

    def __init__(self, *, dim: int, num_heads: int, downsample_rate: int = 1,
                 kv_in_dim: Optional[int] = None, dropout: float = 0.0):
        super().__init__()
        internal = dim // downsample_rate
        if internal % num_heads:
            raise ValueError(f'num_heads ({num_heads}) must divide the attention width ({internal})')
        kv_in_dim = dim if kv_in_dim is None else kv_in_dim
        self.num_heads, self.internal_dim, self.dropout = num_heads, internal, dropout
        self.q_proj = nn.Linear(dim, internal)
        self.k_proj = nn.Linear(kv_in_dim, internal)
        self.v_proj = nn.Linear(kv_in_dim, internal)
        self.out_proj = nn.Linear(internal, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)   # [B, heads, N, c]

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        dropout = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        return self.out_proj(out.transpose(1, 2).flatten(2))

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self._attend(self._heads(self.q_proj(q)), self._heads(self.k_proj(k)),
                            self._heads(self.v_proj(v)))


class RoPETokenAttention(TokenAttention):
    """`TokenAttention` whose queries (an H x W grid) and keys (whole grids of the same
    size, then ``num_k_exclude_rope`` tokens off the grid) get axial RoPE after projection."""

    def __init__(self, *, dim: int, num_heads: int, downsample_rate: int = 1,
                 kv_in_dim: Optional[int] = None, dropout: float = 0.0, rope_theta: float = 10000.0):
        super().__init__(dim=dim, num_heads=num_heads, downsample_rate=downsample_rate,
                         kv_in_dim=kv_in_dim, dropout=dropout)
        self.rope = AxialRotaryEncoding(head_dim=self.internal_dim // num_heads, theta=rope_theta)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, size: Tuple[int, int],
                num_k_exclude_rope: int = 0) -> torch.Tensor:
        q = self.rope.rotate(self._heads(self.q_proj(q)), size)
        k = self._heads(self.k_proj(k))
        if k.shape[-2] > num_k_exclude_rope:
            k = self.rope.rotate(k, size, num_unrotated=num_k_exclude_rope)
        return self._attend(q, k, self._heads(self.v_proj(v)))
