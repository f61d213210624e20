"""`MemoryBank`: fixed-capacity storage of keys, optional values and metadata fields.

Every vmem model keeps its memory in one of these and talks to it only through
``write`` / reads / ``topk``. Slots are preallocated, so memory is bounded by the
capacity whatever the video length. Which slot a new entry takes is the write policy's
decision (`vmem.memory.policies`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Collection, Mapping

import torch
from torch import Tensor, nn

from ..registry import MEMORY_BANKS
from .fields import FieldSpec, parse_fields
from .policies import WritePolicy, build_write_policy
from .retrieval import TopkResult, topk


READ_COLUMNS = ('keys', 'values', 'fields', 'pinned', 'write_step')


@dataclass
class MemoryRead:
    """Entries read from a bank: ``keys`` [m, d], ``values`` [m, dv] or None, ``fields``
    by name [m, ...], ``slots`` [m] (where they live), ``pinned`` [m], ``write_step`` [m].
    A read asked for some ``columns`` only leaves the others None."""
    keys: Tensor | None
    values: Tensor | None
    fields: dict[str, Tensor] | None
    slots: Tensor
    pinned: Tensor | None
    write_step: Tensor | None

    def __len__(self) -> int:
        return self.slots.shape[0]


def _all_finite(tensor: Tensor) -> bool:
    # A NaN or Inf entry makes the sum non-finite, so a finite sum (one reduction, the
    # common case) settles it; only a non-finite sum, which an overflow of large finite
    # entries can also give, needs the entry-wise check.
    return bool(torch.isfinite(tensor.sum())) or bool(torch.isfinite(tensor).all())


def _check_columns(columns: Collection[str] | None) -> frozenset:
    if columns is None:
        return frozenset(READ_COLUMNS)
    if isinstance(columns, str):
        raise TypeError(f'columns must be a collection of names such as ("values",), got the string {columns!r}')
    unknown = set(columns) - set(READ_COLUMNS)
    if unknown:
        raise ValueError(f'unknown read columns {sorted(unknown)}; a read has {list(READ_COLUMNS)}')
    return frozenset(columns)


def _as_tensor(name: str, value: Any, *, dtype: torch.dtype, device: torch.device) -> Tensor:
    tensor = value if isinstance(value, Tensor) else torch.as_tensor(value)
    if tensor.dtype.is_floating_point and not (dtype.is_floating_point or dtype.is_complex):
        raise TypeError(f'{name} must hold integers or bools for a {dtype} field, got {tensor.dtype}')
    if tensor.device != device:
        raise ValueError(f'{name} is on {tensor.device} but the bank is on {device}')
    return tensor.to(dtype)


@MEMORY_BANKS.register_module()
class MemoryBank(nn.Module):
    """A bounded bank of ``capacity`` entries of ``dim``-d keys.

    Args:
        capacity: number of slots.
        dim: key dimension.
        value_dim: dimension of per-entry values stored beside the keys (None: no values).
        fields: metadata per entry, e.g. ``dict(frame_id='int64', score='float32',
            box=('float32', 4))``.
        write_policy: a `WritePolicy`, its registered name or a config dict:
            ``'FIFO'``, ``'RandomReplace'``, ``dict(type='PinnedRecent', max_pinned=1)``,
            ``dict(type='MomentumById', id_field='instance_id', momentum=0.9)``.
        dtype: dtype of keys and values.
        persistent: whether the contents go into ``state_dict`` (checkpoints). Per-video
            memories (MAMBA, SAM 2) set False; learned banks (PatchCore, MoCo) keep True.
        seed: seed of the generator used by random policies and ``sample`` (also after
            each ``reset``); default: torch's default generator seed.
    """

    def __init__(self, *, capacity: int, dim: int, value_dim: int | None = None,
                 fields: Mapping[str, Any] | None = None,
                 write_policy: WritePolicy | dict | str = 'FIFO',
                 dtype: torch.dtype | str = torch.float32, persistent: bool = True,
                 seed: int | None = None) -> None:
        super().__init__()
        for name, number in (('capacity', capacity), ('dim', dim)):
            if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
                raise ValueError(f'{name} must be a positive int, got {number!r}')
        if value_dim is not None and (not isinstance(value_dim, int) or value_dim <= 0):
            raise ValueError(f'value_dim must be a positive int or None, got {value_dim!r}')
        dtype = parse_fields({'key': dtype})['key'].dtype if isinstance(dtype, str) else dtype
        if not dtype.is_floating_point:
            raise TypeError(f'dtype must be floating point, got {dtype}')
        self.capacity, self.dim, self.value_dim = capacity, dim, value_dim
        self.field_specs: dict[str, FieldSpec] = parse_fields(fields)
        self.policy = build_write_policy(write_policy)
        self.policy.check(self)
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)
        self._seed = self.generator.initial_seed()

        def buffer(name: str, tensor: Tensor) -> None:
            self.register_buffer(name, tensor, persistent=persistent)

        buffer('keys', torch.zeros(capacity, dim, dtype=dtype))
        buffer('values', torch.zeros(capacity, value_dim, dtype=dtype) if value_dim else None)
        for name, spec in self.field_specs.items():
            buffer(f'field_{name}', torch.zeros(capacity, *spec.shape, dtype=spec.dtype))
        buffer('occupied', torch.zeros(capacity, dtype=torch.bool))
        buffer('pinned', torch.zeros(capacity, dtype=torch.bool))
        buffer('write_step', torch.full((capacity,), -1, dtype=torch.long))
        buffer('num_writes', torch.zeros((), dtype=torch.long))

    # ----------------------------------------------------------------- state
    @property
    def device(self) -> torch.device:
        return self.keys.device

    @property
    def size(self) -> int:
        """Number of occupied slots."""
        return int(self.occupied.sum())

    def __len__(self) -> int:
        return self.size

    @property
    def is_full(self) -> bool:
        return bool(self.occupied.all())

    def field(self, name: str) -> Tensor:
        """The whole [capacity, ...] column of a field (read-only use)."""
        if name not in self.field_specs:
            raise KeyError(f'unknown field {name!r}; the bank has {sorted(self.field_specs)}')
        return getattr(self, f'field_{name}')

    def _apply(self, fn, recurse=True):
        # .to(dtype) / .half() convert keys and values but must not round metadata
        # (frame ids in float16, timestamps in bfloat16 would be corrupted).
        # Casting back afterwards would be too late (1.7e9 is inf in float16), so a field
        # whose dtype fn changed is rebuilt from its original, moved to fn's device only.
        originals = {name: self.field(name) for name in self.field_specs}
        super()._apply(fn, recurse)
        for name, spec in self.field_specs.items():
            column = self.field(name)
            if column.dtype != spec.dtype:
                setattr(self, f'field_{name}', originals[name].to(column.device))
        return self

    def reset(self) -> None:
        """Empty the bank (e.g. at the start of a new video) and restart its random draws
        from ``seed``: a reset bank behaves as a new one, so what a video reads does not
        depend on the videos before it."""
        self.generator.manual_seed(self._seed)
        self.occupied.zero_()
        self.pinned.zero_()
        self.write_step.fill_(-1)
        self.num_writes.zero_()

    def extra_repr(self) -> str:
        return (f'capacity={self.capacity}, dim={self.dim}, value_dim={self.value_dim}, '
                f'fields={sorted(self.field_specs)}, policy={type(self.policy).__name__}')

    # ----------------------------------------------------------------- writes
    def _validate_write(self, keys, values, pinned, fields) -> tuple[Tensor, Tensor | None, Tensor, dict]:
        if not isinstance(keys, Tensor):
            raise TypeError(f'keys must be a torch.Tensor, got {type(keys).__name__}')
        if keys.ndim != 2 or keys.shape[1] != self.dim:
            raise ValueError(f'keys must have shape [num, {self.dim}], got {tuple(keys.shape)}')
        if not keys.is_floating_point():
            raise TypeError(f'keys must be floating point, got {keys.dtype}')
        if keys.device != self.device:
            raise ValueError(f'keys are on {keys.device} but the bank is on {self.device}')
        if not _all_finite(keys):
            raise ValueError('keys contain NaN or Inf')
        num = keys.shape[0]
        if self.value_dim is None and values is not None:
            raise ValueError('values given, but the bank was built without value_dim')
        if self.value_dim is not None:
            if not isinstance(values, Tensor) or values.shape != (num, self.value_dim):
                got = tuple(values.shape) if isinstance(values, Tensor) else values
                raise ValueError(f'values must be a tensor of shape [{num}, {self.value_dim}], got {got}')
            if values.device != self.device:
                raise ValueError(f'values are on {values.device} but the bank is on {self.device}')
            if not _all_finite(values):
                raise ValueError('values contain NaN or Inf')
        unknown = set(fields) - set(self.field_specs)
        if unknown:
            raise ValueError(f'unknown fields {sorted(unknown)}; the bank has {sorted(self.field_specs)}')
        missing = set(self.field_specs) - set(fields)
        if missing:
            raise ValueError(f'missing fields {sorted(missing)} in write')
        checked = {}
        for name, spec in self.field_specs.items():
            column = _as_tensor(f'field {name!r}', fields[name], dtype=spec.dtype, device=self.device)
            if column.ndim == 0:
                column = column.expand(num, *spec.shape)
            if tuple(column.shape) != (num, *spec.shape):
                raise ValueError(f'field {name!r} must have shape {[num, *spec.shape]}, got {list(column.shape)}')
            checked[name] = column
        if pinned is None:
            pinned_mask = torch.zeros(num, dtype=torch.bool, device=self.device)
        else:
            if not self.policy.supports_pinning:
                raise ValueError(f'write policy {type(self.policy).__name__} does not support pinned entries')
            pinned_mask = _as_tensor('pinned', pinned, dtype=torch.bool, device=self.device)
            pinned_mask = pinned_mask.expand(num) if pinned_mask.ndim == 0 else pinned_mask
            if pinned_mask.shape != (num,):
                raise ValueError(f'pinned must be a bool or a bool tensor of shape [{num}]')
        return keys.to(self.keys.dtype), None if values is None else values.to(self.keys.dtype), pinned_mask, checked

    @torch.no_grad()
    def write(self, keys: Tensor, values: Tensor | None = None, *,
              pinned: bool | Tensor | None = None, **fields: Any) -> Tensor:
        """Store new entries; returns the slot of each one (-1 where the policy dropped it).

        ``fields`` gives every declared field, as a tensor [num, ...] or a scalar for all.
        Invalid input raises before anything is changed.
        """
        keys, values, pinned, fields = self._validate_write(keys, values, pinned, fields)
        unique = self.policy.unique_field
        if unique is not None and len(fields[unique]) != len(fields[unique].unique()):
            return self._write_in_rounds(keys, values, pinned, fields, fields[unique])
        return self._apply_plan(keys, values, pinned, fields)

    def _write_in_rounds(self, keys, values, pinned, fields, ids) -> Tensor:
        # Repeated ids in one call are applied in order: round r holds each id's r-th entry.
        occurrence = torch.zeros_like(ids)
        for position in range(1, len(ids)):
            occurrence[position] = int((ids[:position] == ids[position]).sum())
        slots = torch.full((len(ids),), -1, dtype=torch.long, device=self.device)
        for round_index in range(int(occurrence.max()) + 1):
            chosen = (occurrence == round_index).nonzero().squeeze(1)
            slots[chosen] = self._apply_plan(
                keys[chosen], None if values is None else values[chosen], pinned[chosen],
                {name: column[chosen] for name, column in fields.items()})
        return slots

    def _apply_plan(self, keys, values, pinned, fields) -> Tensor:
        num = keys.shape[0]
        plan = self.policy.plan(self, num_new=num, pinned=pinned, fields=fields)
        slots = plan.slots
        valid = slots >= 0
        if not self.policy.distinct_slots:
            slots = slots.clone()
            if valid.any() and slots[valid].unique().numel() != int(valid.sum()):
                # Two entries planned for one slot: the later wins, as in a sequential write.
                position = torch.arange(num, device=self.device)
                last = torch.full((self.capacity,), -1, dtype=torch.long, device=self.device)
                last.scatter_reduce_(0, slots[valid], position[valid], reduce='amax')
                slots[valid & (last[slots.clamp(min=0)] != position)] = -1
                valid = slots >= 0
        # index_copy_ with a plain slot list: the common case (every entry kept) then makes
        # no copies of the new entries, and on CPU it beats index assignment; MAMBA writes
        # three banks per frame
        if bool(valid.all()):
            kept, targets = None, slots
        else:
            kept = valid.nonzero().squeeze(1)
            targets = slots[kept]

        def new(column: Tensor) -> Tensor:
            return column if kept is None else column.index_select(0, kept)

        new_keys = new(keys)
        if plan.blend is not None and plan.blend.any():
            new_keys = new_keys.clone()
            blend = new(plan.blend)
            mixed = plan.momentum * self.keys[targets[blend]] + (1 - plan.momentum) * new_keys[blend]
            if plan.normalize:
                mixed = torch.nn.functional.normalize(mixed, dim=1)
            new_keys[blend] = mixed
        self.keys.index_copy_(0, targets, new_keys)
        if values is not None:
            self.values.index_copy_(0, targets, new(values))
        for name, column in fields.items():
            self.field(name).index_copy_(0, targets, new(column))
        self.occupied.index_fill_(0, targets, True)
        self.pinned.index_copy_(0, targets, new(pinned))
        positions = torch.arange(num, device=self.device)
        self.write_step.index_copy_(0, targets, self.num_writes + new(positions))
        self.num_writes += num
        return slots

    @torch.no_grad()
    def remove(self, where: Tensor) -> int:
        """Empty the slots selected by a bool mask [capacity] or slot indices; returns
        how many entries were removed."""
        mask = self._where(where)
        removed = int(mask.sum())
        self.occupied[mask] = False
        self.pinned[mask] = False
        self.write_step[mask] = -1
        return removed

    # ----------------------------------------------------------------- reads
    def _where(self, where: Tensor | None) -> Tensor:
        """Occupied slots, optionally restricted by a bool mask or slot indices."""
        if where is None:
            return self.occupied.clone()
        if not isinstance(where, Tensor):
            raise TypeError(f'where must be a bool mask or slot indices tensor, got {type(where).__name__}')
        if where.device != self.device:
            raise ValueError(f'where is on {where.device} but the bank is on {self.device}')
        if where.dtype == torch.bool:
            if where.shape != (self.capacity,):
                raise ValueError(f'a where mask must have shape [{self.capacity}], got {list(where.shape)}')
            return where & self.occupied
        if where.dtype.is_floating_point or where.ndim != 1:
            raise ValueError('where must be a bool mask [capacity] or a 1-D tensor of slot indices')
        if len(where) and (where.min() < 0 or where.max() >= self.capacity):
            raise ValueError(f'slot indices must be in [0, {self.capacity})')
        mask = torch.zeros(self.capacity, dtype=torch.bool, device=self.device)
        mask[where] = True
        return mask & self.occupied

    def mask(self, **conditions: Any) -> Tensor:
        """Bool [capacity] of occupied entries whose fields equal the given values;
        a value may also be a ``(low, high)`` tuple meaning low <= field < high
        (None for an open end)."""
        mask = self.occupied.clone()
        for name, condition in conditions.items():
            column = self.field(name)
            if isinstance(condition, tuple):
                low, high = condition
                if low is not None:
                    mask &= column >= low
                if high is not None:
                    mask &= column < high
            else:
                mask &= column == condition
        return mask

    def gather(self, slots: Tensor, columns: Collection[str] | None = None) -> MemoryRead:
        """Entries at ``slots`` (any shape); -1 slots give zeros.

        ``columns`` (a subset of ``READ_COLUMNS``; default all) names what to copy; the
        rest of the read is None. A reader that needs only the values (MAMBA's key sets at
        inference) then pays for one gather instead of six."""
        wanted = _check_columns(columns)
        empty = slots < 0
        any_empty = bool(empty.any())
        flat = slots.clamp(min=0).flatten() if any_empty else slots.flatten()

        # index_select, not advanced indexing: on CPU it gathers rows ~4x faster, and
        # MAMBA gathers key sets of hundreds of rows several times per frame.
        def rows(name: str, column: Tensor | None, fill: Any = None) -> Tensor | None:
            if name not in wanted or column is None:
                return None
            picked = column.index_select(0, flat).reshape(*slots.shape, *column.shape[1:])
            if not any_empty or fill is None:
                return picked
            blank = empty.reshape(*slots.shape, *([1] * (column.ndim - 1)))
            return picked.masked_fill(blank, fill)

        fields = None
        if 'fields' in wanted:
            fields = {name: rows('fields', self.field(name)) for name in self.field_specs}
        return MemoryRead(
            keys=rows('keys', self.keys, 0), values=rows('values', self.values, 0), fields=fields,
            slots=slots, pinned=rows('pinned', self.pinned, False),
            write_step=rows('write_step', self.write_step, -1))

    def read(self, where: Tensor | None = None, *, oldest_first: bool = False,
             columns: Collection[str] | None = None) -> MemoryRead:
        """All occupied entries (optionally only ``where``), in slot order or oldest first."""
        slots = self._where(where).nonzero().squeeze(1)
        if oldest_first:
            slots = slots[self.write_step[slots].argsort()]
        return self.gather(slots, columns)

    def sample(self, num: int, where: Tensor | None = None, *,
               columns: Collection[str] | None = None) -> MemoryRead:
        """``num`` random distinct entries (all of them if fewer are stored): MAMBA's
        light-weight key set."""
        slots = self._where(where).nonzero().squeeze(1)
        if num < len(slots):  # else every entry is in the sample: no draws needed
            pick = torch.randperm(len(slots), generator=self.generator)[:num].to(self.device)
            slots = slots[pick.sort().values]
        return self.gather(slots, columns)

    def recent(self, num: int, where: Tensor | None = None) -> MemoryRead:
        """The ``num`` most recently written entries, oldest first."""
        slots = self._where(where).nonzero().squeeze(1)
        newest = self.write_step[slots].topk(min(num, len(slots))).indices
        return self.read(slots[newest], oldest_first=True)

    def rank(self, field: str, num: int, where: Tensor | None = None,
             largest: bool = True, *, columns: Collection[str] | None = None) -> MemoryRead:
        """The ``num`` entries with the largest (or smallest) scalar ``field``, e.g. score."""
        column = self.field(field)
        if column.ndim != 1:
            raise ValueError(f'rank needs a scalar field; {field!r} has shape {list(column.shape[1:])}')
        slots = self._where(where).nonzero().squeeze(1)
        best = column[slots].topk(min(num, len(slots)), largest=largest).indices
        return self.gather(slots[best], columns)

    def topk(self, queries: Tensor, k: int, *, metric: str = 'ip', where: Tensor | None = None,
             backend: str = 'auto', precision: str = 'fp32',
             chunk_elements: int | None = None) -> TopkResult:
        """Top-k stored entries per query (see `vmem.memory.retrieval.topk`); the result's
        ``indices`` are slots, usable with `gather`. Empty slots are never returned.
        ``chunk_elements`` bounds the scores held at once (None: the retrieval default)."""
        if self.size == 0:
            raise ValueError('the memory bank is empty: nothing to retrieve from')
        mask = self._where(where)
        keys = self.keys
        if queries.dtype != keys.dtype:
            raise TypeError(f'queries ({queries.dtype}) must have the bank dtype ({keys.dtype})')
        extra = {} if chunk_elements is None else {'chunk_elements': chunk_elements}
        return topk(queries, keys, k, metric=metric, mask=None if mask.all() else mask,
                    backend=backend, precision=precision, check_finite=False, **extra)
