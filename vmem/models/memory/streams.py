"""`StreamMemory`: memory banks kept per stream, the state a video detector carries.

A stream is one video being processed: in training each clip of the batch is its own
stream (clips must not see each other's memory); in testing, the video being predicted.
"""
from __future__ import annotations

from typing import Any

from torch import nn

from vmem.memory import MemoryBank


class StreamMemory(nn.Module):
    """Base of the MAMBA memories: one `MemoryBank` per stream, built from ``bank_cfg``.

    The banks are non-persistent (``persistent=False`` is forced): memory is per-video
    state and never goes into checkpoints. They are submodules, so ``model.to(device)``
    moves them. ``reset(num_streams)`` empties them and makes sure there are enough.
    """

    def __init__(self, *, bank_cfg: dict):
        super().__init__()
        self.bank_cfg: dict[str, Any] = dict(bank_cfg, persistent=False)
        # stream 0 is built now, so a bad bank config fails when the model is built
        self.banks = nn.ModuleList([MemoryBank(**self.bank_cfg)])
        self.num_streams = 1

    @property
    def capacity(self) -> int:
        return self.bank_cfg['capacity']

    def reset(self, num_streams: int = 1) -> None:
        """Empty every stream and make ``num_streams`` of them usable."""
        if isinstance(num_streams, bool) or not isinstance(num_streams, int) or num_streams < 1:
            raise ValueError(f'num_streams must be a positive int, got {num_streams!r}')
        device = self.banks[0].device
        while len(self.banks) < num_streams:
            self.banks.append(MemoryBank(**self.bank_cfg).to(device))
        for bank in self.banks:
            bank.reset()
        self.num_streams = num_streams

    def bank(self, stream: int) -> MemoryBank:
        if not 0 <= stream < self.num_streams:
            raise IndexError(f'stream {stream} is not in use; reset(num_streams) set {self.num_streams}')
        return self.banks[stream]

    def size(self, stream: int = 0) -> int:
        """Entries stored for one stream."""
        return self.bank(stream).size
