"""Per-object tracking memory on the shared memory bank: SAM 2's memory maps and object
pointers, each object in its own bounded bank (`GroupedMemoryBank`, group = object id)
with the pinned + ring policy (`PinnedRecent`): prompted frames stay pinned, the other
slots hold the most recent frames. Memory on the device is therefore bounded by slots
times objects, never by video length (the official predictor keeps every frame's
memory of the video, issues #62 and #196).

At inference only: the banks' buffers hold no gradient, so training clips keep their
memory in `ClipMemory` instead (same reads).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from vmem.memory import GroupedMemoryBank

from .network import MemoryFrames

FIELDS = dict(frame_idx='int64', object_logit='float32', quality='float32')


@dataclass
class ObjectEntry:
    """One remembered frame of one object."""
    frame_idx: int
    prompted: bool
    map: torch.Tensor        # [Cm, h, w]
    pointer: torch.Tensor    # [C]
    long_term: bool = False  # retrieved from the long-term bank


def memory_frames(entries_maps: Sequence[ObjectEntry], entries_pointers: Sequence[ObjectEntry], *,
                  frame_idx: int, direction: int, pointer_horizon: int,
                  only_past_prompts: bool, long_term_age: int = 6
                  ) -> Optional[Tuple[List[int], List[int], List[torch.Tensor], List[torch.Tensor]]]:
    """Ages of the memory maps and distances of the pointers one object reads on
    ``frame_idx`` (SAM 2's selection): prompted frames (age 0; pointers only of prompts
    not in the future when ``only_past_prompts``), the other frames newest first (age 1,
    2, ...) and long-term entries (``long_term_age``, the oldest recent slot's age). None
    when the object has no memory yet."""
    if not entries_maps:
        return None
    prompted = [e for e in entries_maps if e.prompted]
    recent = sorted((e for e in entries_maps if not e.prompted and not e.long_term),
                    key=lambda e: -direction * e.frame_idx)
    long_term = [e for e in entries_maps if e.long_term]
    ages = [0] * len(prompted) + list(range(1, len(recent) + 1)) + [long_term_age] * len(long_term)
    maps = [e.map for e in prompted + recent + long_term]
    pointers, distances = [], []
    for entry in entries_pointers:
        distance = (frame_idx - entry.frame_idx) * direction
        if entry.prompted and only_past_prompts and distance < 0:
            continue
        if not entry.prompted and not 0 < distance <= pointer_horizon:
            continue
        pointers.append(entry.pointer)
        distances.append(distance)
    return ages, distances, maps, pointers


def batch_memory(entries: Sequence[Tuple[List[ObjectEntry], List[ObjectEntry]]], *, frame_idx: int,
                 direction: int, pointer_horizon: int, only_past_prompts: bool, long_term_age: int = 6,
                 device: torch.device | None = None, dtype: torch.dtype = torch.float32
                 ) -> Dict[Tuple, Tuple[List[int], MemoryFrames]]:
    """Objects' (maps, pointers) entries -> memory batches: objects whose memories have the
    same layout (ages and pointer distances; in steady tracking, all of them) form one
    `MemoryFrames`. Returns {layout: (positions of its objects, memory)}; objects with no
    memory are left out."""
    batches: Dict[Tuple, Tuple[List[int], list, list]] = {}
    for position, (map_entries, pointer_entries) in enumerate(entries):
        selected = memory_frames(map_entries, pointer_entries, frame_idx=frame_idx, direction=direction,
                                 pointer_horizon=pointer_horizon, only_past_prompts=only_past_prompts,
                                 long_term_age=long_term_age)
        if selected is None:
            continue
        ages, distances, maps, pointers = selected
        members = batches.setdefault((tuple(ages), tuple(distances)), ([], [], []))
        members[0].append(position)
        members[1].append(torch.stack(maps))
        members[2].append(torch.stack(pointers) if pointers else None)
    out = {}
    for (ages, distances), (positions, maps, pointers) in batches.items():
        maps_tensor = torch.stack(maps).to(device=device, dtype=dtype)
        pointer_tensor = (torch.stack(pointers).to(device=device, dtype=dtype) if distances else
                          maps_tensor.new_zeros(len(positions), 0, 1))
        out[(ages, distances)] = (positions, MemoryFrames(
            maps=maps_tensor, map_ages=list(ages), pointers=pointer_tensor, pointer_distances=list(distances),
            pointer_horizon=pointer_horizon))
    return out


class ObjectMemory:
    """Bank-backed memory of the objects of one video stream.

    Args:
        num_recent_maps: memory maps of unprompted frames kept per object (SAM 2: 6).
        num_recent_pointers: pointers of unprompted frames kept per object (SAM 2: 15).
        max_prompted: prompted frames kept per object; beyond it the oldest gives way
            (the official predictor keeps all of them).
        storage_device: where the banks live ('cpu' offloads GPU memory; entries move to
            the compute device when read).
        dtype: storage dtype (e.g. torch.bfloat16 halves it, as the official predictor does).
        prompted_only: remember prompted frames only (an ablation: the tracker without
            the memory of the frames it tracked).
        min_quality: remember an unprompted frame only if the object is present and its
            mask's predicted IoU is at least this (SAMURAI-style memory selection; with it,
            "recent" means the recent frames that passed).
        long_term: ``dict(capacity=64, num_retrieved=2, min_quality=0.8)``: also keep up to
            ``capacity`` good frames per object (predicted IoU >= min_quality) over the whole
            video, random replacement when full; each read adds the ``num_retrieved`` whose
            object pointers are most similar (cosine, through the shared ``topk``) to the
            object's newest pointer, read like the oldest recent frame.
    """

    def __init__(self, *, num_recent_maps: int = 6, num_recent_pointers: int = 15, max_prompted: int = 4,
                 storage_device: str | torch.device = 'cpu', dtype: torch.dtype | str = torch.float32,
                 prompted_only: bool = False, min_quality: Optional[float] = None,
                 long_term: Optional[dict] = None):
        for name, value in (('num_recent_maps', num_recent_maps), ('num_recent_pointers', num_recent_pointers),
                            ('max_prompted', max_prompted)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive int, got {value!r}')
        self.num_recent_maps, self.num_recent_pointers = num_recent_maps, num_recent_pointers
        self.max_prompted = max_prompted
        self.storage_device = torch.device(storage_device)
        self.dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
        if not isinstance(self.dtype, torch.dtype) or not self.dtype.is_floating_point:
            raise ValueError(f'dtype must be a floating point torch dtype, got {dtype!r}')
        self.prompted_only = prompted_only
        self.min_quality = min_quality
        self.long_term_cfg = None if long_term is None else {
            **dict(capacity=64, num_retrieved=2, min_quality=0.8), **long_term}
        if self.long_term_cfg is not None and set(self.long_term_cfg) != {'capacity', 'num_retrieved', 'min_quality'}:
            raise ValueError(f'long_term takes capacity, num_retrieved and min_quality, got {sorted(long_term)}')
        self.long_term: Optional[GroupedMemoryBank] = None
        self.map_shape: Optional[Tuple[int, int, int]] = None
        self.maps: Optional[GroupedMemoryBank] = None
        self.pointers: Optional[GroupedMemoryBank] = None

    def _banks(self, map_shape: Tuple[int, int, int], pointer_dim: int) -> None:
        if self.maps is not None:
            if map_shape != self.map_shape:
                raise ValueError(f'memory maps of shape {list(map_shape)} in a stream whose memory holds '
                                 f'{list(self.map_shape)}: frames changed size within a stream; '
                                 'start a new stream (reset the state) for the new size')
            return
        self.map_shape = map_shape
        policy = dict(type='PinnedRecent', max_pinned=self.max_prompted)
        if self.min_quality is not None:
            policy.update(quality_field='quality', min_quality=self.min_quality)
        common = dict(fields=FIELDS, write_policy=policy, dtype=self.dtype, persistent=False)
        map_dim = int(torch.Size(map_shape).numel())
        self.maps = GroupedMemoryBank(capacity_per_group=self.max_prompted + self.num_recent_maps,
                                      dim=map_dim, **common)
        self.pointers = GroupedMemoryBank(capacity_per_group=self.max_prompted + self.num_recent_pointers,
                                          dim=pointer_dim, **common)
        if self.long_term_cfg is not None:
            # keyed by the object pointer (what retrieval compares), the map as the value
            self.long_term = GroupedMemoryBank(
                capacity_per_group=self.long_term_cfg['capacity'], dim=pointer_dim, value_dim=map_dim,
                fields=FIELDS, write_policy='RandomReplace', dtype=self.dtype, persistent=False)

    @property
    def object_ids(self) -> List[int]:
        return [] if self.maps is None else self.maps.groups

    def write(self, object_ids: Sequence[int], *, frame_idx: int, maps: torch.Tensor, pointers: torch.Tensor,
              object_logits: torch.Tensor, prompted: bool, quality: Optional[torch.Tensor] = None) -> None:
        """Remember one frame of several objects: maps [B, Cm, h, w], pointers [B, C];
        ``quality`` [B] (predicted IoU, -1 for an absent object) gates unprompted frames."""
        if self.prompted_only and not prompted:
            return
        self._banks(tuple(maps.shape[1:]), pointers.shape[1])
        groups = torch.as_tensor(list(object_ids), dtype=torch.long)
        store = lambda x: x.detach().to(self.storage_device, self.dtype)   # noqa: E731
        quality = torch.ones(len(groups)) if quality is None else quality.detach().reshape(-1).float().cpu()
        fields = dict(frame_idx=frame_idx, object_logit=object_logits.detach().reshape(-1).float().cpu(),
                      quality=quality)
        fields = {k: v.to(self.storage_device) if isinstance(v, torch.Tensor) else v for k, v in fields.items()}
        for bank, keys in ((self.maps, maps.flatten(1)), (self.pointers, pointers)):
            bank.write(groups, store(keys), pinned=prompted, **fields)
        if self.long_term is not None and not prompted:
            good = (quality >= self.long_term_cfg['min_quality']).nonzero().squeeze(1)
            if len(good):
                self.long_term.write(groups[good], store(pointers[good]), store(maps.flatten(1)[good]),
                                     **{k: v[good.to(v.device)] if isinstance(v, torch.Tensor) else v
                                        for k, v in fields.items()})

    def entries(self, object_id: int) -> Tuple[List[ObjectEntry], List[ObjectEntry]]:
        """The object's remembered (maps, pointers), in slot order, plus the long-term
        entries retrieved for it."""
        if self.maps is None or object_id not in self.maps.groups:
            return [], []
        maps, pointers = self._read(self.maps, object_id, map_shape=self.map_shape), self._read(self.pointers, object_id)
        return maps + self._retrieve(object_id, maps, pointers), pointers

    def _retrieve(self, object_id: int, maps: List[ObjectEntry], pointers: List[ObjectEntry]) -> List[ObjectEntry]:
        """Long-term frames whose pointers are most like the newest pointer, leaving out
        frames the ring already holds."""
        if self.long_term is None or object_id not in self.long_term.groups or not pointers:
            return []
        query = max(pointers, key=lambda e: e.frame_idx).pointer.float()
        held = {e.frame_idx for e in maps}
        bank = self.long_term.bank(object_id)
        k = min(bank.size, self.long_term_cfg['num_retrieved'] + len(held))
        found = bank.topk(query[None].to(bank.keys.dtype), k, metric='cosine').indices[0]
        read = bank.gather(found[found >= 0])
        frames = read.fields['frame_idx'].tolist()
        chosen = [i for i, frame in enumerate(frames) if frame not in held][:self.long_term_cfg['num_retrieved']]
        return [ObjectEntry(frames[i], False, read.values[i].view(self.map_shape), None, long_term=True)
                for i in chosen]

    @staticmethod
    def _read(bank: GroupedMemoryBank, object_id: int, map_shape=None) -> List[ObjectEntry]:
        read = bank.read(object_id)
        frames = read.fields['frame_idx'].tolist()
        entries = []
        for i, frame in enumerate(frames):
            key = read.keys[i]
            entries.append(ObjectEntry(frame_idx=frame, prompted=bool(read.pinned[i]),
                                       map=key.view(map_shape) if map_shape else None,
                                       pointer=None if map_shape else key))
        return entries

    def read(self, object_ids: Sequence[int], *, frame_idx: int, direction: int = 1,
             pointer_horizon: int = 15, only_past_prompts: bool = True,
             device: torch.device | None = None, dtype: torch.dtype = torch.float32
             ) -> Dict[Tuple, Tuple[List[int], MemoryFrames]]:
        """Memory for ``object_ids`` on ``frame_idx``, batched (see `batch_memory`)."""
        return batch_memory([self.entries(i) for i in object_ids], frame_idx=frame_idx, direction=direction,
                            pointer_horizon=pointer_horizon, only_past_prompts=only_past_prompts,
                            long_term_age=self.num_recent_maps, device=device, dtype=dtype)

    def clear_recent(self) -> None:
        """Forget every object's unprompted frames; prompted (pinned) frames stay."""
        for grouped in (self.maps, self.pointers):
            for group in ([] if grouped is None else grouped.groups):
                bank = grouped.bank(group)
                read = bank.read()
                bank.remove(read.slots[~read.pinned])

    def remove(self, object_id: int) -> None:
        for bank in (self.maps, self.pointers, self.long_term):
            if bank is not None and str(object_id) in bank.banks:
                del bank.banks[str(object_id)]

    def nbytes(self) -> int:
        """Bytes held by the banks (keys only), for bounded-memory checks."""
        total = 0
        for bank in (self.maps, self.pointers, self.long_term):
            if bank is not None:
                total += sum(b.keys.numel() * b.keys.element_size() + (0 if b.values is None else
                             b.values.numel() * b.values.element_size()) for b in bank.banks.values())
        return total


class ClipMemory:
    """`ObjectMemory`'s reads over plain lists of tensors that keep their gradient: the
    memory of a training clip, through which the loss of later frames reaches the
    memory encoder and the earlier frames (as in SAM 2's training)."""

    def __init__(self, *, num_recent_maps: int = 6, num_recent_pointers: int = 15, max_prompted: int = 4):
        self.limits = dict(maps=num_recent_maps, pointers=num_recent_pointers)
        self.max_prompted = max_prompted
        self._entries: Dict[int, Dict[str, List[ObjectEntry]]] = {}

    @property
    def object_ids(self) -> List[int]:
        return sorted(self._entries)

    def write(self, object_ids: Sequence[int], *, frame_idx: int, maps: torch.Tensor, pointers: torch.Tensor,
              object_logits: torch.Tensor, prompted: bool, quality: Optional[torch.Tensor] = None) -> None:
        for i, object_id in enumerate(object_ids):
            lists = self._entries.setdefault(object_id, dict(maps=[], pointers=[]))
            lists['maps'].append(ObjectEntry(frame_idx, prompted, maps[i], None))
            lists['pointers'].append(ObjectEntry(frame_idx, prompted, None, pointers[i]))
            for kind, entries in lists.items():   # the same pinned + ring bound as the banks
                kept_pinned = [e for e in entries if e.prompted][-self.max_prompted:]
                kept_recent = [e for e in entries if not e.prompted][-self.limits[kind]:]
                lists[kind] = sorted(kept_pinned + kept_recent, key=lambda e: e.frame_idx)

    def entries(self, object_id: int) -> Tuple[List[ObjectEntry], List[ObjectEntry]]:
        lists = self._entries.get(object_id)
        return (list(lists['maps']), list(lists['pointers'])) if lists else ([], [])

    def read(self, object_ids: Sequence[int], *, frame_idx: int, direction: int = 1, pointer_horizon: int = 15,
             only_past_prompts: bool = True, device: torch.device | None = None,
             dtype: torch.dtype = torch.float32) -> Dict[Tuple, Tuple[List[int], MemoryFrames]]:
        return batch_memory([self.entries(i) for i in object_ids], frame_idx=frame_idx, direction=direction,
                            pointer_horizon=pointer_horizon, only_past_prompts=only_past_prompts,
                            device=device, dtype=dtype)
