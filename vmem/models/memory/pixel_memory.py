"""`PixelMemory`: MAMBA's pixel-level memory over the backbone feature map."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch

from vmem.models.layers import GEO
from vmem.registry import MODELS

from .key_set import check_key_set, key_projections_to_store, read_key_set
from .streams import StreamMemory


@MODELS.register_module()
class PixelMemory(StreamMemory):
    """A bank of feature-map cells (C-d vectors) taken from confident detections.

    ``enhance(feature_map)`` runs GEO from every cell of frame b's map [C, H, W] to stream
    b's key set: ``num_keys`` entries read from the bank plus the stream's transient set.
    ``write(feature_map, boxes, scores)`` then stores, per detection scoring at least
    ``write_thr``, up to ``pixels_per_box`` random cells inside it (cells whose centre lies
    in the box, and always the cell holding the box centre, so small objects count too);
    cells of detections scoring in [transient_thr, write_thr) replace the stream's
    transient set, which only the next frame reads. Stored cells are the map *before*
    enhancement.

    Args:
        dim: channels C of the feature map.
        capacity: bank slots per stream; key_set/num_keys as in `read_key_set`.
        pixels_per_box: most cells stored per detection (100 in MAMBA).
        write_thr, transient_thr: score thresholds (0.8 and 0.5 in MAMBA).
        max_transient: most cells in a transient set (default: num_keys, or capacity
            with key_set='all'); a random subset is kept beyond it.
        num_heads, key_dim, num_layers, init_scale, max_attention_elements: of the GEO.
        cache_key_projections: at inference, store each cell's GEO key projection with it
            (see `InstanceMemory`).
    """

    def __init__(self, *, dim: int, capacity: int = 20000, key_set: str = 'random',
                 num_keys: Optional[int] = 2000, pixels_per_box: int = 100, write_thr: float = 0.8,
                 transient_thr: float = 0.5, max_transient: Optional[int] = None, num_heads: int = 16,
                 key_dim: Optional[int] = None, num_layers: int = 1, init_scale: float = 1e-3,
                 max_attention_elements: int = 2 ** 24, topk_metric: str = 'cosine',
                 cache_key_projections: bool = True):
        check_key_set(key_set=key_set, num_keys=num_keys, capacity=capacity)
        if isinstance(pixels_per_box, bool) or not isinstance(pixels_per_box, int) or pixels_per_box < 1:
            raise ValueError(f'pixels_per_box must be a positive int, got {pixels_per_box!r}')
        if not 0.0 <= transient_thr <= write_thr <= 1.0:
            raise ValueError(f'need 0 <= transient_thr <= write_thr <= 1, got transient_thr={transient_thr}, '
                             f'write_thr={write_thr}')
        max_transient = (num_keys or capacity) if max_transient is None else max_transient
        if isinstance(max_transient, bool) or not isinstance(max_transient, int) or max_transient < 0:
            raise ValueError(f'max_transient must be an int >= 0, got {max_transient!r}')
        geo = GEO(dim=dim, num_heads=num_heads, key_dim=key_dim, num_layers=num_layers,
                  init_scale=init_scale, max_attention_elements=max_attention_elements)
        super().__init__(bank_cfg=dict(capacity=capacity, dim=dim, write_policy='RandomReplace',
                                       value_dim=geo.projected_dim if cache_key_projections else None,
                                       fields=dict(score='float32', frame_id='int64')))
        self.dim = dim
        self.cache_key_projections = cache_key_projections
        self.key_set, self.num_keys, self.topk_metric = key_set, num_keys, topk_metric
        self.pixels_per_box, self.write_thr, self.transient_thr = pixels_per_box, write_thr, transient_thr
        self.max_transient = max_transient
        self.geo = geo
        # per stream: cells of the last frame's uncertain detections and, when cached, their
        # key projections (plain tensors, not state)
        self.transient: List[torch.Tensor] = [self._no_cells()]
        self.transient_projected: List[Optional[torch.Tensor]] = [None]

    def _no_cells(self) -> torch.Tensor:
        return torch.zeros(0, self.dim, device=self.banks[0].device)

    def reset(self, num_streams: int = 1) -> None:
        super().reset(num_streams)
        self.transient = [self._no_cells() for _ in range(num_streams)]
        self.transient_projected = [None] * num_streams

    def _reads_cache(self) -> bool:
        return self.cache_key_projections and not self.training

    def key_set_of(self, stream: int, queries: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Stream ``stream``'s keys: a key set read from its bank, then its transient set;
        at inference with cached projections, their ``GEO.project_keys`` instead."""
        read = read_key_set(self.bank(stream), key_set=self.key_set, num_keys=self.num_keys,
                            queries=queries, metric=self.topk_metric,
                            column='values' if self._reads_cache() else 'keys')
        if not self._reads_cache():
            return torch.cat([read.keys, self.transient[stream].to(read.keys)])
        transient = self.transient_projected[stream]
        if transient is None:  # written in training mode, or nothing written yet
            transient = self.geo.project_keys(self.transient[stream].to(read.values))
        return torch.cat([read.values, transient.to(read.values)])

    def enhance(self, feature_map: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] -> [N, C, H, W]; image b reads stream b."""
        if feature_map.dim() != 4 or feature_map.shape[1] != self.dim:
            raise ValueError(f'PixelMemory expects a [N, {self.dim}, H, W] feature map, '
                             f'got {tuple(feature_map.shape)}')
        if len(feature_map) > self.num_streams:
            raise ValueError(f'a batch of {len(feature_map)} frames but only {self.num_streams} memory '
                             'streams: reset the memory with one stream per frame first')
        enhanced = []
        for stream, frame in enumerate(feature_map):
            cells = frame.flatten(1).t()                                   # [H*W, C]
            keys = self.key_set_of(stream, cells)
            out = self.geo(cells, projected_keys=keys) if self._reads_cache() else self.geo(cells, keys)
            enhanced.append(out.t().reshape(frame.shape))
        return torch.stack(enhanced)

    @torch.no_grad()
    def write(self, feature_map: torch.Tensor, boxes: Sequence[torch.Tensor], scores: Sequence[torch.Tensor],
              *, stride: Tuple[float, float], frame_ids: Sequence[int]) -> None:
        """Store cells of confident detections of frame b (boxes xyxy in input pixels,
        ``stride`` (y, x) input pixels per cell) in stream b; replace its transient set."""
        if not (len(feature_map) == len(boxes) == len(scores) == len(frame_ids)):
            raise ValueError(f'write needs one entry per frame: {len(feature_map)} maps, {len(boxes)} box '
                             f'sets, {len(scores)} score sets, {len(frame_ids)} frame ids')
        for stream, (frame, frame_boxes, frame_scores) in enumerate(zip(feature_map, boxes, scores)):
            cells = frame.flatten(1).t().float()
            # the cells of every detection above transient_thr in one pass, then split by
            # owner: confident ones to the bank, uncertain ones to the transient set
            kept = (frame_scores >= self.transient_thr).nonzero().squeeze(1)
            index, owner = cells_in_boxes(frame_boxes[kept], frame.shape[-2:], stride, self.pixels_per_box)
            owner_scores = frame_scores[kept][owner]
            confident = owner_scores >= self.write_thr
            transient = (~confident).nonzero().squeeze(1)
            if len(transient) > self.max_transient:
                transient = transient[torch.randperm(len(transient), device=index.device)[:self.max_transient]]
            confident = confident.nonzero().squeeze(1)
            # the stored and the transient cells, projected together when projections are cached
            chosen = cells[index[torch.cat([confident, transient])]]
            projected = key_projections_to_store(self.geo, chosen, cache=self.cache_key_projections,
                                                 training=self.training)
            if len(confident):
                self.bank(stream).write(chosen[:len(confident)],
                                        None if projected is None else projected[:len(confident)],
                                        score=owner_scores[confident].float(), frame_id=int(frame_ids[stream]))
            self.transient[stream] = chosen[len(confident):]
            self.transient_projected[stream] = projected[len(confident):] if self._reads_cache() else None

    def extra_repr(self) -> str:
        return (f'capacity={self.capacity}, key_set={self.key_set!r}, num_keys={self.num_keys}, '
                f'pixels_per_box={self.pixels_per_box}, write_thr={self.write_thr}, '
                f'transient_thr={self.transient_thr}')


def cells_in_boxes(boxes: torch.Tensor, size: Sequence[int], stride: Tuple[float, float],
                   per_box: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Up to ``per_box`` random cells of an [H, W] grid inside each box: flat cell indices
    and the box each came from. A cell is inside when its centre is; the cell holding the
    box centre always is."""
    height, width = int(size[0]), int(size[1])
    device = boxes.device
    if len(boxes) == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return empty, empty
    stride_y, stride_x = float(stride[0]), float(stride[1])
    ys = (torch.arange(height, device=device, dtype=boxes.dtype) + 0.5) * stride_y
    xs = (torch.arange(width, device=device, dtype=boxes.dtype) + 0.5) * stride_x
    x1, y1, x2, y2 = (boxes[:, i, None, None] for i in range(4))
    inside = ((ys[None, :, None] >= y1) & (ys[None, :, None] < y2)
              & (xs[None, None, :] >= x1) & (xs[None, None, :] < x2))        # [B, H, W]
    centre_y = (((y1 + y2) / 2) / stride_y).long().clamp(0, height - 1).flatten()
    centre_x = (((x1 + x2) / 2) / stride_x).long().clamp(0, width - 1).flatten()
    inside[torch.arange(len(boxes), device=device), centre_y, centre_x] = True
    # a random priority per inside cell; the per_box highest are the chosen ones
    priority = torch.rand(inside.shape, device=device).masked_fill_(~inside, -1.0).flatten(1)
    best = priority.topk(min(per_box, height * width), dim=1)
    chosen = best.values >= 0
    owner = torch.arange(len(boxes), device=device)[:, None].expand_as(chosen)
    return best.indices[chosen], owner[chosen]
