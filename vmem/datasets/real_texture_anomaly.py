"""An anomaly-detection set from real photographs, in the MVTec AD layout.

Each category is one real texture photo from scikit-image (``brick``, ``grass``, ``gravel``;
CC0, fetched by ``make assets``). Normal images are crops of the texture: training crops
from its top part, test crops from its bottom part, so no test image repeats a training
one. Test images get one defect, with its mask:

* ``foreign``: a soft-edged region of another real photo (scikit-image's coffee, chelsea or
  astronaut), brought to the texture's brightness and contrast, as a piece of something
  else lying on the surface;
* ``scratch``: a thin polyline, darker or lighter than the texture, whose texture shows
  through faintly;
* ``hole``: an irregular dark region with a shaded rim, as a hole or a burn.

Images are grey (the photos are) and written as RGB PNGs.

    python tools/dataset_converters/make_real_texture_anomaly.py --out-dir data/real_texture_anomaly
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import cv2
import numpy as np

TEXTURES = ('brick', 'grass', 'gravel')
FOREIGN_PHOTOS = ('coffee', 'chelsea', 'astronaut')
DEFECTS = ('foreign', 'scratch', 'hole')
TRAIN_FRACTION = 0.6  # rows of the photo that training crops come from; test crops from the rest


def _grey(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _crop(photo: np.ndarray, rows: tuple[int, int], size: int, rng: np.random.Generator) -> np.ndarray:
    top = int(rng.integers(rows[0], rows[1] - size + 1))
    left = int(rng.integers(0, photo.shape[1] - size + 1))
    return photo[top:top + size, left:left + size].astype(np.float32)


def _soft_blob(size: int, rng: np.random.Generator, scale: tuple[float, float]) -> np.ndarray:
    """An irregular filled region (a union of ellipses), uint8 255 inside."""
    mask = np.zeros((size, size), np.uint8)
    center = rng.uniform(0.3, 0.7, 2) * size
    for _ in range(int(rng.integers(2, 5))):
        offset = rng.normal(0, 0.05, 2) * size
        axes = tuple(int(a) for a in rng.uniform(*scale, 2) * size)
        cv2.ellipse(mask, tuple(int(c) for c in center + offset), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    return mask


def _foreign(texture: np.ndarray, rng: np.random.Generator, foreign: Sequence[np.ndarray]) -> tuple:
    size = texture.shape[0]
    mask = _soft_blob(size, rng, (0.08, 0.16))
    source = _grey(foreign[int(rng.integers(len(foreign)))]).astype(np.float32)
    patch = _crop(source, (0, source.shape[0]), size, rng)
    # the texture's own brightness and contrast: the region differs in content, not in level
    patch = (patch - patch.mean()) / (patch.std() + 1e-6) * texture.std() + texture.mean()
    return mask, patch


def _scratch(texture: np.ndarray, rng: np.random.Generator, foreign) -> tuple:
    size = texture.shape[0]
    mask = np.zeros((size, size), np.uint8)
    points = [rng.uniform(0.2, 0.8, 2) * size]
    for _ in range(int(rng.integers(2, 4))):
        points.append(np.clip(points[-1] + rng.normal(0, 0.15, 2) * size, 0.05 * size, 0.95 * size))
    thickness = max(3, int(round(size * rng.uniform(0.02, 0.035))))
    cv2.polylines(mask, [np.array(points, np.int32)], False, 255, thickness)
    level = texture.mean() + rng.choice([-1.0, 1.0]) * rng.uniform(2.5, 3.5) * texture.std()
    return mask, 0.85 * np.clip(level, 0, 255) + 0.15 * texture


def _hole(texture: np.ndarray, rng: np.random.Generator, foreign) -> tuple:
    size = texture.shape[0]
    mask = _soft_blob(size, rng, (0.05, 0.11))
    # darker towards the inside: the distance from the rim shades the hole
    depth = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    depth = depth / max(float(depth.max()), 1.0)
    return mask, texture * (0.45 - 0.35 * depth) + 8.0 * rng.normal(size=texture.shape)


_DEFECT_MAKERS: Mapping[str, Callable] = {'foreign': _foreign, 'scratch': _scratch, 'hole': _hole}


def add_defect(texture: np.ndarray, defect: str, rng: np.random.Generator,
               foreign: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``texture`` (grey float32) with one ``defect``, as uint8, and its mask (255 = anomalous)."""
    if defect not in _DEFECT_MAKERS:
        raise ValueError(f'unknown defect {defect!r}; known: {list(DEFECTS)}')
    mask, fill = _DEFECT_MAKERS[defect](texture, rng, foreign)
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255, (5, 5), 0)  # feathered edge, hard mask
    blended = texture * (1 - alpha) + np.asarray(fill, np.float32) * alpha
    return np.clip(blended, 0, 255).astype(np.uint8), mask


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image):
        raise OSError(f'cannot write {path}')


def generate_real_texture_category(out_dir: str | os.PathLike, category: str, *, photos: Mapping[str, np.ndarray],
                                   num_train: int = 60, num_test_good: int = 20, num_test_per_defect: int = 10,
                                   size: int = 160, seed: int = 0) -> dict:
    """Write ``out_dir/category`` from ``photos`` (name -> RGB or grey uint8 image, holding
    ``category`` and the foreign photos). Returns the number of images of each kind."""
    missing = [name for name in (category, *FOREIGN_PHOTOS) if name not in photos]
    if missing:
        raise ValueError(f'photos lacks {missing} (vmem.utils.assets fetches them: make assets)')
    texture = _grey(photos[category])
    split = int(texture.shape[0] * TRAIN_FRACTION)
    if min(split, texture.shape[0] - split, texture.shape[1]) < size:
        raise ValueError(f'{category}: a {texture.shape[1]}x{texture.shape[0]} photo cannot give {size}-px crops '
                         f'from both its top {TRAIN_FRACTION:.0%} and the rest')
    rng = np.random.default_rng([seed, TEXTURES.index(category) if category in TEXTURES else 99])
    foreign = [photos[name] for name in FOREIGN_PHOTOS]
    train_rows, test_rows = (0, split), (split, texture.shape[0])
    root = Path(out_dir) / category
    for index in range(num_train):
        _write(root / 'train' / 'good' / f'{index:03d}.png', _crop(texture, train_rows, size, rng).astype(np.uint8))
    for index in range(num_test_good):
        _write(root / 'test' / 'good' / f'{index:03d}.png', _crop(texture, test_rows, size, rng).astype(np.uint8))
    for defect in DEFECTS:
        for index in range(num_test_per_defect):
            image, mask = add_defect(_crop(texture, test_rows, size, rng), defect, rng, foreign)
            _write(root / 'test' / defect / f'{index:03d}.png', image)
            _write(root / 'ground_truth' / defect / f'{index:03d}_mask.png', mask)
    return dict(train=num_train, test_good=num_test_good, test_defective=num_test_per_defect * len(DEFECTS))


def load_asset_photos() -> dict:
    """The textures and foreign photos, from the asset cache (``make assets``)."""
    from vmem.utils.assets import asset_path
    from vmem.video import read_image
    return {name: read_image(str(asset_path(f'{name}.png'))) for name in (*TEXTURES, *FOREIGN_PHOTOS)}
