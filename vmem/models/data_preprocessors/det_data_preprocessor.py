"""Normalising and padding packed frames (images or clips) into batch tensors."""
from __future__ import annotations

import math
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from vmem.registry import MODELS
from vmem.structures import DetDataSample, TrackDataSample

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, 0-255 scale
IMAGENET_STD = (58.395, 57.12, 57.375)


@MODELS.register_module()
class DetDataPreprocessor(BaseDataPreprocessor):
    """Turns ``dict(inputs=[...], data_samples=[...])`` from the dataloader into model input.

    ``inputs`` holds uint8 RGB tensors, [3, H, W] per image (``PackDetInputs``) or
    [T, 3, H, W] per clip (``PackVideoInputs``, key frame first). Frames are cast to float,
    normalised, zero-padded at the bottom/right to a common size divisible by
    ``pad_size_divisor`` and stacked. For clips the result also carries ``ref_inputs``
    [N, T-1, 3, H, W] (the reference frames, same padding) for memory models; the key
    frames are ``inputs`` [N, 3, H, W]. Every frame's data sample gets ``batch_input_shape``
    and ``pad_shape`` (its own size rounded up to the divisor) in its metainfo.
    """

    def __init__(self, *, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                 pad_size_divisor: int = 32, pad_value: float = 0.0, non_blocking: bool = False):
        super().__init__(non_blocking=non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f'mean and std need 3 values (RGB), got mean={mean}, std={std}')
        if any(s <= 0 for s in std):
            raise ValueError(f'std values must be positive, got {std}')
        if pad_size_divisor < 1:
            raise ValueError(f'pad_size_divisor must be >= 1, got {pad_size_divisor}')
        # not persistent: they come from the config, so checkpoints need not carry them
        self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), False)
        self.pad_size_divisor = pad_size_divisor
        self.pad_value = pad_value

    def forward(self, data: dict, training: bool = False) -> dict:
        if not isinstance(data, dict) or 'inputs' not in data:
            raise TypeError("DetDataPreprocessor expects a dict with an 'inputs' key, "
                            f'got {type(data).__name__}')
        data = self.cast_data(data)
        inputs, samples = data['inputs'], data.get('data_samples')
        if isinstance(inputs, torch.Tensor):
            inputs = list(inputs)
        if not inputs:
            raise ValueError('DetDataPreprocessor got an empty batch')
        if samples is not None and len(samples) != len(inputs):
            raise ValueError(f'got {len(inputs)} inputs but {len(samples)} data_samples')
        if all(frames.dim() == 3 for frames in inputs):
            clips = [frames.unsqueeze(0) for frames in inputs]
        elif all(frames.dim() == 4 for frames in inputs):
            clips = list(inputs)
        else:
            raise ValueError('inputs must all be [3, H, W] images or all [T, 3, H, W] clips, got shapes '
                             f'{[tuple(frames.shape) for frames in inputs]}')
        num_frames = {clip.shape[0] for clip in clips}
        if len(num_frames) != 1:
            raise ValueError(f'all clips of a batch need the same number of frames, got {sorted(num_frames)}')
        for index, clip in enumerate(clips):
            if clip.shape[1] != 3:
                raise ValueError(f'inputs[{index}] must have 3 (RGB) channels, got shape {tuple(clip.shape)}')

        batch, batch_shape = self._normalise_and_pad(clips)
        if samples is not None:
            self._set_shapes(samples, clips, batch_shape)
        result = {'inputs': batch[:, 0], 'data_samples': samples}
        if batch.shape[1] > 1:
            result['ref_inputs'] = batch[:, 1:]
        return result

    def _normalise_and_pad(self, clips: List[torch.Tensor]) -> Tuple[torch.Tensor, Tuple[int, int]]:
        height = max(clip.shape[-2] for clip in clips)
        width = max(clip.shape[-1] for clip in clips)
        batch_shape = (self._round_up(height), self._round_up(width))
        padded = []
        for clip in clips:
            clip = (clip.float() - self.mean) / self.std
            bottom, right = batch_shape[0] - clip.shape[-2], batch_shape[1] - clip.shape[-1]
            padded.append(F.pad(clip, (0, right, 0, bottom), value=self.pad_value))
        return torch.stack(padded), batch_shape

    def _set_shapes(self, samples: Sequence, clips: List[torch.Tensor], batch_shape: Tuple[int, int]) -> None:
        for index, (sample, clip) in enumerate(zip(samples, clips)):
            if isinstance(sample, TrackDataSample):
                frames = sample.video_data_samples
            elif isinstance(sample, DetDataSample):
                frames = [sample]
            else:
                raise TypeError(f'data_samples[{index}] must be a DetDataSample or TrackDataSample, '
                                f'got {type(sample).__name__}')
            pad_shape = (self._round_up(clip.shape[-2]), self._round_up(clip.shape[-1]))
            for frame in frames:
                frame.set_metainfo({'batch_input_shape': batch_shape, 'pad_shape': pad_shape})

    def _round_up(self, size: int) -> int:
        return int(math.ceil(size / self.pad_size_divisor) * self.pad_size_divisor)
