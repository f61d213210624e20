"""`InstanceMemory`: MAMBA's instance-level memory, an aggregator for `TwoFCBoxHead`."""
from __future__ import annotations

from typing import Optional, Union

import torch

from vmem.models.layers import GEO
from vmem.registry import MODELS

from .key_set import check_key_set, key_projections_to_store, read_key_set
from .step import STEP_KEY
from .streams import StreamMemory


@MODELS.register_module()
class InstanceMemory(StreamMemory):
    """Enhances one fc level's RoI features with GEO over a key set read from a bank of
    proposal features, and stores the features of each frame's top proposals.

    Plugged in after an fc layer of ``TwoFCBoxHead`` (one instance per fc level, each with
    its own bank and GEO), it is called as ``memory(features, rois=rois, context=context)``.
    Without a `MemoryStep` in ``context`` it is the identity (single-frame use). With one,
    frame b's RoIs (rows of ``rois`` whose batch index is b; the RoI head lists them image
    by image) read stream b's key set, and with ``step.write`` the features of its first
    ``write_topk`` RoIs, which at test time are the RPN's best proposals (they come sorted
    by objectness), are staged for writing. What is stored is the fc output *before*
    enhancement, the same space the queries live in, so memory never feeds on itself.

    Args:
        dim: fc width.
        capacity: bank slots per stream (20000 in MAMBA).
        key_set: 'random' (MAMBA), 'topk', 'score' or 'all' (see `read_key_set`).
        num_keys: key-set size (2000 in MAMBA); None with key_set='all'.
        write_topk: proposals stored per frame (75 in MAMBA).
        write_policy: 'RandomReplace' (MAMBA's random feature-wise replacement when full)
            or 'FIFO' (SELSA-style: the bank holds only the latest reference frames).
        num_heads, key_dim, num_layers, init_scale: of the GEO (see `GEO`).
        topk_metric: similarity of key_set='topk'.
        cache_key_projections: at inference, store each entry's GEO key projection with it
            (``GEO.project_keys``, computed once when written) instead of projecting the
            whole key set for every frame; costs ``geo.projected_dim`` floats per slot.
    """

    def __init__(self, *, dim: int, capacity: int = 20000, key_set: str = 'random',
                 num_keys: Optional[int] = 2000, write_topk: int = 75,
                 write_policy: Union[str, dict] = 'RandomReplace', num_heads: int = 16,
                 key_dim: Optional[int] = None, num_layers: int = 1, init_scale: float = 1e-3,
                 topk_metric: str = 'cosine', cache_key_projections: bool = True):
        check_key_set(key_set=key_set, num_keys=num_keys, capacity=capacity)
        if isinstance(write_topk, bool) or not isinstance(write_topk, int) or write_topk < 1:
            raise ValueError(f'write_topk must be a positive int, got {write_topk!r}')
        geo = GEO(dim=dim, num_heads=num_heads, key_dim=key_dim, num_layers=num_layers, init_scale=init_scale)
        super().__init__(bank_cfg=dict(capacity=capacity, dim=dim, write_policy=write_policy,
                                       value_dim=geo.projected_dim if cache_key_projections else None,
                                       fields=dict(score='float32', frame_id='int64')))
        self.key_set, self.num_keys, self.write_topk = key_set, num_keys, write_topk
        self.topk_metric = topk_metric
        self.cache_key_projections = cache_key_projections
        self.geo = geo

    def forward(self, features: torch.Tensor, *, rois: torch.Tensor,
                context: Optional[dict] = None) -> torch.Tensor:
        step = (context or {}).get(STEP_KEY)
        if step is None:
            return features
        if step.num_frames > self.num_streams:
            raise ValueError(f'a batch of {step.num_frames} frames but only {self.num_streams} memory '
                             'streams: reset the memory with one stream per frame first')
        counts = torch.bincount(rois[:, 0].long(), minlength=step.num_frames).tolist()
        enhanced, start = [], 0
        for stream, count in enumerate(counts):
            part = features[start:start + count]
            cached = self.cache_key_projections and not self.training
            read = read_key_set(self.bank(stream), key_set=self.key_set, num_keys=self.num_keys,
                                queries=part, metric=self.topk_metric,
                                column='values' if cached else 'keys')
            if cached:
                enhanced.append(self.geo(part, projected_keys=read.values))
            else:
                enhanced.append(self.geo(part, read.keys))
            if step.write:
                top = min(count, self.write_topk)
                rows = torch.arange(start, start + top, device=features.device)
                step.stage(self, stream, rows, part[:top])
            start += count
        return torch.cat(enhanced) if len(enhanced) > 1 else enhanced[0]

    @torch.no_grad()
    def write(self, stream: int, features: torch.Tensor, *, scores: torch.Tensor, frame_id: int) -> None:
        features = features.detach().float()
        values = key_projections_to_store(self.geo, features, cache=self.cache_key_projections, training=self.training)
        self.bank(stream).write(features, values, score=scores.float(), frame_id=frame_id)

    def extra_repr(self) -> str:
        return (f'capacity={self.capacity}, key_set={self.key_set!r}, num_keys={self.num_keys}, '
                f'write_topk={self.write_topk}, cache_key_projections={self.cache_key_projections}')
