"""`open_video`: one entry point for video files, webcams, frame folders and image lists."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .frame_source import FrameSource
from .image_io import is_image_path
from .image_sequence import ImageSequenceSource, list_frame_folder
from .video_file import open_video_file
from .webcam import WebcamSource

VideoSourceSpec = int | str | os.PathLike | Sequence[str | os.PathLike]


def open_video(source: VideoSourceSpec, *, backend: str = 'auto', fps: float | None = None) -> FrameSource:
    """Open ``source`` as a :class:`FrameSource` of RGB uint8 frames.

    - an int, or a string of digits such as ``"0"``: a webcam (pass ``Path("0")`` or
      ``"./0"`` for a file or folder literally named ``0``);
    - a folder: its .jpg/.jpeg/.png/.bmp images in natural order (frame_2 before frame_10);
    - a list or tuple of image paths: those images in that order;
    - an image file: a one-frame source;
    - any other file: a video, decoded by decord or OpenCV (``backend='auto'|'decord'|'opencv'``).

    ``fps`` states the frame rate of image sources, which have none of their own.
    """
    if isinstance(source, bool):
        raise TypeError('source must be a path, a webcam index or a list of image paths, got a bool')
    is_webcam = isinstance(source, int) or (isinstance(source, str) and source.strip().isdigit())
    is_images = isinstance(source, (list, tuple))
    if fps is not None and not is_images and (is_webcam or not _is_image_path_or_folder(source)):
        raise ValueError('fps can only be given for frame folders, image lists and images; '
                         'videos and webcams report their own')
    if is_webcam:
        return WebcamSource(index=int(source))
    if is_images:
        return ImageSequenceSource(paths=source, fps=fps)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f'source must be a path, a webcam index or a list of image paths, '
                        f'got {type(source).__name__}')
    path = Path(source)
    if path.is_dir():
        return ImageSequenceSource(paths=list_frame_folder(path), name=str(path), fps=fps)
    if is_image_path(path):
        return ImageSequenceSource(paths=[path], name=str(path), fps=fps)
    return open_video_file(path, backend=backend)


def _is_image_path_or_folder(source: object) -> bool:
    return isinstance(source, (str, os.PathLike)) and (Path(source).is_dir() or is_image_path(source))
