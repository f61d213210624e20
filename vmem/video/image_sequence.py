"""Frame folders, explicit lists of image files, and single images as frame sources."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .errors import VideoReadError
from .frame_source import FrameSource
from .image_io import is_image_path, read_image


def natural_sort_key(path: str | os.PathLike) -> list:
    """Sort key that orders embedded numbers by value: frame_2 before frame_10."""
    parts = re.split(r'(\d+)', Path(path).name.lower())
    return [(0, int(part), '') if part.isdigit() else (1, 0, part) for part in parts]


def list_frame_folder(folder: str | os.PathLike) -> list[Path]:
    """The image files directly inside ``folder``, in natural order."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f'frame folder not found: {str(folder)!r}')
    if not folder.is_dir():
        raise VideoReadError(f'not a folder: {str(folder)!r}')
    files = [path for path in folder.iterdir() if path.is_file() and is_image_path(path)]
    if not files:
        raise VideoReadError(f'frame folder {str(folder)!r} has no .jpg/.jpeg/.png/.bmp images')
    return sorted(files, key=natural_sort_key)


class ImageSequenceSource(FrameSource):
    """Images read one per frame, in the given order; seekable.

    ``height``/``width`` are those of the first image that decodes; later images are not
    resized. ``fps`` is whatever the caller states (image files carry none).
    """

    def __init__(self, *, paths: Sequence[str | os.PathLike], name: str | None = None,
                 fps: float | None = None) -> None:
        if isinstance(paths, (str, os.PathLike)):
            raise TypeError('paths must be a list of image paths; use open_video() for a folder or a file')
        if fps is not None and not fps > 0:
            raise ValueError(f'fps must be positive, got {fps}')
        self.paths = [Path(path) for path in paths]
        if not self.paths:
            raise ValueError('an image sequence needs at least one image path')
        for path in self.paths:
            if not path.is_file():
                raise FileNotFoundError(f'image file not found: {str(path)!r}')
        first = self._first_readable_image()
        super().__init__(name=name or str(self.paths[0].parent), num_frames=len(self.paths), fps=fps,
                         height=first.shape[0], width=first.shape[1], seekable=True)

    def _first_readable_image(self) -> np.ndarray:
        for path in self.paths:
            try:
                return read_image(path)
            except VideoReadError:
                continue
        raise VideoReadError(f'none of the {len(self.paths)} images from {str(self.paths[0])!r} on can be decoded')

    def _read_frame(self, index: int) -> np.ndarray:
        return read_image(self.paths[index])

    def _iter_frames(self) -> Iterator[np.ndarray]:
        for index, path in enumerate(self.paths):
            try:
                frame = read_image(path)
            except (VideoReadError, FileNotFoundError) as error:
                self._skip_frames(index, index + 1, str(error))
                continue
            yield frame
