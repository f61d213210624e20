"""A synthetic anomaly-detection set in the MVTec AD layout, generated in seconds.

Each category is a procedural texture (stripes, weave, smooth noise, dots) whose phase,
orientation and colour vary a little from image to image, so "normal" is a distribution
rather than one picture. Test images get one pasted defect, with its mask:

* ``scratch``: a thin polyline in a contrasting colour;
* ``blob``: a soft-edged ellipse where the texture is recoloured;
* ``missing``: a rectangle where the texture is gone (flat background shows through).

The layout is MVTec AD's, so the same dataset class reads it and the real data:
``<root>/<category>/train/good/*.png``, ``test/good``, ``test/<defect>/*.png`` and
``ground_truth/<defect>/<name>_mask.png`` (255 = anomalous).

    python tools/dataset_converters/make_synthetic_anomaly.py --out-dir data/synthetic_anomaly
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

DEFECTS = ('scratch', 'blob', 'missing')


def _grid(size: int, angle: float) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    cos, sin = np.cos(angle), np.sin(angle)
    return xs * cos + ys * sin, -xs * sin + ys * cos


def _stripes(rng: np.random.Generator, size: int) -> np.ndarray:
    u, _ = _grid(size, rng.normal(0.5, 0.05))
    period = size / rng.uniform(9.0, 10.0)
    return 0.5 + 0.5 * np.sin(2 * np.pi * u / period + rng.uniform(0, 2 * np.pi))


def _weave(rng: np.random.Generator, size: int) -> np.ndarray:
    u, v = _grid(size, rng.normal(0.0, 0.03))
    period = size / rng.uniform(11.0, 12.0)
    phase = rng.uniform(0, 2 * np.pi, size=2)
    warp = np.sin(2 * np.pi * u / period + phase[0])
    weft = np.sin(2 * np.pi * v / period + phase[1])
    over = np.sign(np.sin(np.pi * u / period + phase[0]) * np.sin(np.pi * v / period + phase[1]))
    return 0.5 + 0.25 * np.where(over > 0, warp, weft) + 0.25 * warp * weft


def _noise(rng: np.random.Generator, size: int) -> np.ndarray:
    field = np.zeros((size, size), np.float32)
    for cells, weight in ((8, 1.0), (16, 0.5), (32, 0.25)):
        grid = rng.normal(size=(cells, cells)).astype(np.float32)
        field += weight * cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    field = (field - field.min()) / max(1e-6, float(field.max() - field.min()))
    return field


def _dots(rng: np.random.Generator, size: int) -> np.ndarray:
    u, v = _grid(size, rng.normal(0.0, 0.05))
    period = size / rng.uniform(7.5, 8.5)
    offset = rng.uniform(0, period, size=2)
    du = (u + offset[0]) % period - period / 2
    dv = (v + offset[1]) % period - period / 2
    return np.clip(1.0 - np.sqrt(du ** 2 + dv ** 2) / (0.35 * period), 0, 1)


TEXTURES: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    'stripes': _stripes, 'weave': _weave, 'noise': _noise, 'dots': _dots}
# Two colours per category, blended by the texture's intensity.
PALETTES = {
    'stripes': ((40, 60, 120), (200, 190, 150)),
    'weave': ((90, 60, 40), (210, 180, 120)),
    'noise': ((60, 90, 60), (170, 200, 160)),
    'dots': ((30, 30, 40), (220, 120, 60)),
}


def normal_image(category: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """One defect-free RGB uint8 image of ``category``."""
    if category not in TEXTURES:
        raise ValueError(f'unknown category {category!r}; known: {sorted(TEXTURES)}')
    intensity = TEXTURES[category](rng, size)[..., None]
    dark, light = (np.array(color, np.float32) * rng.uniform(0.95, 1.05) for color in PALETTES[category])
    image = dark + (light - dark) * intensity
    image += rng.normal(0, 3.0, image.shape)  # sensor noise
    return np.clip(image, 0, 255).astype(np.uint8)


def _defect_scratch(image, rng, size):
    mask = np.zeros((size, size), np.uint8)
    points = [rng.uniform(0.2, 0.8, 2) * size]
    for _ in range(int(rng.integers(2, 4))):
        step = rng.normal(0, 0.15, 2) * size
        points.append(np.clip(points[-1] + step, 0.05 * size, 0.95 * size))
    thickness = max(1, int(round(size * rng.uniform(0.015, 0.03))))
    cv2.polylines(mask, [np.array(points, np.int32)], False, 255, thickness)
    color = rng.choice([0, 255]) + rng.normal(0, 10, 3)
    return mask, np.broadcast_to(color, image.shape)


def _defect_blob(image, rng, size):
    mask = np.zeros((size, size), np.uint8)
    center = tuple(int(c) for c in rng.uniform(0.25, 0.75, 2) * size)
    axes = tuple(int(a) for a in rng.uniform(0.06, 0.14, 2) * size)
    cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    tint = image.astype(np.float32)[..., ::-1] * 0.6 + rng.uniform(0, 100, 3)  # recoloured texture
    return mask, tint


def _defect_missing(image, rng, size):
    mask = np.zeros((size, size), np.uint8)
    w, h = (rng.uniform(0.1, 0.2, 2) * size).astype(int)
    x, y = (rng.uniform(0.15, 0.85, 2) * size - [w / 2, h / 2]).astype(int)
    mask[max(0, y):y + h, max(0, x):x + w] = 255
    flat = np.full(image.shape, image.reshape(-1, 3).mean(0), np.float32) + rng.normal(0, 3.0, image.shape)
    return mask, flat


_DEFECT_MAKERS = {'scratch': _defect_scratch, 'blob': _defect_blob, 'missing': _defect_missing}


def paste_defect(image: np.ndarray, defect: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with one ``defect`` pasted in, and its mask (uint8, 255 = anomalous)."""
    if defect not in _DEFECT_MAKERS:
        raise ValueError(f'unknown defect {defect!r}; known: {list(DEFECTS)}')
    size = image.shape[0]
    mask, fill = _DEFECT_MAKERS[defect](image, rng, size)
    # a 1-px feathered edge blends the paste in; the mask stays the hard region
    alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255, (3, 3), 0)[..., None]
    blended = image.astype(np.float32) * (1 - alpha) + np.asarray(fill, np.float32) * alpha
    return np.clip(blended, 0, 255).astype(np.uint8), mask


@dataclass
class CategorySummary:
    category: str
    num_train: int
    num_test_good: int
    num_test_defective: int


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), image):
        raise OSError(f'cannot write {path}')


def generate_category(out_dir: str | os.PathLike, category: str, *, num_train: int = 100,
                      num_test_good: int = 20, num_test_per_defect: int = 15, size: int = 128,
                      defects: Sequence[str] = DEFECTS, seed: int = 0) -> CategorySummary:
    """Write one category under ``out_dir/category`` in the MVTec AD layout."""
    if size < 32:
        raise ValueError(f'size must be at least 32 pixels, got {size}')
    for name, number in (('num_train', num_train), ('num_test_good', num_test_good),
                         ('num_test_per_defect', num_test_per_defect)):
        if number < 0:
            raise ValueError(f'{name} must be >= 0, got {number}')
    # one stream per category, so adding a category leaves the others' images unchanged
    rng = np.random.default_rng([seed, sorted(TEXTURES).index(category) if category in TEXTURES else -1])
    root = Path(out_dir) / category
    for index in range(num_train):
        _write(root / 'train' / 'good' / f'{index:03d}.png', normal_image(category, rng, size))
    for index in range(num_test_good):
        _write(root / 'test' / 'good' / f'{index:03d}.png', normal_image(category, rng, size))
    for defect in defects:
        for index in range(num_test_per_defect):
            image, mask = paste_defect(normal_image(category, rng, size), defect, rng)
            _write(root / 'test' / defect / f'{index:03d}.png', image)
            _write(root / 'ground_truth' / defect / f'{index:03d}_mask.png', mask)
    return CategorySummary(category, num_train, num_test_good, num_test_per_defect * len(defects))


def generate_synthetic_anomaly(out_dir: str | os.PathLike, *, categories: Sequence[str] = tuple(TEXTURES),
                               **kwargs) -> list[CategorySummary]:
    """Write every category of ``categories``; keyword arguments as `generate_category`."""
    unknown = [name for name in categories if name not in TEXTURES]
    if unknown:
        raise ValueError(f'unknown categories {unknown}; known: {sorted(TEXTURES)}')
    return [generate_category(out_dir, category, **kwargs) for category in categories]
