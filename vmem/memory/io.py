"""Saving and loading memory banks as safetensors files: tensors only, no pickled code."""
from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def save_memory(module: nn.Module, path: str | Path) -> None:
    """Write every tensor of ``module.state_dict()`` (e.g. a bank) to ``path``."""
    state = {name: tensor.detach().contiguous() for name, tensor in module.state_dict().items()}
    save_file(state, str(path))


def load_memory(module: nn.Module, path: str | Path, *, strict: bool = True) -> None:
    """Load a file written by `save_memory` into ``module``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'memory file not found: {path}')
    # A grouped bank has no buffers until its groups are created from the file.
    device = next(iter(module.buffers()), torch.empty(0)).device
    try:
        state = load_file(str(path), device=str(device))
    except Exception as error:  # safetensors raises its own error types
        raise ValueError(f'{path} is not a readable safetensors memory file: {error}') from error
    module.load_state_dict(state, strict=strict)
