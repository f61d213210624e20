"""Reading the DAVIS 2017 folder layout; shared by ``DAVISDataset`` and ``VOSMetric``.

``<root>/ImageSets/2017/<split>.txt`` lists video names, one per line;
``<root>/JPEGImages/<resolution>/<video>/*.jpg`` are the frames (sorted by name);
``<root>/Annotations/<resolution>/<video>/<frame>.png`` are indexed PNGs whose pixel value is
the object id (0 background, 255 void). Annotations are matched to frames by file stem.
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from PIL import Image

VOID_LABEL = 255


@dataclass
class DavisVideoFiles:
    """One video's frame files and, per frame, the path its annotation PNG has (or would have)."""

    name: str
    frames: List[str]
    masks: List[str]

    def has_mask(self, position: int) -> bool:
        return osp.isfile(self.masks[position])


def davis_split_file(data_root: str, split: str) -> str:
    return osp.join(data_root, 'ImageSets', '2017', f'{split}.txt')


def davis_split_videos(data_root: str, split: str) -> List[str]:
    """Video names of ``split`` in file order; blank lines are skipped."""
    path = davis_split_file(data_root, split)
    if not osp.isfile(path):
        raise FileNotFoundError(f'DAVIS split file not found: {path} (split={split!r}, '
                                f'data_root={data_root!r})')
    with open(path, encoding='utf-8') as f:
        names = [line.strip() for line in f if line.strip()]
    if not names:
        raise ValueError(f'{path} lists no videos')
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f'{path} lists video(s) {duplicates} more than once')
    return names


def davis_video_files(data_root: str, resolution: str, name: str) -> DavisVideoFiles:
    """The sorted frames of video ``name`` and the paths of their annotation PNGs."""
    frame_dir = osp.join(data_root, 'JPEGImages', resolution, name)
    if not osp.isdir(frame_dir):
        raise FileNotFoundError(f'DAVIS video folder not found: {frame_dir} '
                                f'(video {name!r} is listed in the split file)')
    frames = sorted(f for f in os.listdir(frame_dir) if f.lower().endswith('.jpg'))
    if not frames:
        raise ValueError(f'DAVIS video {name!r} has no .jpg frames in {frame_dir}')
    mask_dir = osp.join(data_root, 'Annotations', resolution, name)
    masks = [osp.join(mask_dir, osp.splitext(frame)[0] + '.png') for frame in frames]
    return DavisVideoFiles(name=name, frames=[osp.join(frame_dir, f) for f in frames], masks=masks)


def image_size(path: str) -> Tuple[int, int]:
    """(height, width) from the file header, without decoding the pixels."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError) as error:
        raise ValueError(f'cannot read image {path}: {error}') from error
    return height, width


def read_label_map(path: str) -> np.ndarray:
    """An indexed PNG as its uint8 [H, W] palette indices (= object ids).

    PIL keeps palette indices for mode 'P' (and grey values for 'L'); cv2 would convert to
    BGR colours, which is why this reads with PIL.
    """
    try:
        with Image.open(path) as image:
            if image.mode not in ('P', 'L'):
                raise ValueError(f'{path}: expected an indexed (palette) or greyscale PNG whose '
                                 f'values are object ids, got PIL mode {image.mode!r}')
            return np.array(image, dtype=np.uint8)
    except OSError as error:
        raise ValueError(f'cannot read annotation {path}: {error}') from error


def object_ids_in(label_map: np.ndarray) -> Tuple[int, ...]:
    """Object ids present in a label map (neither background 0 nor void 255)."""
    counts = np.bincount(label_map.ravel(), minlength=256)
    counts[0] = counts[VOID_LABEL] = 0
    return tuple(int(i) for i in np.flatnonzero(counts))
