"""Geometric transforms that keep boxes and masks consistent with the image."""
from __future__ import annotations

import math
import random
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vmem.registry import TRANSFORMS

from .base import BaseTransform

_INTERPOLATIONS = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR,
                   'bicubic': cv2.INTER_CUBIC, 'area': cv2.INTER_AREA}
ROUNDINGS = ('round', 'floor')
BACKENDS = ('cv2', 'torch')


def rescaled_size(height: int, width: int, scale: Sequence[int], keep_ratio: bool,
                  rounding: str = 'round') -> Tuple[int, int]:
    """Output (h, w) of mmdet-style resizing.

    With ``keep_ratio`` the image is scaled as large as possible with its long edge at most
    ``max(scale)`` and its short edge at most ``min(scale)`` (so (1000, 600) means "long edge
    <= 1000, short edge <= 600"); otherwise ``scale`` is the exact (w, h). The scaled sides
    are rounded to the nearest pixel (mmdet), or with ``rounding='floor'`` rounded down as
    torchvision's detection transform does (``interpolate`` with a scale factor floors).
    """
    if len(scale) != 2 or min(scale) <= 0:
        raise ValueError(f'scale must be two positive ints, got {scale!r}')
    if rounding not in ROUNDINGS:
        raise ValueError(f'rounding must be one of {ROUNDINGS}, got {rounding!r}')
    if not keep_ratio:
        return int(scale[1]), int(scale[0])
    # the same two quotients in the same (double) arithmetic as torchvision, so floor agrees
    # with it even where height * factor lands a hair below an integer
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    if rounding == 'floor':
        return math.floor(height * factor), math.floor(width * factor)
    return int(height * factor + 0.5), int(width * factor + 0.5)


def _torch_resize(image: np.ndarray, size: Tuple[int, int], interpolation: str) -> np.ndarray:
    """``F.interpolate`` on the image as float32, kept float32: torchvision's detection
    transform resizes float images this way, and rounding to uint8 would change them."""
    tensor = torch.from_numpy(np.ascontiguousarray(image)).float()
    tensor = tensor.reshape(*image.shape[:2], -1).permute(2, 0, 1)[None].contiguous()  # NCHW, as torchvision
    align = False if interpolation in ('bilinear', 'bicubic') else None
    resized = F.interpolate(tensor, size=size, mode=interpolation, align_corners=align)[0]
    resized = resized.permute(1, 2, 0).numpy()
    return np.ascontiguousarray(resized if image.ndim == 3 else resized[:, :, 0])


def _require_image(results: dict, transform: str) -> np.ndarray:
    if 'img' not in results:
        raise ValueError(f"{transform} needs results['img']; put LoadFrame before it")
    return results['img']


@TRANSFORMS.register_module()
class Resize(BaseTransform):
    """Resize the image, boxes and masks; update ``img_shape`` and ``scale_factor``.

    ``scale_factor`` is (w_scale, h_scale) from the original frame, so it accumulates over
    several resizes. Boxes are clipped to the new image when ``clip_object_border``.

    ``rounding`` (see :func:`rescaled_size`) and ``backend`` choose how: ``'cv2'`` resizes
    uint8 images to uint8; ``'torch'`` resizes with ``F.interpolate`` (no antialiasing) and
    returns float32, as torchvision's ``GeneralizedRCNNTransform`` does with
    ``rounding='floor'`` and ``scale=(max_size, min_size)``: what its COCO detectors expect.
    """

    def __init__(self, *, scale: Sequence[int], keep_ratio: bool = True,
                 clip_object_border: bool = True, interpolation: str = 'bilinear',
                 rounding: str = 'round', backend: str = 'cv2'):
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {sorted(_INTERPOLATIONS)}, got {interpolation!r}')
        if backend not in BACKENDS:
            raise ValueError(f'backend must be one of {BACKENDS}, got {backend!r}')
        rescaled_size(1, 1, scale, keep_ratio, rounding)  # validates scale and rounding early
        self.scale = tuple(scale)
        self.keep_ratio = keep_ratio
        self.clip_object_border = clip_object_border
        self.interpolation = interpolation
        self.rounding = rounding
        self.backend = backend

    def transform(self, results: dict) -> dict:
        return self._resize(results, self.scale)

    def _resize(self, results: dict, scale: Sequence[int]) -> dict:
        image = _require_image(results, type(self).__name__)
        height, width = image.shape[:2]
        new_height, new_width = rescaled_size(height, width, scale, self.keep_ratio, self.rounding)
        w_scale, h_scale = new_width / width, new_height / height
        if self.backend == 'torch':  # also at an unchanged size: the output is float32 either way
            results['img'] = _torch_resize(image, (new_height, new_width), self.interpolation)
        elif (new_height, new_width) != (height, width):
            results['img'] = cv2.resize(image, (new_width, new_height),
                                        interpolation=_INTERPOLATIONS[self.interpolation])
        results['img_shape'] = (new_height, new_width)
        old_w_scale, old_h_scale = results.get('scale_factor', (1.0, 1.0))
        results['scale_factor'] = (old_w_scale * w_scale, old_h_scale * h_scale)
        if results.get('gt_bboxes') is not None:
            boxes = results['gt_bboxes'] * np.array([w_scale, h_scale, w_scale, h_scale], np.float32)
            if self.clip_object_border:
                boxes[:, 0::2] = boxes[:, 0::2].clip(0, new_width)
                boxes[:, 1::2] = boxes[:, 1::2].clip(0, new_height)
            results['gt_bboxes'] = boxes.astype(np.float32)
        if results.get('gt_masks') is not None:
            masks = results['gt_masks']
            results['gt_masks'] = np.stack(
                [cv2.resize(mask, (new_width, new_height), interpolation=cv2.INTER_NEAREST)
                 for mask in masks]) if len(masks) else np.zeros((0, new_height, new_width), masks.dtype)
        return results


@TRANSFORMS.register_module()
class RandomChoiceResize(Resize):
    """``Resize`` to one of ``scales`` drawn at random (multi-scale training).

    Inside ``ApplyToFrames`` the draw is shared by the key frame and its reference frames.
    """

    def __init__(self, *, scales: Sequence[Sequence[int]], keep_ratio: bool = True,
                 clip_object_border: bool = True, interpolation: str = 'bilinear',
                 rounding: str = 'round', backend: str = 'cv2'):
        if not scales:
            raise ValueError('scales must hold at least one scale')
        super().__init__(scale=scales[0], keep_ratio=keep_ratio, clip_object_border=clip_object_border,
                         interpolation=interpolation, rounding=rounding, backend=backend)
        for scale in scales:
            rescaled_size(1, 1, scale, keep_ratio)
        self.scales = [tuple(scale) for scale in scales]

    def sample_params(self, results: dict) -> dict:
        return {'scale': random.choice(self.scales)}

    def transform(self, results: dict) -> dict:
        return self.apply(results, self.sample_params(results))

    def apply(self, results: dict, params: dict) -> dict:
        return self._resize(results, params['scale'])


@TRANSFORMS.register_module()
class RandomFlip(BaseTransform):
    """Flip the image, boxes and masks with probability ``prob``; set ``flip``/``flip_direction``.

    A horizontal flip maps a box's x1, x2 to ``W - x2``, ``W - x1`` (boxes are continuous
    pixel-edge coordinates, as in mmdet 3), so flipping twice gives the box back exactly.
    """

    def __init__(self, *, prob: float = 0.5, direction: str = 'horizontal'):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.prob = prob
        self.direction = direction

    def sample_params(self, results: dict) -> dict:
        return {'flip': random.random() < self.prob}

    def apply(self, results: dict, params: dict) -> dict:
        image = _require_image(results, 'RandomFlip')
        results['flip'] = bool(params['flip'])
        results['flip_direction'] = self.direction if params['flip'] else None
        if not params['flip']:
            return results
        height, width = image.shape[:2]
        horizontal = self.direction == 'horizontal'
        results['img'] = np.ascontiguousarray(image[:, ::-1] if horizontal else image[::-1])
        if results.get('gt_bboxes') is not None:
            boxes = results['gt_bboxes'].copy()
            if horizontal:
                boxes[:, [0, 2]] = width - results['gt_bboxes'][:, [2, 0]]
            else:
                boxes[:, [1, 3]] = height - results['gt_bboxes'][:, [3, 1]]
            results['gt_bboxes'] = boxes
        if results.get('gt_masks') is not None:
            masks = results['gt_masks']
            results['gt_masks'] = np.ascontiguousarray(masks[:, :, ::-1] if horizontal else masks[:, ::-1])
        return results


@TRANSFORMS.register_module()
class Pad(BaseTransform):
    """Pad the image (and masks) at the bottom/right to ``size`` (w, h) or a multiple of
    ``size_divisor``; set ``pad_shape``.

    Detectors normally leave padding to their data preprocessor, which pads a whole batch
    to one shape; use ``Pad`` when a fixed input size is needed before batching.
    """

    def __init__(self, *, size: Optional[Sequence[int]] = None, size_divisor: Optional[int] = None,
                 pad_val: int = 0):
        if (size is None) == (size_divisor is None):
            raise ValueError('give exactly one of size (w, h) and size_divisor')
        if size_divisor is not None and size_divisor < 1:
            raise ValueError(f'size_divisor must be >= 1, got {size_divisor}')
        self.size = None if size is None else tuple(size)
        self.size_divisor = size_divisor
        self.pad_val = pad_val

    def transform(self, results: dict) -> dict:
        image = _require_image(results, 'Pad')
        height, width = image.shape[:2]
        if self.size is not None:
            target_w, target_h = self.size
            if target_w < width or target_h < height:
                raise ValueError(f'Pad size (w, h) {self.size} is smaller than the image '
                                 f'{width}x{height}; resize first')
        else:
            divisor = self.size_divisor
            target_h, target_w = -(-height // divisor) * divisor, -(-width // divisor) * divisor
        pad = ((0, target_h - height), (0, target_w - width))
        results['img'] = np.pad(image, pad + ((0, 0),), constant_values=self.pad_val)
        results['pad_shape'] = (target_h, target_w)
        if results.get('gt_masks') is not None:
            results['gt_masks'] = np.pad(results['gt_masks'], ((0, 0),) + pad)
        return results
