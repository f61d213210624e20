"""Render one SynthVID video in memory: frames, and per frame the objects' boxes and masks.

A video's content depends only on (seed, split, video index) and the settings, so a
split's first videos stay the same when ``num_videos`` grows, and splits never share a
video. Objects are drawn in a fixed depth order; a later object, or an occluder patch,
hides what is behind it, and masks record what stays visible.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from .background import CameraPan, camera_canvas, video_canvas
from .config import CLASS_NAMES, SHAPES, TEXTURES, SynthVIDConfig
from .degradations import Degradation, degrade_sprite, occluder_for, sample_degradation, schedule_bursts
from .motion import Trajectory, sample_speed, sample_trajectory
from .sprites import EXTENT, Appearance, Sprite, composite, overlap, render_sprite, sample_appearance

_CAMERA_STREAM = 0x43414D  # keeps camera seeds apart from every split's video seeds
_ROSTER_STREAM = 0x524F53  # and the camera rosters apart from both
START_SPREAD_S = 30 * 24 * 3600  # videos start within a month, as a camera-trap season would


@dataclass
class ObjectTrack:
    """One object through the video; ``index`` is its depth (later ones are in front)."""
    index: int
    category_id: int
    appearance: Appearance
    speed: float
    trajectory: Trajectory
    degradations: list[Degradation | None]
    roster_member: int | None = None  # its index in the camera's roster, when the camera has one


@dataclass
class ObjectView:
    """One object in one frame where its sharp silhouette is (partly) inside the image."""
    object_index: int
    bbox: tuple[int, int, int, int]  # x, y, w, h of the in-image silhouette
    mask: np.ndarray  # bool (H, W): the silhouette's pixels not hidden by anything in front
    degradation: Degradation | None


@dataclass
class RenderedVideo:
    camera: int
    start_offset_s: int  # seconds after the benchmark's epoch when the video starts
    frames: list[np.ndarray] = field(default_factory=list)  # RGB uint8 (H, W, 3)
    views: list[list[ObjectView]] = field(default_factory=list)  # per frame
    objects: list[ObjectTrack] = field(default_factory=list)


def video_rng(config: SynthVIDConfig, split: str, index: int) -> np.random.Generator:
    key = zlib.crc32(split.encode('utf-8'))
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(key, index)))


def make_camera_canvas(config: SynthVIDConfig, camera: int) -> np.ndarray:
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(_CAMERA_STREAM, camera)))
    return camera_canvas(rng, width=config.width, height=config.height)


@dataclass(frozen=True)
class RosterMember:
    """An object that keeps coming back to one camera: same class, look and size."""
    class_index: int
    appearance: Appearance
    radius: float  # pixels


def camera_roster(config: SynthVIDConfig, camera: int) -> list[RosterMember]:
    """The camera's recurring objects, seeded by the base seed and the camera only, so
    every split and video at that camera sees the same ones (Context R-CNN's setting:
    a static camera keeps seeing the same animals or vehicles)."""
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(_ROSTER_STREAM, camera)))
    shorter = min(config.width, config.height)
    members = []
    for _ in range(config.camera_roster):
        class_index = int(rng.integers(len(CLASS_NAMES)))
        appearance = sample_appearance(rng, shape=SHAPES[class_index // len(TEXTURES)],
                                       texture=TEXTURES[class_index % len(TEXTURES)],
                                       texture_contrast=config.texture_contrast)
        radius = float(rng.uniform(config.object_size[0] * shorter, config.object_size[1] * shorter))
        members.append(RosterMember(class_index=class_index, appearance=appearance, radius=radius))
    return members


def render_video(config: SynthVIDConfig, *, split: str, index: int,
                 camera_canvases: dict[int, np.ndarray] | None = None) -> RenderedVideo:
    """``camera_canvases`` caches canvases between calls (they take a few ms each)."""
    camera_canvases = {} if camera_canvases is None else camera_canvases
    rng = video_rng(config, split, index)
    width, height, num_frames = config.width, config.height, config.num_frames
    camera = config.first_camera + int(rng.integers(config.num_cameras))
    if camera not in camera_canvases:
        camera_canvases[camera] = make_camera_canvas(config, camera)
    start_offset_s = int(rng.integers(0, START_SPREAD_S))
    shorter = min(width, height)
    radius_range = (config.object_size[0] * shorter, config.object_size[1] * shorter)
    canvas = video_canvas(rng, camera_canvases[camera], object_radius=radius_range,
                          num_distractors=config.num_distractors)
    pan = CameraPan.sample(rng, max_speed=config.camera_pan)

    num_objects = int(rng.integers(config.objects_per_video[0], config.objects_per_video[1] + 1))
    roster = camera_roster(config, camera) if config.camera_roster else None
    members: list[int | None] = [None] * num_objects
    if roster is not None:
        num_objects = min(num_objects, len(roster))
        members = [int(m) for m in rng.choice(len(roster), size=num_objects, replace=False)]
    objects, sprites, boxes = [], [], []
    pad = config.blur_kernel[1] // 2 + int(math.ceil(3 * config.defocus_sigma[1])) + 1
    for object_index in range(num_objects):
        member = None if roster is None else roster[members[object_index]]
        if member is None:
            class_index = int(rng.integers(len(CLASS_NAMES)))
            appearance = sample_appearance(rng, shape=SHAPES[class_index // len(TEXTURES)],
                                           texture=TEXTURES[class_index % len(TEXTURES)],
                                           texture_contrast=config.texture_contrast)
        else:
            class_index, appearance = member.class_index, member.appearance
        speed = sample_speed(rng, config.speed_range)
        # (drawn after the speed either way, so that splits without rosters keep their videos)
        radius = float(rng.uniform(*radius_range)) if member is None else member.radius
        trajectory = sample_trajectory(rng, num_frames=num_frames, width=width, height=height,
                                       radius=radius,
                                       extent=EXTENT[appearance.shape], speed=speed,
                                       scale_change=config.scale_change)
        object_sprites = [render_sprite(appearance, center=tuple(trajectory.centers[t]),
                                        radius=float(trajectory.radii[t]),
                                        angle=float(trajectory.angles[t]), pad=pad)
                          for t in range(num_frames)]
        object_boxes = [_clipped_box(s, width, height) for s in object_sprites]
        visible = np.array([box is not None for box in object_boxes])
        degradations: list[Degradation | None] = [None] * num_frames
        for start, length in schedule_bursts(rng, visible, fraction=config.degraded_fraction,
                                             burst_length=config.burst_length):
            degradation = sample_degradation(rng, config)
            degradations[start:start + length] = [degradation] * length
        objects.append(ObjectTrack(index=object_index, category_id=class_index + 1,
                                   appearance=appearance, speed=speed, trajectory=trajectory,
                                   degradations=degradations, roster_member=members[object_index]))
        sprites.append(object_sprites)
        boxes.append(object_boxes)

    video = RenderedVideo(camera=camera, start_offset_s=start_offset_s, objects=objects)
    for t in range(num_frames):
        frame = pan.crop(canvas, t, width=width, height=height)
        owner = np.full((height, width), -1, np.int16)
        in_frame = [track for track in objects if boxes[track.index][t] is not None]
        for track in in_frame:
            _draw_object(frame, owner, sprites[track.index][t], track, t, config, rng)
        video.frames.append(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
        video.views.append([ObjectView(object_index=track.index, bbox=boxes[track.index][t],
                                       mask=owner == track.index, degradation=track.degradations[t])
                            for track in in_frame])
    return video


def _draw_object(frame: np.ndarray, owner: np.ndarray, sprite: Sprite, track: ObjectTrack,
                 t: int, config: SynthVIDConfig, rng: np.random.Generator) -> None:
    degradation = track.degradations[t]
    sharp = sprite
    occluder = None
    if degradation is not None:
        fy, fx, py, px = overlap(frame.shape[:2], sprite)
        if degradation.kind == 'occlusion':
            inside = np.zeros(sprite.alpha.shape, bool)
            inside[py, px] = True
            occluder = occluder_for(sprite, degradation, inside)
        else:
            sprite = degrade_sprite(sprite, degradation, velocity=track.trajectory.velocities[t],
                                    background=frame[fy, fx], noise_std=config.noise_std, rng=rng)
    for layer, owner_id in ((sprite, track.index), (occluder, -1)):
        if layer is None:
            continue
        regions = composite(frame, layer)
        if regions is not None:
            fy, fx, py, px = regions
            silhouette = (sharp if layer is sprite else layer).silhouette[py, px]
            owner[fy, fx][silhouette] = owner_id


def _clipped_box(sprite: Sprite, width: int, height: int) -> tuple[int, int, int, int] | None:
    """x, y, w, h of the silhouette's pixels inside the image, or None if none are."""
    regions = overlap((height, width), sprite)
    if regions is None:
        return None
    fy, fx, py, px = regions
    silhouette = sprite.silhouette[py, px]
    rows, cols = np.flatnonzero(silhouette.any(axis=1)), np.flatnonzero(silhouette.any(axis=0))
    if rows.size == 0:
        return None
    x, y = fx.start + int(cols[0]), fy.start + int(rows[0])
    return x, y, int(cols[-1] - cols[0]) + 1, int(rows[-1] - rows[0]) + 1
