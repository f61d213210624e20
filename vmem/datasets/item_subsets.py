"""Datasets whose items index mmengine's serialized list of frames: the subset, length and
frame-access methods they share (a frame dataset's items are a subset of frames; a clip
dataset's items are videos)."""
from __future__ import annotations

import copy
from typing import List, Sequence, Union

from mmengine.dataset import force_full_init


class ItemSubsets:
    """Mixin (before ``BaseDataset``): items are the list in attribute ``ITEMS``, made by the
    subclass's ``_make_items`` from the loaded frames."""
    ITEMS = '_items'

    def _make_items(self) -> List[int]:
        raise NotImplementedError(f'{type(self).__name__} must implement _make_items()')

    def full_init(self) -> None:
        # mmengine drops filtered entries from data_list; here every frame stays there (a
        # reference frame or a positive may be a frame that is no item) and the items index it.
        if self._fully_initialized:
            return
        self.data_list = self.load_data_list()
        items = self._make_items()
        if self._indices is not None:
            items = self._subset(items, self._indices)
        setattr(self, self.ITEMS, items)
        if self.serialize_data:
            self.data_bytes, self.data_address = self._serialize_data()
            self.data_list = []
        self._fully_initialized = True

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
