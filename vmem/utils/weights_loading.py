"""Loading a checkpoint's weights into a model, with a report of what did not match.

mmengine's loader is non-strict and only logs mismatches, so evaluating the wrong
checkpoint quietly scores a half-random model. Here strict mode raises an error listing
the missing, unexpected and wrongly-shaped keys; non-strict mode warns with the same list.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

_SHOWN = 10  # keys listed per kind; the rest are counted


@dataclass
class WeightsMismatch:
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong_shape: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.wrong_shape)

    def describe(self) -> str:
        lines = []
        for name, keys in (('missing in the checkpoint', self.missing),
                           ('unexpected (not in the model)', self.unexpected),
                           ('shape differs', self.wrong_shape)):
            if keys:
                more = f' ... and {len(keys) - _SHOWN} more' if len(keys) > _SHOWN else ''
                lines.append(f'  {len(keys)} {name}: {", ".join(keys[:_SHOWN])}{more}')
        return '\n'.join(lines)


def read_checkpoint(path: str) -> dict:
    """A whole checkpoint (weights and ``meta``), read with ``weights_only=True`` (no code
    runs); a ``.safetensors`` file (timm's and Hugging Face's format) holds tensors only."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if str(path).endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(str(path), device='cpu')
    from .checkpoint import enable_safe_checkpoints
    enable_safe_checkpoints()
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{path}: expected a dict checkpoint, got {type(checkpoint).__name__}')
    return checkpoint


def state_dict_of(checkpoint: dict) -> dict:
    """The model weights of a checkpoint read by :func:`read_checkpoint`."""
    state = checkpoint.get('state_dict', checkpoint)
    # DDP-wrapped models save their weights under `module.`
    return {key[len('module.'):] if key.startswith('module.') else key: value for key, value in state.items()}


def read_state_dict(path: str) -> dict:
    """A checkpoint's model weights, read with ``weights_only=True`` (no code runs)."""
    return state_dict_of(read_checkpoint(path))


def compare_state_dicts(model_state: dict, loaded: dict) -> WeightsMismatch:
    mismatch = WeightsMismatch(
        missing=sorted(set(model_state) - set(loaded)),
        unexpected=sorted(set(loaded) - set(model_state)))
    for key in sorted(set(model_state) & set(loaded)):
        if hasattr(loaded[key], 'shape') and tuple(loaded[key].shape) != tuple(model_state[key].shape):
            mismatch.wrong_shape.append(
                f'{key} (checkpoint {tuple(loaded[key].shape)}, model {tuple(model_state[key].shape)})')
    return mismatch


def load_model_weights(model: nn.Module, path: str, *, strict: bool = True,
                       checkpoint: Optional[dict] = None) -> WeightsMismatch:
    """Load ``path``'s weights into ``model`` (unwrapping DDP); raise (strict) or warn on
    any mismatch. Keys with a wrong shape are skipped in non-strict mode. ``checkpoint``:
    ``path`` already read by :func:`read_checkpoint` (``path`` then only names it)."""
    model = getattr(model, 'module', model)
    loaded = state_dict_of(checkpoint if checkpoint is not None else read_checkpoint(path))
    # A model whose buffer shapes come from its data (PatchCore's coreset bank) resizes
    # them from the checkpoint first, so they are not reported as mismatches.
    adapt = getattr(model, 'adapt_to_state_dict', None)
    if callable(adapt):
        adapt(loaded)
    model_state = model.state_dict()
    mismatch = compare_state_dicts(model_state, loaded)
    if mismatch and strict:
        raise ValueError(f'checkpoint {path} does not match the model '
                         f'{type(model).__name__}:\n{mismatch.describe()}\n'
                         '(load it non-strictly to keep only the matching weights)')
    if mismatch:
        warnings.warn(f'checkpoint {path} partly matches {type(model).__name__}; '
                      f'loading the matching weights only:\n{mismatch.describe()}', stacklevel=2)
    bad_shapes = {entry.split(' ')[0] for entry in mismatch.wrong_shape}
    usable = {key: value for key, value in loaded.items() if key in model_state and key not in bad_shapes}
    model.load_state_dict(usable, strict=False)
    return mismatch
