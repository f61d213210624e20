"""Datasets whose items index mmengine's serialized list of frames: the subset, length and
frame-access methods they share (a frame dataset's items are a subset of frames; a clip
dataset's items are videos)."""
from __future__ import annotations

import copy
from typing import List, Sequence, Union

from mmengine.dataset import force_full_init


class ItemSubsets:
    """Mixin (before ``BaseDataset``): items are the list in attribute ``ITEMS``."""
    ITEMS = '_items'

    @staticmethod
    def _subset(items: List[int], indices: Union[int, Sequence[int]]) -> List[int]:
        # mmengine's convention: an int n keeps the first n (or the last -n) items
        if isinstance(indices, int):
            return items[:indices] if indices >= 0 else items[indices:]
        return [items[i] for i in indices]

    @force_full_init
    def get_subset_(self, indices: Union[int, Sequence[int]]) -> None:
        setattr(self, self.ITEMS, self._subset(getattr(self, self.ITEMS), indices))

    @force_full_init
    def get_subset(self, indices: Union[int, Sequence[int]]):
        subset = copy.copy(self)  # shares the (read-only) serialized frames
        setattr(subset, self.ITEMS, self._subset(getattr(self, self.ITEMS), indices))
        return subset

    @force_full_init
    def __len__(self) -> int:
        return len(getattr(self, self.ITEMS))

    def _frame_info(self, frame_index: int) -> dict:
        """The serialized frame's data info (``BaseDataset.get_data_info``), without mmengine's
        ``sample_idx``, which counts frames, not items."""
        info = super().get_data_info(frame_index)
        info.pop('sample_idx', None)
        return info
