"""What the docs' hidden setup blocks use to stand in for a user's trained files.

They write random-weight checkpoints in the layout tools/train.py writes, so the shown
commands run end to end in the tests; no example's printed number comes from them."""
from __future__ import annotations

from pathlib import Path

import torch

MAMBA_CONFIG = 'configs/mamba/mamba_r10t_synthvid_tiny.py'


def random_checkpoint(config: str, path: str, *, classes: tuple[str, ...] | None = None, seed: int = 0) -> str:
    """A checkpoint of ``config``'s model with seeded random weights at ``path``."""
    from vmem.apis.model_init import init_model
    torch.manual_seed(seed)
    model = init_model(config)
    meta = {'dataset_meta': {'classes': classes}} if classes else {}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({'state_dict': model.state_dict(), 'meta': meta}, path)
    return path


def tiny_mamba_checkpoint(path: str) -> str:
    return random_checkpoint(MAMBA_CONFIG, path, classes=tuple(f'thing{i}' for i in range(8)))
