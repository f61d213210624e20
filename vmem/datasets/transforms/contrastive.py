"""Transforms for contrastive pretraining (MoCo v2 views) and for labelled crop evaluation."""
from __future__ import annotations

from typing import Sequence, Tuple, Union

import numpy as np
import torch
from torchvision.transforms import v2

from vmem.registry import TRANSFORMS
from vmem.structures import DetDataSample

from .base import BaseTransform
from .formatting import DEFAULT_META_KEYS, PackDetInputs
from .wrappers import REF_FRAMES_KEY

CONTRASTIVE_META_KEYS = ('img_id', 'img_path', 'video_id', 'frame_id', 'video_path', 'video_name',
                         'gt_label', 'instance_id', 'crop_box')
CLASSIFICATION_META_KEYS = (*DEFAULT_META_KEYS, 'gt_label', 'instance_id', 'crop_box')


def _as_pair(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair):
        raise ValueError(f'size must be a positive int or (h, w), got {size!r}')
    return pair


def _image_tensor(image: object, what: str) -> torch.Tensor:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'ContrastiveViews needs {what} as an HxWx3 uint8 array, got '
                         f'{getattr(image, "dtype", type(image).__name__)} {getattr(image, "shape", "")}; '
                         'put LoadFrame before it')
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class CropObject(BaseTransform):
    """Cut ``results['crop_box']`` (xyxy pixels, from ``ObjectCropDataset``) out of ``results['img']``.

    Put it right after ``LoadFrame``. The box is rounded outwards to whole pixels and clipped
    to the frame; ``img_shape`` becomes the crop's size, ``ori_shape`` stays the frame's.
    """

    def transform(self, results: dict) -> dict:
        image = results.get('img')
        if not isinstance(image, np.ndarray):
            raise ValueError("CropObject needs results['img']; put LoadFrame before it")
        if results.get('crop_box') is None:
            raise ValueError(f"CropObject needs results['crop_box'] (xyxy), got keys {sorted(results)}")
        height, width = image.shape[:2]
        x1, y1, x2, y2 = (float(v) for v in results['crop_box'])
        x1, y1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
        x2, y2 = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
        if x2 <= x1 or y2 <= y1:
            raise ValueError(f"crop_box {results['crop_box']} of {results.get('img_path')!r} leaves nothing "
                             f'of its {height}x{width} (h x w) frame')
        # a copy: the crop is small, and later transforms must not keep the whole frame alive
        results['img'] = image[y1:y2, x1:x2].copy()
        results['img_shape'] = (y2 - y1, x2 - x1)
        results['crop_box'] = [x1, y1, x2, y2]
        return results


@TRANSFORMS.register_module()
class ContrastiveViews(BaseTransform):
    """Two independently augmented views of an image: ``results['views']`` uint8 [2, 3, h, w].

    The MoCo v2 recipe, with torchvision's ``transforms.v2`` ops: random resized crop
    (``scale`` of the area), colour jitter (brightness, contrast, saturation, hue) applied
    with ``jitter_prob``, grayscale with ``grayscale_prob``, Gaussian blur (kernel about 10%
    of the view size, odd; sigma drawn from ``blur_sigma``) with ``blur_prob`` and a
    horizontal flip with ``hflip_prob``. Normalisation is left to the data preprocessor.

    Both views come from ``results['img']``; when the results also hold a loaded reference
    frame (``ref_frames[0]['img']``, a temporal positive from ``VideoFrameDataset``) the
    second view comes from that frame instead. Randomness is torch's global RNG, which
    mmengine seeds per dataloader worker.

    Args:
        size: view size, an int (square) or (h, w).
        scale: area fraction range of the random resized crop; MoCo v2 uses (0.2, 1.0).
        jitter: ColorJitter's (brightness, contrast, saturation, hue).
        jitter_prob, grayscale_prob, blur_prob, hflip_prob: probabilities of those steps.
        blur_sigma: range of the blur's standard deviation, in pixels.
    """

    def __init__(self, *, size: Union[int, Sequence[int]] = 224, scale: Sequence[float] = (0.2, 1.0),
                 jitter: Sequence[float] = (0.4, 0.4, 0.4, 0.1), jitter_prob: float = 0.8,
                 grayscale_prob: float = 0.2, blur_prob: float = 0.5,
                 blur_sigma: Sequence[float] = (0.1, 2.0), hflip_prob: float = 0.5):
        self.size = _as_pair(size)
        if len(jitter) != 4:
            raise ValueError(f'jitter must be (brightness, contrast, saturation, hue), got {jitter!r}')
        for name, prob in (('jitter_prob', jitter_prob), ('grayscale_prob', grayscale_prob),
                           ('blur_prob', blur_prob), ('hflip_prob', hflip_prob)):
            if not 0 <= prob <= 1:
                raise ValueError(f'{name} must be in [0, 1], got {prob}')
        self.scale = tuple(scale)
        self.jitter = tuple(jitter)
        self.jitter_prob = jitter_prob
        self.grayscale_prob = grayscale_prob
        self.blur_prob = blur_prob
        self.blur_sigma = tuple(blur_sigma)
        self.hflip_prob = hflip_prob
        kernel = max(3, int(0.1 * min(self.size)) // 2 * 2 + 1)
        self._augment = v2.Compose([
            v2.RandomResizedCrop(self.size, scale=self.scale, antialias=True),
            v2.RandomApply([v2.ColorJitter(*self.jitter)], p=jitter_prob),
            v2.RandomGrayscale(p=grayscale_prob),
            v2.RandomApply([v2.GaussianBlur(kernel, sigma=self.blur_sigma)], p=blur_prob),
            v2.RandomHorizontalFlip(p=hflip_prob)])

    def transform(self, results: dict) -> dict:
        first = _image_tensor(results.get('img'), "results['img']")
        second = first
        refs = results.get(REF_FRAMES_KEY)
        if refs:
            second = _image_tensor(refs[0].get('img'), "the reference frame's image (wrap LoadFrame "
                                   'in ApplyToFrames)')
        results['views'] = torch.stack([self._augment(first), self._augment(second)])
        return results


@TRANSFORMS.register_module()
class PackContrastiveInputs(BaseTransform):
    """``dict(inputs=uint8 [2, 3, h, w], data_samples=DetDataSample)`` from ``ContrastiveViews``.

    ``DetDataPreprocessor`` reads the two views as a two-frame clip: view 1 comes out as
    ``inputs`` [B, 3, h, w], view 2 as ``ref_inputs`` [B, 1, 3, h, w]. The sample's metainfo
    has those of ``meta_keys`` present (``img_path``, ``img_id``, ``video_id``, ``frame_id``,
    ``gt_label``...) and, for temporal pairs, ``ref_img_path`` / ``ref_frame_id`` of the
    second view's frame.
    """

    def __init__(self, *, meta_keys: Sequence[str] = CONTRASTIVE_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        views = results.get('views')
        if not isinstance(views, torch.Tensor) or views.dim() != 4 or views.shape[:2] != (2, 3):
            raise ValueError("PackContrastiveInputs needs results['views'] as a [2, 3, h, w] tensor; "
                             'put ContrastiveViews before it')
        metainfo = {key: results[key] for key in self.meta_keys if key in results}
        metainfo['img_shape'] = tuple(views.shape[-2:])
        refs = results.get(REF_FRAMES_KEY)
        if refs:
            for key in ('img_path', 'frame_id'):
                if key in refs[0]:
                    metainfo[f'ref_{key}'] = refs[0][key]
        sample = DetDataSample()
        sample.set_metainfo(metainfo)
        return {'inputs': views, 'data_samples': sample}


@TRANSFORMS.register_module()
class PackClassificationInputs(BaseTransform):
    """``dict(inputs=uint8 [3, H, W], data_samples=DetDataSample)`` for a labelled image or crop.

    For k-NN / linear-probe evaluation: the label is ``sample.metainfo['gt_label']`` (an int).
    Put a fixed-size ``Resize`` before it so crops batch. Results without ``gt_label`` raise.
    """

    def __init__(self, *, meta_keys: Sequence[str] = CLASSIFICATION_META_KEYS):
        if 'gt_label' not in meta_keys:
            raise ValueError('PackClassificationInputs packs labels: meta_keys must include gt_label')
        self._pack = PackDetInputs(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        if results.get('gt_label') is None:
            raise ValueError(f"PackClassificationInputs needs results['gt_label'] (labelled data, e.g. "
                             f"ObjectCropDataset) for {results.get('img_path')!r}")
        results['gt_label'] = int(results['gt_label'])
        return self._pack.transform(results)
