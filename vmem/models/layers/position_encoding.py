"""Position encodings of the SAM 2-style tracker, numerically those of the official code.

- `SinePositionEncoding2d`: DETR's normalised 2-D sine encoding of a feature map (the
  image encoder's neck and the memory encoder).
- `RandomFourierPositionEncoding`: SAM's Gaussian random Fourier features of normalised
  (x, y) coordinates (prompt points, box corners, and the dense map the mask decoder reads).
- `sine_encoding_1d`: the transformer's 1-D sine encoding (temporal distance of object
  pointers).
- `AxialRotaryEncoding`: 2-D axial RoPE for memory attention, written with real sin/cos
  so that it exports (ONNX / TorchScript have no complex tensors) and works on
  non-square feature maps.
"""
from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import nn


class SinePositionEncoding2d(nn.Module):
    """[B, C, H, W] -> [B, dim, H, W]: for rows then columns, ``dim / 2`` channels of
    interleaved sin/cos of the position normalised to (0, 2*pi]. Cached per (H, W)."""

    def __init__(self, *, dim: int, temperature: float = 10000.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f'SinePositionEncoding2d needs an even dim, got {dim}')
        self.dim, self.temperature = dim, temperature
        self._cache: dict = {}

    def _axis(self, positions: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        exponent = 2 * (torch.arange(half, dtype=torch.float32, device=positions.device) // 2) / half
        angles = positions[:, None] / self.temperature ** exponent
        # even channels sin, odd channels cos, interleaved
        return torch.stack((angles[:, 0::2].sin(), angles[:, 1::2].cos()), dim=2).flatten(1)

    @torch.no_grad()
    def encode_size(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """The [dim, H, W] encoding of an H x W map."""
        key = (height, width, str(device))
        if key not in self._cache:
            eps, scale = 1e-6, 2 * math.pi
            rows = torch.arange(1, height + 1, dtype=torch.float32, device=device) / (height + eps) * scale
            cols = torch.arange(1, width + 1, dtype=torch.float32, device=device) / (width + eps) * scale
            by_row, by_col = self._axis(rows), self._axis(cols)          # [H, dim/2], [W, dim/2]
            encoding = torch.cat([by_row[:, None, :].expand(height, width, -1),
                                  by_col[None, :, :].expand(height, width, -1)], dim=2)
            self._cache[key] = encoding.permute(2, 0, 1).contiguous()
        return self._cache[key]

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = feature_map.shape
        encoding = self.encode_size(height, width, feature_map.device)
        return encoding.to(feature_map.dtype)[None].expand(batch, -1, -1, -1)


class RandomFourierPositionEncoding(nn.Module):
    """SAM's encoding of points in [0, 1]^2: ``[sin(2 pi (2p - 1) G), cos(...)]`` with a
    fixed Gaussian matrix G [2, dim / 2] (a buffer, so checkpoints carry it)."""

    def __init__(self, *, dim: int, scale: float = 1.0):
        super().__init__()
        if dim % 2:
            raise ValueError(f'RandomFourierPositionEncoding needs an even dim, got {dim}')
        self.register_buffer('positional_encoding_gaussian_matrix', scale * torch.randn(2, dim // 2))

    def encode_normalized(self, coords: torch.Tensor) -> torch.Tensor:
        """[..., 2] (x, y) in [0, 1] -> [..., dim]."""
        projected = (2 * coords - 1) @ self.positional_encoding_gaussian_matrix
        projected = 2 * math.pi * projected
        return torch.cat([projected.sin(), projected.cos()], dim=-1)

    def encode_points(self, points: torch.Tensor, image_size: Tuple[int, int]) -> torch.Tensor:
        """[..., 2] pixel (x, y) in an image of ``image_size`` (H, W) -> [..., dim]."""
        height, width = image_size
        normalised = torch.stack([points[..., 0] / width, points[..., 1] / height], dim=-1)
        return self.encode_normalized(normalised.float())

    def dense(self, size: Tuple[int, int]) -> torch.Tensor:
        """[dim, H, W]: the encoding of every cell centre of an H x W grid."""
        height, width = size
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(height, dtype=torch.float32, device=device) + 0.5) / height
        xs = (torch.arange(width, dtype=torch.float32, device=device) + 0.5) / width
        grid = torch.stack([xs[None, :].expand(height, width), ys[:, None].expand(height, width)], dim=-1)
        return self.encode_normalized(grid).permute(2, 0, 1)


def sine_encoding_1d(positions: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """[...] positions -> [..., dim]: sin of dim / 2 frequencies, then their cos."""
    half = dim // 2
    exponent = 2 * (torch.arange(half, dtype=torch.float32, device=positions.device) // 2) / half
    angles = positions.float()[..., None] / temperature ** exponent
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class AxialRotaryEncoding(nn.Module):
    """Rotary position encoding over a 2-D grid of tokens (row-major, W fastest).

    A head of width d is split into d / 2 pairs of channels (2i, 2i + 1); the first d / 4
    pairs rotate by the token's column times frequency f_i, the last d / 4 by its row
    times f_i, with f_i = theta^(-4i / d). A query and a key then attend according to
    their relative offset. Keys may hold several grids of the same size one after
    another (memories of past frames), each rotated like the queries' grid; trailing
    keys that are not on a grid (object pointers) are left as they are.
    """

    def __init__(self, *, head_dim: int, theta: float = 10000.0):
        super().__init__()
        if head_dim % 4:
            raise ValueError(f'axial RoPE needs a head width divisible by 4, got {head_dim}')
        self.head_dim, self.theta = head_dim, theta
        self._cache: dict = {}

    def _tables(self, height: int, width: int, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        """[HW, d] factors of one grid: the cosine of each channel's pair, and the sine
        signed for the channel it multiplies (-sin for the first of a pair, +sin for the
        second), so a rotation is ``x * cos + swap_pairs(x) * signed_sin``."""
        key = (height, width, str(device))
        if key not in self._cache:
            quarter = self.head_dim // 4
            freqs = 1.0 / self.theta ** (torch.arange(0, self.head_dim, 4, device=device)[:quarter].float()
                                         / self.head_dim)
            index = torch.arange(height * width, device=device)
            cols, rows = (index % width).float(), torch.div(index, width, rounding_mode='floor').float()
            angles = torch.cat([cols[:, None] * freqs, rows[:, None] * freqs], dim=1)  # [HW, d/2]
            signs = torch.tensor([-1.0, 1.0], device=device).repeat(self.head_dim // 2)
            self._cache[key] = (angles.cos().repeat_interleave(2, dim=-1),
                                angles.sin().repeat_interleave(2, dim=-1) * signs)
        return self._cache[key]

    def rotate(self, x: torch.Tensor, size: Tuple[int, int], *, num_unrotated: int = 0) -> torch.Tensor:
        """Rotate [..., n * H * W + num_unrotated, d] tokens (n grids of ``size``, then
        ``num_unrotated`` tokens left as they are); float32 arithmetic, ``x``'s dtype out."""
        height, width = size
        cells = height * width
        on_grid = x.shape[-2] - num_unrotated
        if num_unrotated < 0 or on_grid % cells:
            raise ValueError(f'{on_grid} tokens (of {x.shape[-2]}, {num_unrotated} unrotated) are not whole '
                             f'{height}x{width} grids')
        cos, signed_sin = self._tables(height, width, x.device)
        repeats = on_grid // cells
        if repeats != 1 or num_unrotated:
            # unrotated tokens: cos 1 and sin 0 leave them exactly as they are, and the whole
            # key set rotates in one pass instead of being split and concatenated
            cos = torch.cat([cos.repeat(repeats, 1), cos.new_ones(num_unrotated, self.head_dim)])
            signed_sin = torch.cat([signed_sin.repeat(repeats, 1), signed_sin.new_zeros(num_unrotated, self.head_dim)])
        values = x.float()
        swapped = values.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)   # (x0, x1) -> (x1, x0) in each pair
        return torch.addcmul(values * cos, swapped, signed_sin).to(x.dtype)
