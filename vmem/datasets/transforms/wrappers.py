"""Applying per-frame transforms to a key frame and its reference frames."""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Union

from vmem.registry import TRANSFORMS

from .base import BaseTransform

REF_FRAMES_KEY = 'ref_frames'


def split_clip(results: dict) -> List[dict]:
    """[key frame, *reference frames] of a clip; the key frame's dict without ``ref_frames``."""
    key_frame = {k: v for k, v in results.items() if k != REF_FRAMES_KEY}
    # Fresh dicts per frame: transforms assign into them, and one dict listed twice (a frame
    # reused as its own reference) must not be flipped twice.
    return [key_frame, *(dict(frame) for frame in results.get(REF_FRAMES_KEY, []))]


def join_clip(frames: Sequence[dict]) -> dict:
    results = dict(frames[0])
    results[REF_FRAMES_KEY] = list(frames[1:])
    return results


@TRANSFORMS.register_module()
class ApplyToFrames(BaseTransform):
    """Run ``transforms`` on the key frame and on each dict in ``results['ref_frames']``.

    Our counterpart of mmcv's ``TransformBroadcaster``: with ``share_random_params`` (the
    default) every random decision (flip or not, which scale) is drawn once, on the key
    frame, and reused for the reference frames, so the clip stays geometrically consistent.
    mmcv's wrapper works on a dict of lists; ours on a key-frame dict whose ``ref_frames``
    holds one dict per reference frame, which is what ``CocoVideoDataset`` produces. Results
    without ``ref_frames`` are treated as a one-frame clip. If any frame's transform returns
    ``None`` the whole clip is dropped.
    """

    def __init__(self, *, transforms: Sequence[Union[dict, Callable]], share_random_params: bool = True):
        if isinstance(transforms, (dict, str)) or not isinstance(transforms, Sequence):
            raise TypeError(f'transforms must be a list of configs or callables, got {type(transforms).__name__}')
        self.transforms = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in transforms]
        for index, transform in enumerate(self.transforms):
            if not callable(transform):
                raise TypeError(f'transforms[{index}] is not callable: {transform!r}')
        self.share_random_params = share_random_params

    def transform(self, results: dict) -> Optional[dict]:
        has_refs = REF_FRAMES_KEY in results
        frames = split_clip(results)
        for transform in self.transforms:
            frames = self._apply_one(transform, frames)
            if frames is None:
                return None
        return join_clip(frames) if has_refs else frames[0]

    def _apply_one(self, transform: Callable, frames: List[dict]) -> Optional[List[dict]]:
        shared = (self.share_random_params and isinstance(transform, BaseTransform)
                  and transform.has_random_params)
        if shared:
            params = transform.sample_params(frames[0])
            outputs = [transform.apply(frame, params) for frame in frames]
        else:
            outputs = [transform(frame) for frame in frames]
        return None if any(output is None for output in outputs) else outputs
