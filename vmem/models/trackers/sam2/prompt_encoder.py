"""SAM's prompt encoder: points and boxes -> sparse tokens, a mask -> a dense embedding.

Unlike the official module it is not tied to one image size: the image size (H, W) is
passed with each call, so a tracker can run at any input size divisible by 16."""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import nn

from vmem.models.layers.position_encoding import RandomFourierPositionEncoding
from vmem.models.layers.token_attention import LayerNorm2d

# point labels, as in SAM: -1 padding, 0 negative click, 1 positive click, 2/3 box corners
PAD_LABEL, NEGATIVE, POSITIVE, BOX_TOP_LEFT, BOX_BOTTOM_RIGHT = -1, 0, 1, 2, 3


class PromptEncoder(nn.Module):
    def __init__(self, *, dim: int = 256, mask_in_chans: int = 16):
        super().__init__()
        self.dim = dim
        self.pe_layer = RandomFourierPositionEncoding(dim=dim)
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, dim)
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4), nn.GELU(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans), nn.GELU(),
            nn.Conv2d(mask_in_chans, dim, kernel_size=1))
        self.no_mask_embed = nn.Embedding(1, dim)

    def dense_pe(self, embedding_size: Tuple[int, int]) -> torch.Tensor:
        """[1, dim, h, w]: the encoding of every cell of the image embedding."""
        return self.pe_layer.dense(embedding_size)[None]

    def embed_points(self, coords: torch.Tensor, labels: torch.Tensor, *,
                     image_size: Tuple[int, int], pad: bool) -> torch.Tensor:
        """[B, P, 2] pixel (x, y) and [B, P] labels -> [B, P (+1), dim]. SAM appends a padding
        point when no box follows the points."""
        coords = coords.float() + 0.5   # pixel centres
        if pad:
            coords = torch.cat([coords, coords.new_zeros(coords.shape[0], 1, 2)], dim=1)
            labels = torch.cat([labels, -labels.new_ones(labels.shape[0], 1)], dim=1)
        embedding = self.pe_layer.encode_points(coords, image_size)
        labels = labels[..., None]
        embedding = torch.where(labels == PAD_LABEL, self.not_a_point_embed.weight.expand_as(embedding),
                                embedding)
        for label, table in enumerate(self.point_embeddings):
            embedding = torch.where(labels == label, embedding + table.weight, embedding)
        return embedding

    def embed_boxes(self, boxes: torch.Tensor, *, image_size: Tuple[int, int]) -> torch.Tensor:
        """[B, 4] xyxy pixel boxes -> [B, 2, dim] corner tokens."""
        corners = (boxes.float() + 0.5).reshape(-1, 2, 2)
        embedding = self.pe_layer.encode_points(corners, image_size)
        return embedding + torch.cat([self.point_embeddings[BOX_TOP_LEFT].weight,
                                      self.point_embeddings[BOX_BOTTOM_RIGHT].weight])[None]

    def forward(self, *, image_size: Tuple[int, int], embedding_size: Tuple[int, int],
                points: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
                boxes: Optional[torch.Tensor] = None,
                masks: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """Sparse [B, N, dim] and dense [B, dim, h, w] embeddings; ``masks`` are logits
        [B, 1, 4h, 4w]."""
        batch = next((x.shape[0] for x in (points[0] if points else None, boxes, masks) if x is not None), 1)
        device = self.no_mask_embed.weight.device
        sparse = [torch.empty(batch, 0, self.dim, device=device)]
        if points is not None:
            sparse.append(self.embed_points(*points, image_size=image_size, pad=boxes is None))
        if boxes is not None:
            sparse.append(self.embed_boxes(boxes, image_size=image_size))
        if masks is not None:
            dense = self.mask_downscaling(masks)
        else:
            dense = self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(batch, -1, *embedding_size)
        return torch.cat(sparse, dim=1), dense
