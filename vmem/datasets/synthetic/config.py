"""SynthVID settings: size, seed and the difficulty knobs, validated on construction."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

SHAPES = ('disc', 'square', 'triangle', 'cross')
TEXTURES = ('stripes', 'dots')
# Category i + 1 is CLASS_NAMES[i]; the class needs both the outline and the texture.
CLASS_NAMES = tuple(f'{shape}_{texture}' for shape in SHAPES for texture in TEXTURES)
DEGRADATIONS = ('blur', 'occlusion', 'defocus_noise', 'contrast')

MIN_SIDE = 64  # below this the smallest objects are a few pixels and their texture vanishes
_SPLIT_NAME = re.compile(r'^[A-Za-z0-9_-]+$')


@dataclass(frozen=True)
class SynthVIDConfig:
    """Everything that decides a SynthVID split's content; the cache key of a generated split.

    Sizes are in pixels unless noted. Ranges are ``(low, high)`` and sampled uniformly per
    object (per burst for degradations) unless noted.
    """
    num_videos: int = 24
    num_frames: int = 48
    width: int = 256
    height: int = 192
    seed: int = 0
    fps: float = 10.0
    num_cameras: int = 4
    first_camera: int = 0  # cameras first_camera .. first_camera + num_cameras - 1 (new sites for a held-out split)
    camera_roster: int = 0  # > 0: each camera has this many recurring objects that its videos draw from
    jpeg_quality: int = 90
    write_videos: bool = True
    # difficulty knobs
    objects_per_video: tuple[int, int] = (1, 4)
    object_size: tuple[float, float] = (0.07, 0.16)  # radius as a fraction of the shorter side
    speed_range: tuple[float, float] = (0.001, 0.08)  # object diameters per frame, log-uniform
    scale_change: float = 1.0  # zoom and spin speed relative to the object's own speed
    texture_contrast: float = 1.0  # strength of the stripes/dots pattern that tells classes apart
    degraded_fraction: float = 0.3  # of each object's visible frames
    degradation_types: tuple[str, ...] = DEGRADATIONS
    burst_length: tuple[int, int] = (3, 10)  # frames
    blur_kernel: tuple[int, int] = (7, 21)  # motion-blur length
    occlusion: tuple[float, float] = (0.3, 0.7)  # fraction of the visible object covered
    defocus_sigma: tuple[float, float] = (2.0, 4.0)
    noise_std: float = 20.0  # Gaussian noise added with defocus, in 0-255 grey levels
    contrast_factor: tuple[float, float] = (0.1, 0.25)  # remaining contrast after a drop
    camera_pan: float = 0.5  # largest background pan speed, pixels per frame
    num_distractors: tuple[int, int] = (0, 3)  # untextured shapes painted into the background

    def __post_init__(self):
        for name in ('objects_per_video', 'object_size', 'speed_range', 'burst_length',
                     'blur_kernel', 'occlusion', 'defocus_sigma', 'contrast_factor',
                     'num_distractors', 'degradation_types'):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)):
                raise TypeError(f'SynthVID setting {name!r} must be a list or tuple, got {value!r}')
            object.__setattr__(self, name, tuple(value))
        self._validate()

    def _validate(self) -> None:
        _check_int('num_videos', self.num_videos, 1)
        _check_int('num_frames', self.num_frames, 1)
        _check_int('width', self.width, MIN_SIDE)
        _check_int('height', self.height, MIN_SIDE)
        _check_int('seed', self.seed, 0)
        _check_int('num_cameras', self.num_cameras, 1)
        _check_int('first_camera', self.first_camera, 0)
        _check_int('camera_roster', self.camera_roster, 0)
        _check_int('jpeg_quality', self.jpeg_quality, 1, 100)
        _check_number('fps', self.fps, 1e-6)
        if not isinstance(self.write_videos, bool):
            raise TypeError(f'SynthVID setting write_videos must be a bool, got {self.write_videos!r}')
        _check_range('objects_per_video', self.objects_per_video, 1, 16, integer=True)
        _check_range('object_size', self.object_size, 0.02, 0.4)
        _check_range('speed_range', self.speed_range, 1e-5, 1.0)
        _check_number('scale_change', self.scale_change, 0.0, 10.0)
        _check_number('texture_contrast', self.texture_contrast, 0.0, 1.0)
        _check_number('degraded_fraction', self.degraded_fraction, 0.0, 1.0)
        _check_range('burst_length', self.burst_length, 1, 1000, integer=True)
        _check_range('blur_kernel', self.blur_kernel, 2, 101, integer=True)
        _check_range('occlusion', self.occlusion, 0.0, 1.0)
        _check_range('defocus_sigma', self.defocus_sigma, 0.1, 20.0)
        _check_number('noise_std', self.noise_std, 0.0, 255.0)
        _check_range('contrast_factor', self.contrast_factor, 0.0, 1.0)
        _check_number('camera_pan', self.camera_pan, 0.0, 10.0)
        _check_range('num_distractors', self.num_distractors, 0, 50, integer=True)
        unknown = [kind for kind in self.degradation_types if kind not in DEGRADATIONS]
        if unknown or not self.degradation_types:
            raise ValueError(f'SynthVID setting degradation_types must be a non-empty subset of '
                             f'{DEGRADATIONS}, got {self.degradation_types!r}')

    def to_json(self) -> dict:
        """The settings as plain json values (tuples become lists), stored in the json's info."""
        return {field.name: list(value) if isinstance(value, tuple) else value
                for field in dataclasses.fields(self)
                for value in [getattr(self, field.name)]}


def check_split_name(split: str) -> str:
    if not isinstance(split, str) or not _SPLIT_NAME.match(split):
        raise ValueError(f'SynthVID split must be a non-empty name of letters, digits, _ or -, '
                         f'got {split!r}')
    return split


def _check_int(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f'SynthVID setting {name} must be an int, got {value!r}')
    if value < low or (high is not None and value > high):
        bound = f'>= {low}' if high is None else f'in [{low}, {high}]'
        raise ValueError(f'SynthVID setting {name} must be {bound}, got {value}')


def _check_number(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f'SynthVID setting {name} must be a number, got {value!r}')
    if value < low or (high is not None and value > high):
        bound = f'>= {low}' if high is None else f'in [{low}, {high}]'
        raise ValueError(f'SynthVID setting {name} must be {bound}, got {value}')


def _check_range(name, value, low, high, *, integer=False):
    if len(value) != 2:
        raise ValueError(f'SynthVID setting {name} must be a (low, high) pair, got {value!r}')
    check = _check_int if integer else _check_number
    for item in value:
        check(name, item, low, high)
    if value[0] > value[1]:
        raise ValueError(f'SynthVID setting {name} must have low <= high, got {value!r}')
