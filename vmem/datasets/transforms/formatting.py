"""Packing transformed frames into model inputs and data samples."""
from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import torch
from mmengine.structures import InstanceData

from vmem.registry import TRANSFORMS
from vmem.structures import DetDataSample, TrackDataSample

from .base import BaseTransform
from .wrappers import split_clip

DEFAULT_META_KEYS = (
    'img_id', 'video_id', 'frame_id', 'video_length', 'img_path', 'ori_shape', 'img_shape',
    'scale_factor', 'flip', 'flip_direction', 'pad_shape',
    # present only for some data: SynthVID / Context R-CNN style cameras and clocks,
    # and the reference-frame bookkeeping of the stride-based test samplers
    'video_name', 'camera', 'datetime', 'timestamp', 'fps', 'degraded', 'is_video_data',
    'num_left_ref_imgs', 'frame_stride')

# results key -> InstanceData field, with the dtype the models expect
_INSTANCE_FIELDS = {
    'gt_bboxes': ('bboxes', torch.float32),
    'gt_bboxes_labels': ('labels', torch.int64),
    'gt_instances_ids': ('instance_ids', torch.int64),
    'gt_masks': ('masks', torch.bool),
}


@TRANSFORMS.register_module()
class PackDetInputs(BaseTransform):
    """``dict(inputs=uint8 tensor [3, H, W], data_samples=DetDataSample)`` from one frame.

    Ground truth goes to ``gt_instances`` and, for instances flagged ``gt_ignore_flags``
    (``iscrowd``), to ``ignored_instances``. Of ``meta_keys``, those present are packed;
    ``scale_factor``, ``flip``, ``flip_direction`` and ``pad_shape`` get their no-op values
    when no transform set them, so every sample carries them. Any ``ref_frames`` are ignored
    (use ``PackVideoInputs`` for clips).
    """

    def __init__(self, *, meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        image = results.get('img')
        if not isinstance(image, np.ndarray) or image.ndim != 3:
            raise ValueError(f"PackDetInputs needs results['img'] as an HxWxC array, got "
                             f'{type(image).__name__}; put LoadFrame first')
        inputs = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
        sample = DetDataSample()
        sample.gt_instances, sample.ignored_instances = self._pack_instances(results)
        sample.set_metainfo(self._pack_metainfo(results, image))
        return {'inputs': inputs, 'data_samples': sample}

    @staticmethod
    def _pack_instances(results: dict) -> Tuple[InstanceData, InstanceData]:
        kept, ignored = InstanceData(), InstanceData()
        ignore = results.get('gt_ignore_flags')
        for results_key, (field, dtype) in _INSTANCE_FIELDS.items():
            if results.get(results_key) is None:
                continue
            values = torch.as_tensor(np.asarray(results[results_key])).to(dtype)
            if ignore is None:
                kept[field] = values
            else:
                ignore_mask = torch.as_tensor(np.asarray(ignore, bool))
                kept[field] = values[~ignore_mask]
                ignored[field] = values[ignore_mask]
        return kept, ignored

    def _pack_metainfo(self, results: dict, image: np.ndarray) -> dict:
        metainfo = {key: results[key] for key in self.meta_keys if key in results}
        img_shape = tuple(results.get('img_shape', image.shape[:2]))
        defaults = {'img_shape': img_shape, 'scale_factor': (1.0, 1.0), 'flip': False,
                    'flip_direction': None, 'pad_shape': tuple(image.shape[:2])}
        for key, value in defaults.items():
            if key in self.meta_keys:
                metainfo.setdefault(key, value)
        return metainfo


@TRANSFORMS.register_module()
class PackVideoInputs(BaseTransform):
    """``dict(inputs=uint8 tensor [T, 3, H, W], data_samples=TrackDataSample)`` from a clip.

    Frame 0 is the key frame, frames 1..T-1 its reference frames in the order the dataset
    gave them (temporal order); ``data_samples.video_data_samples[t]`` describes frame t.
    Results without ``ref_frames`` give T = 1. All frames must share one shape (they do
    when they come from one video and went through ``ApplyToFrames``).
    """

    def __init__(self, *, meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.meta_keys = tuple(meta_keys)
        self._pack_frame = PackDetInputs(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        frames = split_clip(results)
        for index, frame in enumerate(frames[1:], start=1):
            if not isinstance(frame.get('img'), np.ndarray):
                raise ValueError(f'reference frame {index} has no image: wrap the per-frame '
                                 'transforms (LoadFrame, ...) in ApplyToFrames')
        packed = [self._pack_frame(frame) for frame in frames]
        shapes = [tuple(p['inputs'].shape) for p in packed]
        if len(set(shapes)) > 1:
            raise ValueError(f'frames of one clip must share a shape to be stacked, got {shapes} '
                             '(key frame first); resize/pad them to one size')
        inputs = torch.stack([p['inputs'] for p in packed])
        sample = TrackDataSample(video_data_samples=[p['data_samples'] for p in packed],
                                 key_frames_inds=[0])
        return {'inputs': inputs, 'data_samples': sample}
