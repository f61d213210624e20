"""The common interface of every frame source: video files, webcams and image sequences."""
from __future__ import annotations

import abc
import warnings
from collections.abc import Iterator

import numpy as np

from .errors import CorruptFrameWarning


class FrameSource(abc.ABC):
    """Frames of one stream as RGB uint8 arrays (H, W, 3), in order.

    ``num_frames`` is None for live streams (webcams), which are not seekable and have no
    ``len()``. Frames that cannot be decoded while iterating are skipped with a
    :class:`CorruptFrameWarning`; ``num_skipped`` counts them for the latest pass, so a pass
    yields ``num_frames - num_skipped`` frames. ``read(index)`` raises instead of skipping.
    """

    def __init__(self, *, name: str, num_frames: int | None, fps: float | None, height: int,
                 width: int, seekable: bool) -> None:
        self.name = name
        self.num_frames = num_frames
        self.fps = fps
        self.height = height
        self.width = width
        self.seekable = seekable
        self.num_skipped = 0
        self._closed = False

    def __len__(self) -> int:
        if self.num_frames is None:
            raise TypeError(f'{self.name} is a live stream and has no length')
        return self.num_frames

    def __bool__(self) -> bool:
        # Without this, `if source:` would call __len__ and fail for webcams.
        return True

    def __iter__(self) -> Iterator[np.ndarray]:
        self._check_open()
        self.num_skipped = 0
        return self._iter_frames()

    def read(self, index: int) -> np.ndarray:
        """Frame ``index`` (negative counts from the end), for seekable sources."""
        self._check_open()
        if not self.seekable or self.num_frames is None:
            raise TypeError(f'{self.name} is not seekable; iterate over it instead')
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f'frame index must be an int, got {type(index).__name__}')
        position = int(index) + self.num_frames if index < 0 else int(index)
        if not 0 <= position < self.num_frames:
            raise IndexError(f'frame {index} out of range for {self.name} with {self.num_frames} frames')
        return self._read_frame(position)

    def close(self) -> None:
        if not self._closed:
            self._release()
            self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        # A source that was never opened fully has no handle to release.
        if getattr(self, '_closed', True) is False:
            self.close()

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(name={self.name!r}, num_frames={self.num_frames}, fps={self.fps}, '
                f'size=({self.width}, {self.height}))')

    def _skip_frames(self, start: int, stop: int, reason: str) -> None:
        """Count frames ``start..stop-1`` as skipped and warn once; call from ``_iter_frames``."""
        self.num_skipped += stop - start
        which = f'frame {start}' if stop == start + 1 else f'frames {start}..{stop - 1}'
        warnings.warn(f'{self.name}: skipped {which}: {reason}', CorruptFrameWarning, stacklevel=3)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f'{self.name} is closed')

    @abc.abstractmethod
    def _iter_frames(self) -> Iterator[np.ndarray]:
        """Yield decodable frames in order, calling ``_skip_frames`` for the others."""

    def _read_frame(self, index: int) -> np.ndarray:
        raise TypeError(f'{self.name} is not seekable')

    def _release(self) -> None:
        """Release file or device handles."""
