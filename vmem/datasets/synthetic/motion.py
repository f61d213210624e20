"""Smooth object trajectories: drifting heading, zoom and spin, leaving and re-entering.

Speed is drawn log-uniformly in object diameters per frame, so ImageNet VID's motion-IoU
groups (IoU of a box with itself 10 frames away: slow > 0.9, fast < 0.7) all get a share:
a square moving ``s`` diameters per frame keeps IoU (1 - 10s) / (1 + 10s), i.e. slow below
~0.005 and fast above ~0.018 diameters per frame. Zoom and spin rates are drawn in
proportion to the speed so a "slow" object is slow in every respect.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


MIN_SCALE, MAX_SCALE = 0.65, 1.5  # zoom stays within these factors of the starting size
MAX_TURN = 0.04  # heading drift, radians per frame
EXIT_PROBABILITY = 0.35  # objects that start at an edge, moving out


@dataclass
class Trajectory:
    centers: np.ndarray  # (T, 2) float x, y in pixels
    radii: np.ndarray  # (T,)
    angles: np.ndarray  # (T,) rotation of the object, radians
    velocities: np.ndarray  # (T, 2) pixels per frame, the direction motion blur follows


def sample_trajectory(rng: np.random.Generator, *, num_frames: int, width: int, height: int,
                      radius: float, extent: float, speed: float, scale_change: float) -> Trajectory:
    """``speed`` in object diameters per frame; ``radius`` is the starting radius in pixels;
    ``extent`` how far the shape reaches from its centre, in radii."""
    step = speed * 2.0 * radius
    if rng.random() < EXIT_PROBABILITY:
        # Starts at an edge heading out, and turns back only once fully outside:
        # fast objects leave the frame and come back within the video.
        x, y, heading = _at_edge(rng, width, height, radius)
        beyond = rng.uniform(0.05, 0.3)
    else:
        x, y = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
        heading = rng.uniform(0.0, 2.0 * math.pi)
        # How far (in radii) the object may go past fully leaving before it turns back:
        # most bounce while still partly visible, some leave for a while.
        beyond = rng.uniform(-2.0, 0.4)
    turn = rng.uniform(-MAX_TURN, MAX_TURN)
    zoom = rng.uniform(-1.0, 1.0) * speed * scale_change  # log-scale per frame
    spin = rng.uniform(-2.0, 2.0) * speed * scale_change
    log_scale, angle = 0.0, rng.uniform(0.0, 2.0 * math.pi)

    centers = np.empty((num_frames, 2))
    radii = np.empty(num_frames)
    angles = np.empty(num_frames)
    velocities = np.empty((num_frames, 2))
    for t in range(num_frames):
        velocity = (step * math.cos(heading), step * math.sin(heading))
        centers[t] = x, y
        radii[t] = radius * math.exp(log_scale)
        angles[t] = angle
        velocities[t] = velocity
        x, y = x + velocity[0], y + velocity[1]
        margin = (extent + beyond) * radii[t]
        if (x < -margin and velocity[0] < 0) or (x > width + margin and velocity[0] > 0):
            heading = math.pi - heading
        if (y < -margin and velocity[1] < 0) or (y > height + margin and velocity[1] > 0):
            heading = -heading
        heading += turn
        log_scale += zoom
        if not math.log(MIN_SCALE) <= log_scale <= math.log(MAX_SCALE):
            zoom = -zoom
        angle += spin
    return Trajectory(centers=centers, radii=radii, angles=angles, velocities=velocities)


def _at_edge(rng: np.random.Generator, width: int, height: int,
             radius: float) -> tuple[float, float, float]:
    """A start just inside a random edge (up to half a radius in) and an outward heading."""
    edge = int(rng.integers(4))  # left, right, top, bottom
    inset = rng.uniform(0.0, 0.5) * radius
    x, y = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
    outward = (math.pi, 0.0, -math.pi / 2, math.pi / 2)[edge]
    if edge == 0:
        x = inset
    elif edge == 1:
        x = width - inset
    elif edge == 2:
        y = inset
    else:
        y = height - inset
    return x, y, outward + rng.uniform(-math.pi / 4, math.pi / 4)


def sample_speed(rng: np.random.Generator, speed_range: tuple[float, float]) -> float:
    low, high = speed_range
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))
