"""SAM 2's memory attention: the current frame's stride-16 cells self-attend, then
cross-attend to the memory (past frames' memory maps, then object pointers), with 2-D
axial RoPE on both (`RoPETokenAttention`); pre-norm layers and a final LayerNorm."""
from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F
from torch import nn

from vmem.models.layers.token_attention import RoPETokenAttention


class MemoryAttentionLayer(nn.Module):
    def __init__(self, *, dim: int = 256, memory_dim: int = 64, num_heads: int = 1,
                 dim_feedforward: int = 2048, dropout: float = 0.1, rope_theta: float = 10000.0):
        super().__init__()
        self.self_attn = RoPETokenAttention(dim=dim, num_heads=num_heads, dropout=dropout, rope_theta=rope_theta)
        self.cross_attn_image = RoPETokenAttention(dim=dim, num_heads=num_heads, dropout=dropout,
                                                   kv_in_dim=memory_dim, rope_theta=rope_theta)
        self.linear1 = nn.Linear(dim, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, dim)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)
        self.dropout1, self.dropout2, self.dropout3 = nn.Dropout(dropout), nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor, *,
                size: Tuple[int, int], num_pointer_tokens: int) -> torch.Tensor:
        y = self.norm1(x)
        x = x + self.dropout1(self.self_attn(y, y, y, size=size))
        y = self.norm2(x)
        # position enters the keys additively as well as by RoPE (the official setting)
        x = x + self.dropout2(self.cross_attn_image(y, memory + memory_pos, memory, size=size,
                                                    num_k_exclude_rope=num_pointer_tokens))
        y = self.norm3(x)
        return x + self.dropout3(self.linear2(self.dropout(F.relu(self.linear1(y)))))


class MemoryAttention(nn.Module):
    def __init__(self, *, dim: int = 256, memory_dim: int = 64, num_layers: int = 4, num_heads: int = 1,
                 dim_feedforward: int = 2048, dropout: float = 0.1, rope_theta: float = 10000.0):
        super().__init__()
        self.layers = nn.ModuleList(
            MemoryAttentionLayer(dim=dim, memory_dim=memory_dim, num_heads=num_heads,
                                 dim_feedforward=dim_feedforward, dropout=dropout, rope_theta=rope_theta)
            for _ in range(num_layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, x_pos: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor,
                *, size: Tuple[int, int], num_pointer_tokens: int = 0) -> torch.Tensor:
        """x, x_pos [B, hw, C]; memory, memory_pos [B, M, Cm] (M = frames * hw + pointer
        tokens) -> [B, hw, C]."""
        x = x + 0.1 * x_pos
        for layer in self.layers:
            x = layer(x, memory, memory_pos, size=size, num_pointer_tokens=num_pointer_tokens)
        return self.norm(x)
