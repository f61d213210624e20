"""Reading and writing single images as RGB uint8 arrays."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .errors import VideoReadError

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


def is_image_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` has one of the image extensions vmem reads (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as an RGB uint8 array (H, W, 3); grey and RGBA images become RGB."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'image file not found: {str(path)!r}')
    # cv2.imread cannot open non-ASCII paths on Windows; decoding the bytes ourselves can.
    data = np.fromfile(str(path), dtype=np.uint8)
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise VideoReadError(f'cannot decode image file {str(path)!r} (corrupt or not an image)')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB uint8 array (H, W, 3) to an image file, creating parent folders."""
    path = Path(path)
    check_rgb_frame(rgb, what=f'image for {str(path)!r}')
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(path.suffix or '.png', cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f'cannot encode an image with the extension of {str(path)!r}')
    encoded.tofile(str(path))


def check_rgb_frame(frame: object, *, what: str) -> None:
    """Raise a TypeError/ValueError naming ``what`` unless ``frame`` is an RGB uint8 (H, W, 3) array."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f'{what}: expected a numpy array, got {type(frame).__name__}')
    if frame.dtype != np.uint8:
        raise TypeError(f'{what}: expected dtype uint8, got {frame.dtype}')
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f'{what}: expected shape (H, W, 3), got {frame.shape}')
