"""Choosing the reference frames of a key frame, with mmtracking's sampling methods."""
from __future__ import annotations

import random
from typing import List, Sequence, Tuple, Union

TRAIN_METHODS = ('uniform', 'bilateral_uniform')
TEST_METHODS = ('test_with_adaptive_stride', 'test_with_fix_stride')


class RefFrameSampler:
    """Positions (0-based index within the video) of a key frame's reference frames.

    ``frame_range`` is r (meaning [-r, r]) or [lo, hi] with lo <= 0 <= hi, relative to the
    key frame. Methods, as in mmtracking's ``BaseVideoDataset``:

    - ``uniform``: ``num_ref_imgs`` distinct frames drawn from the window (without the key
      frame when ``filter_key_img``).
    - ``bilateral_uniform``: half of them from the window before the key frame, half from after
      (``num_ref_imgs`` must be even).
    - ``test_with_adaptive_stride``: only the video's first frame gets references:
      ``num_ref_imgs`` frames spread evenly over the whole video; other frames get none (the
      model keeps the first frame's references as its memory).
    - ``test_with_fix_stride``: the first frame gets ``|lo| + 1`` copies of frame 0 followed by
      frames ``stride, 2 * stride, ..., hi * stride``; every later frame at a multiple of
      ``stride`` gets the one frame ``hi * stride`` ahead (a sliding window the model keeps);
      other frames get none. ``num_ref_imgs`` is not used.

    Unlike mmtracking, the training methods always return ``num_ref_imgs`` frames (per side
    for bilateral, half): a window with too few candidates reuses them, and an empty window
    (one-frame videos, DET images, the first frame's left side) uses the key frame itself, so
    clips of one dataset always stack into batches. Positions come back sorted.
    """

    def __init__(self, *, num_ref_imgs: int = 1, frame_range: Union[int, Sequence[int]] = 10,
                 stride: int = 1, filter_key_img: bool = True, method: str = 'uniform'):
        if method not in TRAIN_METHODS + TEST_METHODS:
            raise ValueError(f'ref_img_sampler method must be one of {TRAIN_METHODS + TEST_METHODS}, '
                             f'got {method!r}')
        if not isinstance(num_ref_imgs, int) or num_ref_imgs < 1:
            raise ValueError(f'num_ref_imgs must be a positive int, got {num_ref_imgs!r}')
        if method == 'bilateral_uniform' and num_ref_imgs % 2:
            raise ValueError(f'bilateral_uniform needs an even num_ref_imgs, got {num_ref_imgs}')
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f'stride must be a positive int, got {stride!r}')
        self.num_ref_imgs = num_ref_imgs
        self.frame_range = self._normalise_range(frame_range)
        self.stride = stride
        self.filter_key_img = filter_key_img
        self.method = method

    @staticmethod
    def _normalise_range(frame_range) -> Tuple[int, int]:
        if isinstance(frame_range, bool):
            raise TypeError(f'frame_range must be an int or [lo, hi], got {frame_range!r}')
        if isinstance(frame_range, int):
            if frame_range < 0:
                raise ValueError(f'frame_range must be >= 0, got {frame_range}')
            return -frame_range, frame_range
        if isinstance(frame_range, (list, tuple)):
            if len(frame_range) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                for v in frame_range):
                raise ValueError(f'frame_range must be two ints [lo, hi], got {frame_range!r}')
            if not frame_range[0] <= 0 <= frame_range[1]:
                raise ValueError(f'frame_range [lo, hi] needs lo <= 0 <= hi, got {list(frame_range)}')
            return int(frame_range[0]), int(frame_range[1])
        raise TypeError(f'frame_range must be an int or [lo, hi], got {type(frame_range).__name__}')

    @property
    def is_test_method(self) -> bool:
        return self.method in TEST_METHODS

    def extra_metainfo(self) -> dict:
        """Key-frame meta info a model needs to manage its reference buffer."""
        if self.method == 'test_with_fix_stride':
            return {'num_left_ref_imgs': -self.frame_range[0], 'frame_stride': self.stride}
        return {}

    def sample(self, position: int, video_length: int, rng: random.Random = random) -> List[int]:
        if not 0 <= position < video_length:
            raise ValueError(f'position {position} is outside a video of {video_length} frames')
        if self.method == 'uniform':
            refs = self._draw(self._window(position, video_length, *self.frame_range),
                              self.num_ref_imgs, position, rng)
        elif self.method == 'bilateral_uniform':
            half = self.num_ref_imgs // 2
            lo, hi = self.frame_range
            refs = (self._draw(self._window(position, video_length, lo, 0), half, position, rng)
                    + self._draw(self._window(position, video_length, 0, hi), half, position, rng))
        elif self.method == 'test_with_adaptive_stride':
            refs = self._adaptive_stride(position, video_length)
        else:
            refs = self._fix_stride(position, video_length)
        return sorted(refs)

    def _window(self, position: int, video_length: int, lo: int, hi: int) -> List[int]:
        window = range(max(0, position + lo), min(video_length - 1, position + hi) + 1)
        return [p for p in window if not (self.filter_key_img and p == position)]

    @staticmethod
    def _draw(candidates: List[int], count: int, position: int, rng) -> List[int]:
        if not candidates:
            return [position] * count
        if len(candidates) >= count:
            return rng.sample(candidates, count)
        return candidates + rng.choices(candidates, k=count - len(candidates))

    def _adaptive_stride(self, position: int, video_length: int) -> List[int]:
        if position != 0:
            return []
        if self.num_ref_imgs == 1:
            return [0]
        step = (video_length - 1) / (self.num_ref_imgs - 1)
        return [round(i * step) for i in range(self.num_ref_imgs)]

    def _fix_stride(self, position: int, video_length: int) -> List[int]:
        lo, hi = self.frame_range
        last = video_length - 1
        if position == 0:
            return [0] * (1 - lo) + [min(i * self.stride, last) for i in range(1, hi + 1)]
        if position % self.stride == 0:
            return [min(position + hi * self.stride, last)]
        return []
