"""Degradation bursts: where they fall in an object's life, and what they do to its sprite.

Bursts lie inside runs of frames where the object is visible and are separated by at least
one clean frame, so each annotated run of ``degraded`` frames is exactly one burst. Their
total aims at ``degraded_fraction`` of the object's visible frames (a last short remainder
becomes a minimum-length burst with matching probability, so the fraction is unbiased).
Every effect acts on the object only; its box stays the sharp object's extent.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .config import SynthVIDConfig
from .sprites import Sprite

OCCLUDER_SIDES = ('left', 'right', 'top', 'bottom')


@dataclass(frozen=True)
class Degradation:
    """One burst's effect; parameters are drawn once per burst."""
    kind: str
    blur_length: int = 0
    sigma: float = 0.0
    contrast: float = 1.0
    occluded_fraction: float = 0.0
    occluder_side: str = 'left'
    occluder_colour: tuple[float, float, float] = (0.0, 0.0, 0.0)


def schedule_bursts(rng: np.random.Generator, visible: np.ndarray, *, fraction: float,
                    burst_length: tuple[int, int]) -> list[tuple[int, int]]:
    """(start, length) of each burst over one object's frames."""
    shortest, longest = burst_length
    remaining = fraction * int(visible.sum())
    taken = np.zeros(len(visible), bool)
    bursts = []
    while remaining > 0:
        if remaining < shortest:
            if rng.random() >= remaining / shortest:
                break
            length = shortest
        else:
            length = int(rng.integers(shortest, min(longest, int(remaining)) + 1))
        starts = _free_starts(visible, taken, length)
        while starts.size == 0 and length > shortest:
            length -= 1
            starts = _free_starts(visible, taken, length)
        if starts.size == 0:
            break
        start = int(rng.choice(starts))
        taken[start:start + length] = True
        bursts.append((start, length))
        remaining -= length
    return sorted(bursts)


def _free_starts(visible: np.ndarray, taken: np.ndarray, length: int) -> np.ndarray:
    # A frame is free if visible and neither it nor a neighbour is already in a burst.
    near_taken = taken.copy()
    near_taken[1:] |= taken[:-1]
    near_taken[:-1] |= taken[1:]
    free = (visible & ~near_taken).astype(np.int32)
    if len(free) < length:
        return np.zeros(0, np.int64)
    window = np.convolve(free, np.ones(length, np.int32), mode='valid')
    return np.flatnonzero(window == length)


def sample_degradation(rng: np.random.Generator, config: SynthVIDConfig) -> Degradation:
    kind = config.degradation_types[int(rng.integers(len(config.degradation_types)))]
    if kind == 'blur':
        return Degradation(kind, blur_length=int(rng.integers(config.blur_kernel[0],
                                                               config.blur_kernel[1] + 1)))
    if kind == 'defocus_noise':
        return Degradation(kind, sigma=float(rng.uniform(*config.defocus_sigma)))
    if kind == 'contrast':
        return Degradation(kind, contrast=float(rng.uniform(*config.contrast_factor)))
    return Degradation(kind, occluded_fraction=float(rng.uniform(*config.occlusion)),
                       occluder_side=OCCLUDER_SIDES[int(rng.integers(len(OCCLUDER_SIDES)))],
                       occluder_colour=tuple(float(v) for v in rng.uniform(20.0, 235.0, size=3)))


def degrade_sprite(sprite: Sprite, degradation: Degradation, *, velocity: np.ndarray,
                   background: np.ndarray, noise_std: float, rng: np.random.Generator) -> Sprite:
    """Blur, defocus + noise or contrast drop; ``background`` is the frame under the sprite
    (needed by the contrast drop, which fades the object into its surroundings)."""
    if degradation.kind == 'blur':
        kernel = motion_kernel(degradation.blur_length, math.atan2(velocity[1], velocity[0]))
        return sprite.with_layers(cv2.filter2D(sprite.colour, -1, kernel, borderType=cv2.BORDER_CONSTANT),
                                  cv2.filter2D(sprite.alpha, -1, kernel, borderType=cv2.BORDER_CONSTANT))
    if degradation.kind == 'defocus_noise':
        colour = cv2.GaussianBlur(sprite.colour, (0, 0), degradation.sigma, borderType=cv2.BORDER_CONSTANT)
        alpha = cv2.GaussianBlur(sprite.alpha, (0, 0), degradation.sigma, borderType=cv2.BORDER_CONSTANT)
        noise = rng.normal(0.0, noise_std, size=colour.shape).astype(np.float32)
        return sprite.with_layers(colour + noise * alpha[..., None], alpha)
    if degradation.kind == 'contrast':
        # On premultiplied colour: alpha * (mean + c * (rgb - mean)).
        mean = background.reshape(-1, 3).mean(axis=0).astype(np.float32)
        faded = sprite.alpha[..., None] * mean
        return sprite.with_layers(faded + degradation.contrast * (sprite.colour - faded), sprite.alpha)
    return sprite


def motion_kernel(length: int, direction: float) -> np.ndarray:
    """A normalised line of ``length`` pixels through the centre, along ``direction``."""
    size = length if length % 2 else length + 1
    kernel = np.zeros((size, size), np.float32)
    center = size // 2
    dx, dy = math.cos(direction), math.sin(direction)
    for s in np.linspace(-(length - 1) / 2.0, (length - 1) / 2.0, 2 * length):
        # Bilinear splat keeps diagonal kernels as long as straight ones.
        x, y = center + s * dx, center + s * dy
        left, top = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - left, y - top
        for oy, wy in ((0, 1.0 - fy), (1, fy)):
            for ox, wx in ((0, 1.0 - fx), (1, fx)):
                if 0 <= top + oy < size and 0 <= left + ox < size:
                    kernel[top + oy, left + ox] += wx * wy
    return kernel / kernel.sum()


def occluder_for(sprite: Sprite, degradation: Degradation, inside: np.ndarray) -> Sprite | None:
    """A flat patch sliding over the object from one side, covering the requested fraction of
    its visible silhouette (``inside``: which patch pixels lie in the image)."""
    visible = sprite.silhouette & inside
    total = int(visible.sum())
    if total == 0:
        return None
    side = degradation.occluder_side
    counts = visible.sum(axis=0 if side in ('left', 'right') else 1)
    if side in ('right', 'bottom'):
        counts = counts[::-1]
    cut = int(np.searchsorted(np.cumsum(counts), degradation.occluded_fraction * total)) + 1
    rows, cols = np.nonzero(visible)
    mask = np.zeros_like(visible)
    margin = 2  # the occluder overhangs the object's extent a little
    r0, r1 = max(rows.min() - margin, 0), rows.max() + margin + 1
    c0, c1 = max(cols.min() - margin, 0), cols.max() + margin + 1
    size = len(counts)
    if side == 'left':
        mask[r0:r1, c0:cut] = True
    elif side == 'right':
        mask[r0:r1, size - cut:c1] = True
    elif side == 'top':
        mask[r0:cut, c0:c1] = True
    else:
        mask[size - cut:r1, c0:c1] = True
    alpha = mask.astype(np.float32)
    colour = alpha[..., None] * np.asarray(degradation.occluder_colour, np.float32)
    return Sprite(colour=colour, alpha=alpha, silhouette=mask, x0=sprite.x0, y0=sprite.y0)
