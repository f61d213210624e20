"""`ContextAggregator`: Context R-CNN's attention as an aggregator of `TwoFCBoxHead`."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from vmem.models.layers.context_attention import ContextAttention
from vmem.registry import MODELS

from .camera_memory import CameraRead

CONTEXT_READS_KEY = 'camera_reads'   # context[...]: one Optional[CameraRead] per image of the batch


@MODELS.register_module()
class ContextAggregator(nn.Module):
    """Enhances each image's RoI features with `ContextAttention` over its camera's
    memory (``context['camera_reads'][b]``); an image without memory (None, or no
    entries) keeps its features, so the detector is then single-frame.

    At inference the entries' key/value projections are cached per camera slot and
    recomputed only for slots written since (the bank's ``write_step`` says which): a
    static bank is projected once, a live one only for its new entries. The cache is
    dropped whenever the weights may change (``train()``, loading a state dict).

    Queries are made from the features after the ReLU that follows this aggregator in the
    box head: the space the entries (box-head outputs) were stored in.

    Args: ``dim`` (box features), ``entry_dim`` (memory entries) and the
    `ContextAttention` settings.
    """

    def __init__(self, *, dim: int, entry_dim: int, bottleneck_dim: int = 2048, temperature: float = 0.01,
                 num_keys: Optional[int] = None, value_dim: Optional[int] = None, embedding: str = 'relu',
                 matched_init: bool = False):
        super().__init__()
        self.attention = ContextAttention(dim=dim, entry_dim=entry_dim, bottleneck_dim=bottleneck_dim,
                                          temperature=temperature, num_keys=num_keys, value_dim=value_dim,
                                          embedding=embedding, matched_init=matched_init)
        self._cache: Dict[int, Tuple[torch.Tensor, torch.Tensor]] = {}   # camera -> (projections, write steps)

    def train(self, mode: bool = True):
        self._cache.clear()
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs):
        self._cache.clear()
        return super()._load_from_state_dict(*args, **kwargs)

    def forward(self, features: torch.Tensor, *, rois: torch.Tensor, context: Optional[dict] = None) -> torch.Tensor:
        reads: List[Optional[CameraRead]] = (context or {}).get(CONTEXT_READS_KEY) or []
        if not any(read is not None and len(read.slots) for read in reads):
            return features
        counts = torch.bincount(rois[:, 0].long(), minlength=len(reads)).tolist()
        if len(counts) != len(reads):
            raise ValueError(f'RoIs of {len(counts)} images but camera memory for {len(reads)}')
        parts, start = [], 0
        for read, count in zip(reads, counts):
            part = features[start:start + count]
            start += count
            if read is None or len(read.slots) == 0:
                parts.append(part)
            elif self.training:
                parts.append(self.attention(part, read.entries.to(part.device), query_input=F.relu(part)))
            else:
                parts.append(self.attention(part, projected=self._projections(read, part), query_input=F.relu(part),
                                            allowed=self._allowed(read, part.device)))
        return torch.cat(parts)

    @staticmethod
    def _allowed(read: CameraRead, device) -> torch.Tensor:
        allowed = torch.zeros(read.capacity, dtype=torch.bool, device=device)
        allowed[read.slots.to(device)] = True
        return allowed

    @torch.no_grad()
    def _projections(self, read: CameraRead, like: torch.Tensor) -> torch.Tensor:
        """The cached projections of every slot of the camera's bank [capacity, 2 * bottleneck],
        brought up to date for the slots read (masked to them by the caller: no gather of
        the whole bank per frame)."""
        projected, stamps = self._cache.get(read.camera, (None, None))
        if projected is None or projected.shape[0] != read.capacity or projected.device != like.device:
            projected = like.new_zeros(read.capacity, 2 * self.attention.bottleneck_dim)
            stamps = torch.full((read.capacity,), -2, dtype=torch.long)
            self._cache[read.camera] = (projected, stamps)
        slots, steps = read.slots.cpu(), read.write_step.cpu()
        stale = stamps[slots] != steps
        if stale.any():
            rows = slots[stale]
            projected[rows.to(like.device)] = self.attention.project_entries(read.entries_at(rows).to(like))
            stamps[rows] = steps[stale]
        return projected
