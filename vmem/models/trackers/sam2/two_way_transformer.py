"""SAM's two-way transformer: prompt tokens and image cells attend to each other."""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn

from vmem.models.layers.token_attention import MLP, TokenAttention


class TwoWayBlock(nn.Module):
    """Token self-attention, tokens -> image, token MLP, image -> tokens; post-norm."""

    def __init__(self, *, dim: int, num_heads: int, mlp_dim: int, downsample_rate: int,
                 skip_first_layer_pe: bool):
        super().__init__()
        self.self_attn = TokenAttention(dim=dim, num_heads=num_heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn_token_to_image = TokenAttention(dim=dim, num_heads=num_heads,
                                                        downsample_rate=downsample_rate)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(in_dim=dim, hidden_dim=mlp_dim, out_dim=dim, num_layers=2)
        self.norm3 = nn.LayerNorm(dim)
        self.norm4 = nn.LayerNorm(dim)
        self.cross_attn_image_to_token = TokenAttention(dim=dim, num_heads=num_heads,
                                                        downsample_rate=downsample_rate)
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(self, tokens, image, token_pe, image_pe):
        if self.skip_first_layer_pe:   # the first block replaces the tokens (SAM)
            tokens = self.self_attn(tokens, tokens, tokens)
        else:
            q = tokens + token_pe
            tokens = tokens + self.self_attn(q, q, tokens)
        tokens = self.norm1(tokens)
        q, k = tokens + token_pe, image + image_pe
        tokens = self.norm2(tokens + self.cross_attn_token_to_image(q, k, image))
        tokens = self.norm3(tokens + self.mlp(tokens))
        q, k = tokens + token_pe, image + image_pe
        image = self.norm4(image + self.cross_attn_image_to_token(k, q, tokens))
        return tokens, image


class TwoWayTransformer(nn.Module):
    def __init__(self, *, dim: int = 256, depth: int = 2, num_heads: int = 8, mlp_dim: int = 2048,
                 downsample_rate: int = 2):
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayBlock(dim=dim, num_heads=num_heads, mlp_dim=mlp_dim, downsample_rate=downsample_rate,
                        skip_first_layer_pe=index == 0) for index in range(depth))
        self.final_attn_token_to_image = TokenAttention(dim=dim, num_heads=num_heads,
                                                        downsample_rate=downsample_rate)
        self.norm_final_attn = nn.LayerNorm(dim)

    def forward(self, image: torch.Tensor, image_pe: torch.Tensor,
                tokens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """image, image_pe [B, C, h, w]; tokens [B, N, C] -> (tokens [B, N, C], image [B, hw, C])."""
        image = image.flatten(2).transpose(1, 2)
        image_pe = image_pe.flatten(2).transpose(1, 2)
        queries = tokens
        for layer in self.layers:
            queries, image = layer(queries, image, tokens, image_pe)
        attended = self.final_attn_token_to_image(queries + tokens, image + image_pe, image)
        return self.norm_final_attn(queries + attended), image
