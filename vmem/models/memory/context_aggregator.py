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
SHORT_READS_KEY = 'short_term_reads'  # the same, for the short-term attention (nearby frames only)
POSITIONS = ('box_features', 'roi_maps')


@MODELS.register_module()
class ContextAggregator(nn.Module):
    """Enhances each image's RoI features with `ContextAttention` over its camera's
    memory (``context['camera_reads'][b]``); an image without memory (None, or no
    entries) keeps its features, so the detector is then single-frame.

    With ``short_term`` (`ContextAttention` settings), a second attention with its own
    weights reads ``context['short_term_reads']`` (the entries of nearby frames) in
    parallel; both changes are added to the features (the paper's short-term +
    long-term variant).

    At inference the entries' key/value projections are cached per camera slot and
    recomputed only for slots written since (the bank's ``write_step`` says which): a
    static bank is projected once, a live one only for its new entries. The cache is
    dropped whenever the weights may change (``train()``, loading a state dict).

    ``on`` says where in the box head it sits:
    - 'box_features' (after the second fc layer, the paper's place): queries are made from
      the features after the ReLU that follows this aggregator in the box head, the space
      the entries (box-head outputs) were stored in;
    - 'roi_maps' (straight after RoIAlign, the paper's "after the RPN" option): the
      pooled maps [K, C, S, S] are averaged over space to make the queries, and the
      attention's change to that average is added at every position of the map.

    Args: ``dim`` (box features, or the maps' channels), ``entry_dim`` (memory entries) and
    the `ContextAttention` settings.
    """

    def __init__(self, *, dim: int, entry_dim: int, bottleneck_dim: int = 2048, temperature: float = 0.01,
                 num_keys: Optional[int] = None, value_dim: Optional[int] = None, embedding: str = 'relu',
                 matched_init: bool = False, value_start: int = 0, null_key: Optional[float] = None,
                 learn_matching: bool = True, short_term: Optional[dict] = None, on: str = 'box_features'):
        super().__init__()
        if on not in POSITIONS:
            raise ValueError(f'on must be one of {POSITIONS}, got {on!r}')
        self.on = on
        settings = dict(bottleneck_dim=bottleneck_dim, temperature=temperature, num_keys=num_keys,
                        value_dim=value_dim, value_start=value_start, embedding=embedding, matched_init=matched_init,
                        null_key=null_key, learn_matching=learn_matching)
        self.attention = ContextAttention(dim=dim, entry_dim=entry_dim, **settings)
        self.short_attention = None
        if short_term is not None:
            self.short_attention = ContextAttention(dim=dim, entry_dim=entry_dim, **{**settings, **short_term})
        # per read kind: camera -> (key projections, value projections, write step of each slot)
        self._caches: Dict[str, Dict[int, Tuple[torch.Tensor, ...]]] = {CONTEXT_READS_KEY: {}, SHORT_READS_KEY: {}}

    def _clear(self) -> None:
        for cache in self._caches.values():
            cache.clear()

    def train(self, mode: bool = True):
        self._clear()
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs):
        self._clear()
        return super()._load_from_state_dict(*args, **kwargs)

    def forward(self, features: torch.Tensor, *, rois: torch.Tensor, context: Optional[dict] = None) -> torch.Tensor:
        expected = 4 if self.on == 'roi_maps' else 2
        if features.dim() != expected:
            raise ValueError(f'ContextAggregator(on={self.on!r}) takes {expected}-d RoI features, '
                             f'got shape {tuple(features.shape)}')
        if self.on == 'roi_maps':
            vectors = features.mean(dim=(2, 3))
            change = self._enhance(vectors, vectors, rois, context or {}) - vectors
            return features + change[:, :, None, None]
        return self._enhance(features, F.relu(features), rois, context or {})

    def _enhance(self, features: torch.Tensor, query_input: torch.Tensor, rois: torch.Tensor,
                 context: dict) -> torch.Tensor:
        out = features
        for key, attention in ((CONTEXT_READS_KEY, self.attention), (SHORT_READS_KEY, self.short_attention)):
            reads: List[Optional[CameraRead]] = context.get(key) or []
            if attention is None or not any(read is not None and len(read.slots) for read in reads):
                continue
            out = out + self._attend(attention, key, features, query_input, rois, reads) - features
        return out

    def _attend(self, attention: ContextAttention, key: str, features: torch.Tensor, query_input: torch.Tensor,
                rois: torch.Tensor, reads: List[Optional[CameraRead]]) -> torch.Tensor:
        counts = torch.bincount(rois[:, 0].long(), minlength=len(reads)).tolist()
        if len(counts) != len(reads):
            raise ValueError(f'RoIs of {len(counts)} images but camera memory for {len(reads)}')
        parts, start = [], 0
        for read, count in zip(reads, counts):
            part, queries = features[start:start + count], query_input[start:start + count]
            start += count
            if read is None or len(read.slots) == 0:
                parts.append(part)
            elif self.training:
                parts.append(attention(part, read.entries.to(part.device), query_input=queries))
            else:
                keys, values = self._projections(attention, self._caches[key], read, part)
                if 2 * len(read.slots) <= read.capacity:
                    # a small part of the bank (a short-term window, a young camera): gather
                    # it, rather than search and mask the whole bank
                    slots = read.slots.to(part.device)
                    projected, allowed = (keys.index_select(0, slots), values.index_select(0, slots)), None
                else:
                    projected, allowed = (keys, values), self._allowed(read, part.device)
                parts.append(attention(part, projected=projected, query_input=queries, allowed=allowed))
        return torch.cat(parts)

    @staticmethod
    def _allowed(read: CameraRead, device) -> torch.Tensor:
        allowed = torch.zeros(read.capacity, dtype=torch.bool, device=device)
        allowed[read.slots.to(device)] = True
        return allowed

    @staticmethod
    @torch.no_grad()
    def _projections(attention: ContextAttention, cache: dict, read: CameraRead, like: torch.Tensor
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The cached key and value projections of every slot of the camera's bank (two
        contiguous [capacity, bottleneck] tensors), brought up to date for the slots read
        (the caller masks the rest, or gathers the slots read when they are few)."""
        keys, values, stamps = cache.get(read.camera, (None, None, None))
        if keys is None or keys.shape[0] != read.capacity or keys.device != like.device:
            keys = like.new_zeros(read.capacity, attention.bottleneck_dim)
            values = like.new_zeros(read.capacity, attention.bottleneck_dim)
            stamps = torch.full((read.capacity,), -2, dtype=torch.long)
            cache[read.camera] = (keys, values, stamps)
        slots, steps = read.slots.cpu(), read.write_step.cpu()
        stale = stamps[slots] != steps
        if stale.any():
            rows = slots[stale]
            fresh = attention.project_entries(read.entries_at(rows).to(like))
            keys[rows.to(like.device)], values[rows.to(like.device)] = fresh.split(attention.bottleneck_dim, dim=-1)
            stamps[rows] = steps[stale]
        return keys, values
