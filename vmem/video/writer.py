"""Writing RGB frames to an mp4 file with OpenCV."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import VideoWriteError
from .image_io import check_rgb_frame


class VideoWriter:
    """Write RGB uint8 frames (H, W, 3) to ``path`` as MPEG-4 Part 2 (fourcc ``mp4v``).

    ``frame_size`` is (width, height); when None it is taken from the first frame. Every
    frame must have that size. Parent folders are created. Use as a context manager.
    """

    fourcc = 'mp4v'

    def __init__(self, path: str | os.PathLike, *, fps: float,
                 frame_size: tuple[int, int] | None = None) -> None:
        self.path = Path(path)
        if not fps > 0:
            raise ValueError(f'fps must be positive, got {fps!r} (writing {str(self.path)!r})')
        if frame_size is not None:
            if (len(frame_size) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in frame_size)):
                raise ValueError(f'frame_size must be (width, height) positive ints, got {frame_size!r}')
            frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.fps = float(fps)
        self.frame_size = frame_size
        self.num_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._closed = False
        if frame_size is not None:
            self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, self.frame_size)
        if not writer.isOpened():
            writer.release()
            raise VideoWriteError(f'OpenCV cannot open {str(self.path)!r} for writing with fourcc '
                                  f'{self.fourcc!r} (unwritable path or unsupported extension)')
        self._writer = writer

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 frame."""
        if self._closed:
            raise ValueError(f'video writer for {str(self.path)!r} is closed')
        check_rgb_frame(frame, what=f'frame {self.num_written} for {str(self.path)!r}')
        height, width = frame.shape[:2]
        if self.frame_size is None:
            self.frame_size = (width, height)
            self._open()
        if (width, height) != self.frame_size:
            raise ValueError(f'frame {self.num_written} for {str(self.path)!r} is {width}x{height}, '
                             f'expected {self.frame_size[0]}x{self.frame_size[1]} (width x height)')
        self._writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.num_written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        self._closed = True

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, '_writer', None) is not None:
            self._writer.release()
