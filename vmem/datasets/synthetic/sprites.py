"""Object sprites: a shape's silhouette filled with a stripes or dots texture.

A sprite is rendered into a small square patch around the object, in premultiplied colour
(``colour = rgb * alpha``), so blurring it and compositing it are plain linear filters.
Geometry is in object units (radius 1); the texture is attached to the object, so it moves,
turns and scales with it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

# Half-sizes chosen so the four shapes have roughly equal area (disc: pi).
SQUARE_HALF_SIDE = 0.886
TRIANGLE_CIRCUMRADIUS = 1.35
CROSS_ARM_LENGTH, CROSS_ARM_WIDTH = 1.05, 0.36
# Farthest silhouette point from the centre, in radii.
EXTENT = {'disc': 1.0, 'square': SQUARE_HALF_SIDE * math.sqrt(2.0), 'triangle': TRIANGLE_CIRCUMRADIUS,
          'cross': math.hypot(CROSS_ARM_LENGTH, CROSS_ARM_WIDTH)}
MAX_EXTENT = max(EXTENT.values())


@dataclass(frozen=True)
class Appearance:
    """How one object looks; fixed for the whole video so other frames can vouch for it."""
    shape: str
    texture: str | None  # 'stripes', 'dots', or None for an untextured distractor
    base_colour: tuple[float, float, float]
    pattern_colour: tuple[float, float, float]
    period: float = 0.4  # texture period, object units
    pattern_angle: float = 0.0
    phase: tuple[float, float] = (0.0, 0.0)
    dot_fraction: float = 0.3  # dot radius / period


@dataclass
class Sprite:
    """A premultiplied patch whose top-left pixel sits at image position (x0, y0)."""
    colour: np.ndarray  # float32 (h, w, 3)
    alpha: np.ndarray  # float32 (h, w)
    silhouette: np.ndarray  # bool (h, w): the sharp object, what boxes and masks describe
    x0: int
    y0: int

    def with_layers(self, colour: np.ndarray, alpha: np.ndarray) -> Sprite:
        return replace(self, colour=colour, alpha=alpha)


def sample_appearance(rng: np.random.Generator, *, shape: str, texture: str | None,
                      texture_contrast: float) -> Appearance:
    """Colours are drawn independently of the class, so only outline + texture name it."""
    base = rng.uniform(35.0, 220.0, size=3)
    # The pattern differs mostly in brightness, away from the nearer end of the range.
    sign = -1.0 if base.mean() > 127.5 else 1.0
    amplitude = texture_contrast * rng.uniform(70.0, 120.0)
    pattern = np.clip(base + sign * amplitude * rng.uniform(0.5, 1.0, size=3), 0.0, 255.0)
    if texture == 'stripes':
        period = rng.uniform(0.32, 0.5)
    else:
        period = rng.uniform(0.45, 0.65)
    return Appearance(
        shape=shape, texture=texture,
        base_colour=tuple(float(v) for v in base),
        pattern_colour=tuple(float(v) for v in pattern),
        period=float(period), pattern_angle=float(rng.uniform(0.0, math.pi)),
        phase=(float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 1.0))),
        dot_fraction=float(rng.uniform(0.25, 0.35)))


def render_sprite(appearance: Appearance, *, center: tuple[float, float], radius: float,
                  angle: float, pad: int = 0) -> Sprite:
    """Render the object at ``center`` (pixel coordinates, pixel centres at +0.5)."""
    half = int(math.ceil(radius * MAX_EXTENT)) + 2 + pad
    cx, cy = center
    x0, y0 = int(math.floor(cx)) - half, int(math.floor(cy)) - half
    size = 2 * half + 1
    xs = (np.arange(size, dtype=np.float32) + (x0 + 0.5 - cx)) / radius
    ys = (np.arange(size, dtype=np.float32) + (y0 + 0.5 - cy)) / radius
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    u = xs[None, :] * cos_a + ys[:, None] * sin_a
    v = ys[:, None] * cos_a - xs[None, :] * sin_a
    distance = _signed_distance(appearance.shape, u, v)
    alpha = np.clip(0.5 - distance * radius, 0.0, 1.0)  # a one-pixel antialiased edge
    pattern = _pattern(appearance, u, v, radius)
    base = np.asarray(appearance.base_colour, dtype=np.float32)
    ink = np.asarray(appearance.pattern_colour, dtype=np.float32)
    rgb = base + pattern[..., None] * (ink - base)
    return Sprite(colour=(rgb * alpha[..., None]).astype(np.float32), alpha=alpha.astype(np.float32),
                  silhouette=distance <= 0.0, x0=x0, y0=y0)


def _signed_distance(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Approximate signed distance to the outline (negative inside), in object units."""
    if shape == 'disc':
        return np.sqrt(u * u + v * v) - 1.0
    if shape == 'square':
        return np.maximum(np.abs(u), np.abs(v)) - SQUARE_HALF_SIDE
    if shape == 'triangle':
        inradius = TRIANGLE_CIRCUMRADIUS / 2.0
        edges = [u * math.cos(a) + v * math.sin(a)
                 for a in (math.pi / 2, math.pi / 2 + 2 * math.pi / 3, math.pi / 2 + 4 * math.pi / 3)]
        return np.maximum(np.maximum(edges[0], edges[1]), edges[2]) - inradius
    if shape == 'cross':
        au, av = np.abs(u), np.abs(v)
        horizontal = np.maximum(au - CROSS_ARM_LENGTH, av - CROSS_ARM_WIDTH)
        vertical = np.maximum(au - CROSS_ARM_WIDTH, av - CROSS_ARM_LENGTH)
        return np.minimum(horizontal, vertical)
    raise ValueError(f'unknown SynthVID shape {shape!r}')


def _pattern(appearance: Appearance, u: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """Pattern weight in [0, 1]: 0 is the base colour, 1 the pattern colour."""
    if appearance.texture is None:
        return np.zeros_like(u)
    cos_p, sin_p = math.cos(appearance.pattern_angle), math.sin(appearance.pattern_angle)
    a = (u * cos_p + v * sin_p) / appearance.period + appearance.phase[0]
    if appearance.texture == 'stripes':
        # A square wave with soft edges, so thin stripes don't alias into moire.
        return np.clip(0.5 + 1.5 * np.sin(2.0 * math.pi * a), 0.0, 1.0)
    if appearance.texture == 'dots':
        b = (v * cos_p - u * sin_p) / appearance.period + appearance.phase[1]
        da, db = a - np.round(a), b - np.round(b)
        distance = np.sqrt(da * da + db * db) * appearance.period  # object units
        dot_radius = appearance.dot_fraction * appearance.period
        return np.clip(0.5 - (distance - dot_radius) * radius, 0.0, 1.0)
    raise ValueError(f'unknown SynthVID texture {appearance.texture!r}')


def composite(frame: np.ndarray, sprite: Sprite) -> tuple[slice, slice, slice, slice] | None:
    """Draw the sprite over ``frame`` (float32, in place); return the (frame, patch) slices
    of the overlap, or None if the sprite lies outside the frame."""
    regions = overlap(frame.shape[:2], sprite)
    if regions is None:
        return None
    fy, fx, py, px = regions
    alpha = sprite.alpha[py, px, None]
    frame[fy, fx] = frame[fy, fx] * (1.0 - alpha) + sprite.colour[py, px]
    return regions


def overlap(frame_shape: tuple[int, int], sprite: Sprite):
    """Slices (frame_rows, frame_cols, patch_rows, patch_cols) where the patch meets the frame."""
    height, width = frame_shape
    ph, pw = sprite.alpha.shape
    top, left = max(sprite.y0, 0), max(sprite.x0, 0)
    bottom, right = min(sprite.y0 + ph, height), min(sprite.x0 + pw, width)
    if top >= bottom or left >= right:
        return None
    return (slice(top, bottom), slice(left, right),
            slice(top - sprite.y0, bottom - sprite.y0), slice(left - sprite.x0, right - sprite.x0))
