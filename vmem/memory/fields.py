"""Named metadata fields stored beside a memory bank's keys (frame id, score, box, ...)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch

DTYPES = {
    'float16': torch.float16, 'bfloat16': torch.bfloat16, 'float32': torch.float32,
    'float64': torch.float64, 'int32': torch.int32, 'int64': torch.int64, 'bool': torch.bool,
}
# Names the bank uses for its own state.
RESERVED = frozenset({'keys', 'values', 'pinned', 'occupied', 'write_step', 'num_writes'})


@dataclass(frozen=True)
class FieldSpec:
    """dtype and per-entry shape of one metadata field (``()`` for a scalar per entry)."""
    dtype: torch.dtype
    shape: tuple[int, ...] = ()


def _dtype(value: Any, name: str) -> torch.dtype:
    if isinstance(value, torch.dtype):
        return value
    if isinstance(value, str) and value in DTYPES:
        return DTYPES[value]
    raise ValueError(f'field {name!r}: unknown dtype {value!r}; use one of {sorted(DTYPES)}')


def parse_field(name: str, spec: Any) -> FieldSpec:
    """Accepts ``'int64'``, ``torch.int64``, ``('float32', 4)``, ``('float32', (2, 2))``,
    ``dict(dtype='float32', shape=4)`` or a `FieldSpec`."""
    if not isinstance(name, str) or not name.isidentifier() or name in RESERVED:
        raise ValueError(f'invalid field name {name!r}: use an identifier not in {sorted(RESERVED)}')
    if isinstance(spec, FieldSpec):
        return spec
    shape: Any = ()
    if isinstance(spec, Mapping):
        dtype, shape = spec.get('dtype'), spec.get('shape', ())
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        dtype, shape = spec
    else:
        dtype = spec
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f'field {name!r}: shape must be positive ints, got {shape}')
    return FieldSpec(_dtype(dtype, name), shape)


def parse_fields(fields: Mapping[str, Any] | None) -> dict[str, FieldSpec]:
    return {name: parse_field(name, spec) for name, spec in (fields or {}).items()}
