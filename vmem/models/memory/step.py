"""`MemoryStep`: what the memories do while a batch of frames goes through the detector."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Sequence

import torch

# the key under which the detector puts its MemoryStep into the RoI head's context
STEP_KEY = 'memory_step'


@dataclass
class MemoryStep:
    """Frame b of the batch belongs to stream b. With ``write``, the memories stage the
    features they will store (in the RoI head, before the frame's scores exist) and the
    detector commits them with per-RoI scores once the box predictor has run."""
    write: bool
    frame_ids: Sequence[int]
    staged: List[tuple] = field(default_factory=list)

    @property
    def num_frames(self) -> int:
        return len(self.frame_ids)

    def stage(self, memory: Any, stream: int, rows: torch.Tensor, features: torch.Tensor) -> None:
        """Remember that ``memory`` stores ``features`` (RoI rows ``rows`` of the batch)."""
        self.staged.append((memory, stream, rows, features.detach()))

    @torch.no_grad()
    def commit(self, roi_scores: torch.Tensor) -> None:
        """Write everything staged, each entry with the score of its RoI."""
        for memory, stream, rows, features in self.staged:
            memory.write(stream, features, scores=roi_scores[rows], frame_id=int(self.frame_ids[stream]))
        self.staged.clear()
