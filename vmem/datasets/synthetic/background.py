"""Procedural backgrounds tied to cameras, and the slow pan across them.

Each camera owns a canvas 1.5x the frame size (multi-octave value noise between two
colours, a gradient and soft blotches), seeded by the base seed and the camera index only:
the same camera looks the same in every split and video, which per-camera long-term
memory can exploit. Each video varies it a little (gain, tint, a few untextured
distractor shapes) and pans a frame-sized window across it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .config import SHAPES
from .sprites import Appearance, composite, render_sprite

CANVAS_FACTOR = 1.5
NOISE_OCTAVES = ((3, 1.0), (6, 0.6), (12, 0.4), (24, 0.25), (48, 0.15), (96, 0.1))  # (cells, weight)


def camera_canvas(rng: np.random.Generator, *, width: int, height: int) -> np.ndarray:
    """A float32 RGB canvas (0-255) larger than the frame, to pan across."""
    canvas_w, canvas_h = int(round(width * CANVAS_FACTOR)), int(round(height * CANVAS_FACTOR))
    field = np.zeros((canvas_h, canvas_w), np.float32)
    for cells, weight in NOISE_OCTAVES:
        grid = rng.random((max(2, cells * canvas_h // canvas_w), cells)).astype(np.float32)
        field += weight * cv2.resize(grid, (canvas_w, canvas_h), interpolation=cv2.INTER_CUBIC)
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
    direction = rng.uniform(0.0, 2.0 * math.pi)
    ramp = (np.cos(direction) * np.linspace(-0.5, 0.5, canvas_w, dtype=np.float32)[None, :]
            + np.sin(direction) * np.linspace(-0.5, 0.5, canvas_h, dtype=np.float32)[:, None])
    field = np.clip(0.75 * field + 0.5 * ramp + 0.15, 0.0, 1.0)
    dark, light = rng.uniform(30.0, 140.0, size=3), rng.uniform(110.0, 230.0, size=3)
    canvas = dark + field[..., None] * (light - dark)
    canvas = _add_blotches(rng, canvas.astype(np.float32), count=int(rng.integers(6, 16)))
    grain = rng.normal(0.0, 6.0, size=canvas.shape).astype(np.float32)
    return canvas + cv2.GaussianBlur(grain, (0, 0), 0.8)


def video_canvas(rng: np.random.Generator, canvas: np.ndarray, *, object_radius: tuple[float, float],
                 num_distractors: tuple[int, int]) -> np.ndarray:
    """The camera's canvas as one video sees it: its own lighting and distractors."""
    gain = rng.uniform(0.85, 1.15) * rng.uniform(0.95, 1.05, size=3)
    canvas = (canvas * gain.astype(np.float32)).astype(np.float32)
    for _ in range(int(rng.integers(num_distractors[0], num_distractors[1] + 1))):
        colour = tuple(float(v) for v in rng.uniform(35.0, 220.0, size=3))
        look = Appearance(shape=SHAPES[int(rng.integers(len(SHAPES)))], texture=None,
                          base_colour=colour, pattern_colour=colour)
        center = (rng.uniform(0, canvas.shape[1]), rng.uniform(0, canvas.shape[0]))
        composite(canvas, render_sprite(look, center=center, radius=rng.uniform(*object_radius),
                                        angle=rng.uniform(0.0, 2.0 * math.pi)))
    return canvas


def _add_blotches(rng: np.random.Generator, canvas: np.ndarray, *, count: int) -> np.ndarray:
    height, width = canvas.shape[:2]
    paint = np.zeros_like(canvas)
    coverage = np.zeros((height, width), np.float32)
    for _ in range(count):
        center = (int(rng.integers(width)), int(rng.integers(height)))
        axes = (int(rng.integers(width // 20 + 2, width // 6 + 3)),
                int(rng.integers(height // 20 + 2, height // 6 + 3)))
        angle = float(rng.uniform(0, 180))
        colour = rng.uniform(20.0, 235.0, size=3)
        mask = np.zeros((height, width), np.uint8)
        cv2.ellipse(mask, center, axes, angle, 0, 360, 1, thickness=-1)
        paint[mask > 0] = colour
        coverage[mask > 0] = 1.0
    sigma = 0.01 * (width + height)
    coverage = cv2.GaussianBlur(coverage, (0, 0), sigma)
    paint = cv2.GaussianBlur(paint, (0, 0), sigma)
    opacity = 0.5 * coverage[..., None]
    # Blurred paint is premultiplied by blurred coverage; divide it back out where covered.
    return canvas * (1.0 - opacity) + opacity * paint / np.maximum(coverage[..., None], 1e-3)


@dataclass
class CameraPan:
    """Window centre moves at a constant velocity and bounces inside the canvas."""
    start: tuple[float, float]
    velocity: tuple[float, float]

    @classmethod
    def sample(cls, rng: np.random.Generator, *, max_speed: float) -> CameraPan:
        speed, direction = rng.uniform(0.0, max_speed), rng.uniform(0.0, 2.0 * math.pi)
        return cls(start=(float(rng.random()), float(rng.random())),
                   velocity=(speed * math.cos(direction), speed * math.sin(direction)))

    def crop(self, canvas: np.ndarray, frame_id: int, *, width: int, height: int) -> np.ndarray:
        canvas_h, canvas_w = canvas.shape[:2]
        center = []
        for start, velocity, size, canvas_size in ((self.start[0], self.velocity[0], width, canvas_w),
                                                   (self.start[1], self.velocity[1], height, canvas_h)):
            travel = canvas_size - size - 2  # room to move, keeping the window inside
            position = _bounce(start * travel + velocity * frame_id, travel)
            center.append(1.0 + position + (size - 1) / 2.0)
        return cv2.getRectSubPix(canvas, (width, height), tuple(center))


def _bounce(position: float, length: float) -> float:
    """Reflect ``position`` into [0, length] (a triangle wave)."""
    if length <= 0:
        return 0.0
    period = position % (2.0 * length)
    return period if period <= length else 2.0 * length - period
