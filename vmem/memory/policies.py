"""Write policies: where a memory bank puts new entries and what they evict.

A policy only plans; `MemoryBank.write` validates and applies the plan, so a policy never
touches the bank's tensors and a rejected write changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..registry import WRITE_POLICIES


@dataclass
class WritePlan:
    """``slots[i]`` is where new entry i goes (-1: dropped). Entries with ``blend[i]``
    are mixed into the slot's old key as ``momentum * old + (1 - momentum) * new``."""
    slots: Tensor
    blend: Tensor | None = None
    momentum: float = 0.0
    normalize: bool = False


class WritePolicy:
    """Base class. ``plan`` sees the bank through its read-only accessors."""
    supports_pinning = False
    unique_field: str | None = None  # entries sharing this field's value are written in turn
    # plans never send two entries to one slot, so the bank can skip its collision check
    distinct_slots = False

    def check(self, bank) -> None:
        """Raise ValueError if the policy cannot work with this bank's configuration."""

    def plan(self, bank, *, num_new: int, pinned: Tensor,
             fields: dict[str, Tensor]) -> WritePlan:
        raise NotImplementedError


def free_slots(bank, count: int) -> Tensor:
    """Up to ``count`` empty slots, lowest first."""
    return (~bank.occupied).nonzero().squeeze(1)[:count]


def oldest_slots(bank, candidates: Tensor, count: int) -> Tensor:
    """Up to ``count`` slots among the ``candidates`` mask with the oldest writes."""
    steps = bank.write_step.masked_fill(~candidates, torch.iinfo(torch.long).max)
    count = min(count, int(candidates.sum()))
    return steps.topk(count, largest=False).indices


@WRITE_POLICIES.register_module(name='FIFO')
class FIFOQueue(WritePolicy):
    """A ring: entry number t (counting every entry ever offered) goes to slot
    t mod capacity. MoCo's queue; the capacity need not divide the batch size."""
    distinct_slots = True

    def plan(self, bank, *, num_new, pinned, fields):
        steps = bank.num_writes + torch.arange(num_new, device=bank.device)
        slots = steps % bank.capacity
        if num_new > bank.capacity:  # only the newest `capacity` survive the wrap
            slots[:num_new - bank.capacity] = -1
        return WritePlan(slots)


@WRITE_POLICIES.register_module(name='RandomReplace')
class RandomReplace(WritePolicy):
    """Fill empty slots, then overwrite random unpinned entries (MAMBA's random
    feature-wise replacement). A write larger than the bank keeps a random subset."""
    supports_pinning = True
    distinct_slots = True  # empty slots, then distinct occupied ones

    def plan(self, bank, *, num_new, pinned, fields):
        generator = bank.generator
        slots = torch.full((num_new,), -1, dtype=torch.long, device=bank.device)
        order = torch.arange(num_new, device=bank.device)
        if num_new > bank.capacity:
            order = torch.randperm(num_new, generator=generator, device='cpu')[:bank.capacity]
            order = order.sort().values.to(bank.device)
        targets = free_slots(bank, len(order))
        shortfall = len(order) - len(targets)
        if shortfall > 0:
            replaceable = (bank.occupied & ~bank.pinned).nonzero().squeeze(1)
            pick = torch.randperm(len(replaceable), generator=generator, device='cpu')[:shortfall]
            targets = torch.cat([targets, replaceable[pick.to(bank.device)]])
        slots[order[:len(targets)]] = targets
        return WritePlan(slots)


@WRITE_POLICIES.register_module(name='PinnedRecent')
class PinnedRecent(WritePolicy):
    """Pinned entries (SAM 2's prompted frames) are kept, up to ``max_pinned`` (the
    oldest pinned one gives way after that); the other slots hold a ring of the most
    recent unpinned entries. With ``quality_field``/``min_quality``, unpinned entries
    below the threshold are not written (SAMURAI-style memory selection)."""
    supports_pinning = True

    def __init__(self, *, max_pinned: int, quality_field: str | None = None,
                 min_quality: float | None = None) -> None:
        if max_pinned < 0:
            raise ValueError(f'max_pinned must be >= 0, got {max_pinned}')
        if (quality_field is None) != (min_quality is None):
            raise ValueError('quality_field and min_quality must be given together')
        self.max_pinned = max_pinned
        self.quality_field = quality_field
        self.min_quality = min_quality

    def check(self, bank) -> None:
        if self.max_pinned >= bank.capacity:
            raise ValueError(f'max_pinned ({self.max_pinned}) must be smaller than the '
                             f'capacity ({bank.capacity}) to leave room for recent entries')
        if self.quality_field is not None and self.quality_field not in bank.field_specs:
            raise ValueError(f'quality_field {self.quality_field!r} is not a field of the bank')

    def plan(self, bank, *, num_new, pinned, fields):
        occupied, is_pinned, steps = bank.occupied.clone(), bank.pinned.clone(), bank.write_step.clone()
        recent_capacity = bank.capacity - self.max_pinned
        slots = torch.full((num_new,), -1, dtype=torch.long, device=bank.device)
        keep = torch.ones(num_new, dtype=torch.bool, device=bank.device)
        if self.quality_field is not None:
            keep = pinned | (fields[self.quality_field].reshape(num_new, -1)[:, 0] >= self.min_quality)
        for i in range(num_new):  # entries per write are few (one per frame)
            if not keep[i]:
                continue
            group = occupied & (is_pinned == pinned[i])
            limit = self.max_pinned if pinned[i] else recent_capacity
            if limit == 0:
                continue
            if int(group.sum()) < limit and not occupied.all():
                slot = int((~occupied).nonzero()[0])
            else:
                slot = int(steps.masked_fill(~group, torch.iinfo(torch.long).max).argmin())
            slots[i] = slot
            occupied[slot], is_pinned[slot] = True, pinned[i]
            steps[slot] = bank.num_writes + i
        return WritePlan(slots)


@WRITE_POLICIES.register_module(name='MomentumById')
class MomentumById(WritePolicy):
    """One entry per id (instance, class, track): a known id's key moves towards the new
    one by momentum, a new id takes an empty slot or the least recently updated one."""

    def __init__(self, *, id_field: str, momentum: float = 0.9, normalize: bool = False) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'momentum must be in [0, 1), got {momentum}')
        self.unique_field = id_field
        self.momentum = momentum
        self.normalize = normalize

    def check(self, bank) -> None:
        spec = bank.field_specs.get(self.unique_field)
        if spec is None or spec.shape != () or spec.dtype.is_floating_point:
            raise ValueError(f'id_field {self.unique_field!r} must be a scalar integer field of the bank')

    def plan(self, bank, *, num_new, pinned, fields):
        new_ids = fields[self.unique_field]
        occupied_slots = bank.occupied.nonzero().squeeze(1)
        known_ids = bank.field(self.unique_field)[occupied_slots]
        sorted_ids, order = known_ids.sort()
        pos = torch.searchsorted(sorted_ids, new_ids).clamp(max=max(len(sorted_ids) - 1, 0))
        found = (sorted_ids[pos] == new_ids) if len(sorted_ids) else torch.zeros_like(new_ids, dtype=torch.bool)
        slots = torch.full((num_new,), -1, dtype=torch.long, device=bank.device)
        slots[found] = occupied_slots[order[pos[found]]]
        unseen = (~found).nonzero().squeeze(1)
        targets = free_slots(bank, len(unseen))
        if len(targets) < len(unseen):
            evictable = bank.occupied & ~bank.pinned
            evictable[slots[found]] = False  # ids updated now stay
            targets = torch.cat([targets, oldest_slots(bank, evictable, len(unseen) - len(targets))])
        slots[unseen[:len(targets)]] = targets
        return WritePlan(slots, blend=found, momentum=self.momentum, normalize=self.normalize)


def build_write_policy(policy: WritePolicy | dict | str) -> WritePolicy:
    if isinstance(policy, WritePolicy):
        return policy
    if isinstance(policy, str):
        policy = dict(type=policy)
    if not isinstance(policy, dict) or 'type' not in policy:
        raise ValueError(f'write_policy must be a WritePolicy, a name or a config dict, got {policy!r}')
    return WRITE_POLICIES.build(policy)
