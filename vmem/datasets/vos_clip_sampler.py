"""Choosing a training clip (frames and objects) of a video for SAM 2-style VOS training."""
from __future__ import annotations

import random
from typing import List, Sequence, Tuple


class VOSClipSampler:
    """Draws ``clip_length`` frame positions and up to ``max_objects`` object ids of a video.

    The stride is drawn uniformly from ``[1, max_stride]``; the clip starts at a random frame
    where at least one object is visible, and its objects are drawn from those visible there
    (so frame 0 of the clip can prompt every object the clip carries), returned sorted by id
    so every frame lists them in one fixed order.

    Short videos: when no start fits the drawn stride, the largest smaller stride that fits
    is used; when even stride 1 does not fit (a video shorter than ``clip_length``), the clip
    starts at the first frame showing an object, takes the frames that exist and repeats the
    last frame until it has ``clip_length`` frames (repeated frames keep their ``frame_id``),
    so clips of a dataset always stack.
    """

    def __init__(self, *, clip_length: int = 8, max_stride: int = 1, max_objects: int = 3):
        for name, value in (('clip_length', clip_length), ('max_stride', max_stride),
                            ('max_objects', max_objects)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f'{name} must be a positive int, got {value!r}')
        self.clip_length = clip_length
        self.max_stride = max_stride
        self.max_objects = max_objects

    def sample(self, visible: Sequence[Sequence[int]],
               rng: random.Random = random) -> Tuple[List[int], List[int]]:
        """(frame positions in temporal order, object ids) for a video whose frame ``t`` shows
        the objects ``visible[t]``."""
        starts = [t for t, ids in enumerate(visible) if len(ids)]
        if not starts:
            raise ValueError('no frame of this video shows an object; a clip cannot start anywhere')
        num_frames = len(visible)
        stride = rng.randint(1, self.max_stride)
        fitting: List[int] = []
        while stride >= 1:
            last_offset = (self.clip_length - 1) * stride
            fitting = [t for t in starts if t + last_offset < num_frames]
            if fitting:
                break
            stride -= 1
        stride = max(stride, 1)
        # nothing fits: the earliest start keeps the most distinct frames
        start = rng.choice(fitting) if fitting else starts[0]
        positions = [min(start + i * stride, num_frames - 1) for i in range(self.clip_length)]
        candidates = sorted(visible[start])
        objects = sorted(rng.sample(candidates, min(self.max_objects, len(candidates))))
        return positions, objects

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(clip_length={self.clip_length}, max_stride={self.max_stride}, '
                f'max_objects={self.max_objects})')
