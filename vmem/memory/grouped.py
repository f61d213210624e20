"""`GroupedMemoryBank`: one capacity-bounded bank per group (camera, location, video),
with an optional time horizon: Context R-CNN's long-term per-camera memory."""
from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import Tensor, nn

from ..registry import MEMORY_BANKS
from .bank import MemoryBank, MemoryRead
from .retrieval import TopkResult

# Named horizons, in seconds: timestamps are expected in seconds (e.g. unix time).
HORIZONS = {'hour': 3600, 'day': 86400, 'week': 7 * 86400, 'month': 30 * 86400}


@MEMORY_BANKS.register_module()
class GroupedMemoryBank(nn.Module):
    """Banks keyed by an integer group id, created on first write.

    Args:
        capacity_per_group: slots of each group's bank.
        max_groups: most groups kept; a write to a new group beyond it raises.
        time_field: name of a scalar field holding each entry's time (in seconds when a
            named horizon is used); required with ``horizon``.
        horizon: entries older than the newest write minus this are dropped, as a number
            in the time field's units or one of 'hour', 'day', 'week', 'month'.
        **bank_kwargs: passed to every group's `MemoryBank` (dim, fields, write_policy, ...).
    """

    def __init__(self, *, capacity_per_group: int, max_groups: int | None = None,
                 time_field: str | None = None, horizon: float | str | None = None,
                 **bank_kwargs: Any) -> None:
        super().__init__()
        if isinstance(horizon, str):
            if horizon not in HORIZONS:
                raise ValueError(f'horizon must be a number or one of {sorted(HORIZONS)}, got {horizon!r}')
            horizon = HORIZONS[horizon]
        if horizon is not None and time_field is None:
            raise ValueError('a horizon needs time_field to say which field holds the time')
        if max_groups is not None and max_groups < 1:
            raise ValueError(f'max_groups must be positive, got {max_groups}')
        self.capacity_per_group = capacity_per_group
        self.max_groups = max_groups
        self.time_field = time_field
        self.horizon = horizon
        self.bank_kwargs = dict(bank_kwargs, capacity=capacity_per_group)
        template = MemoryBank(**self.bank_kwargs)  # validates the bank config once, now
        self.supports_pinning = template.policy.supports_pinning
        if time_field is not None and time_field not in template.field_specs:
            raise ValueError(f'time_field {time_field!r} is not among the fields {sorted(template.field_specs)}')
        self.banks = nn.ModuleDict()
        self._register_load_state_dict_pre_hook(self._create_banks_for_state)

    def _create_banks_for_state(self, state_dict, prefix, *args) -> None:
        # A checkpoint names the groups it holds; make them so their buffers can load.
        for key in state_dict:
            if key.startswith(prefix + 'banks.'):
                group = key[len(prefix + 'banks.'):].split('.', 1)[0]
                if group not in self.banks:
                    self.banks[group] = MemoryBank(**self.bank_kwargs).to(self._device())

    def _device(self) -> torch.device:
        for bank in self.banks.values():
            return bank.device
        return torch.device('cpu')

    @property
    def groups(self) -> list[int]:
        return sorted(int(group) for group in self.banks)

    def bank(self, group: int) -> MemoryBank:
        """The bank of one group (KeyError if it was never written)."""
        if str(int(group)) not in self.banks:
            raise KeyError(f'group {group} has no memory; known groups: {self.groups}')
        return self.banks[str(int(group))]

    def __len__(self) -> int:
        return sum(bank.size for bank in self.banks.values())

    def reset(self) -> None:
        self.banks = nn.ModuleDict()

    @torch.no_grad()
    def write(self, group: int | Tensor, keys: Tensor, values: Tensor | None = None, *,
              pinned: bool | Tensor | None = None, **fields: Any) -> None:
        """Write entries for one group (an int) or several (an int tensor [num]);
        ``pinned`` as in `MemoryBank.write`."""
        groups = torch.as_tensor(group)
        if groups.dtype.is_floating_point:
            raise TypeError(f'group must be integer ids, got {groups.dtype}')
        if groups.ndim == 0:
            groups = groups.expand(keys.shape[0]) if isinstance(keys, Tensor) else groups
        if groups.ndim != 1 or not isinstance(keys, Tensor) or groups.shape[0] != keys.shape[0]:
            raise ValueError('group must be an int or a tensor with one id per key')
        new = [g for g in groups.unique().tolist() if str(g) not in self.banks]
        if self.max_groups is not None and len(self.banks) + len(new) > self.max_groups:
            raise ValueError(f'writing groups {new} would exceed max_groups={self.max_groups}')
        # Validate every group's part on a scratch bank first: a rejected write changes nothing.
        # (FIFO: a scratch bank this small may not satisfy the real policy's own checks)
        scratch = MemoryBank(**dict(self.bank_kwargs, capacity=max(1, keys.shape[0]),
                                    write_policy='FIFO')).to(keys.device)
        scratch._validate_write(keys, values, None, fields)
        if pinned is not None and not self.supports_pinning:
            raise ValueError(f'the write policy {self.bank_kwargs.get("write_policy")!r} does not support pinned entries')
        pinned_mask = None if pinned is None else torch.as_tensor(pinned, dtype=torch.bool).expand(keys.shape[0])
        for g in new:
            self.banks[str(g)] = MemoryBank(**self.bank_kwargs).to(keys.device)
        for g in groups.unique().tolist():
            chosen = (groups.to(keys.device) == g).nonzero().squeeze(1)
            part = {name: (value[chosen] if isinstance(value, Tensor) and value.ndim else value)
                    for name, value in fields.items()}
            bank = self.banks[str(g)]
            bank.write(keys[chosen], None if values is None else values[chosen],
                       pinned=None if pinned_mask is None else pinned_mask[chosen.cpu()].to(bank.device), **part)
            if self.horizon is not None:
                self.expire(g, now=bank.field(self.time_field)[bank.occupied].max())

    def expire(self, group: int, *, now: float | Tensor) -> int:
        """Drop the group's entries older than ``now - horizon``; returns how many."""
        if self.horizon is None:
            return 0
        bank = self.bank(group)
        return bank.remove(bank.mask(**{self.time_field: (None, now - self.horizon)}))

    def read(self, group: int, *, time_window: tuple[Any, Any] | None = None,
             where: Mapping[str, Any] | None = None) -> MemoryRead:
        """The group's entries, optionally with time in [start, end) and field conditions."""
        return self.bank(group).read(self._mask(group, time_window, where))

    def topk(self, group: int, queries: Tensor, k: int, *, metric: str = 'ip',
             time_window: tuple[Any, Any] | None = None, **kwargs: Any) -> TopkResult:
        """Top-k among one group's entries; ``indices`` are slots of ``bank(group)``."""
        return self.bank(group).topk(queries, k, metric=metric,
                                     where=self._mask(group, time_window, None), **kwargs)

    def _mask(self, group, time_window, where) -> Tensor:
        conditions = dict(where or {})
        if time_window is not None:
            if self.time_field is None:
                raise ValueError('time_window needs the bank to have a time_field')
            conditions[self.time_field] = tuple(time_window)
        return self.bank(group).mask(**conditions)
