"""Anomaly-detection data in the MVTec AD folder layout (the real benchmark or your own).

    <data_root>/<category>/train/good/*.png            normal images to build the memory from
    <data_root>/<category>/test/good/*.png             normal test images (no mask)
    <data_root>/<category>/test/<defect>/*.png         anomalous test images
    <data_root>/<category>/ground_truth/<defect>/<name>_mask.png   their masks (nonzero = anomalous)

Images are read as RGB: grayscale files are repeated to three channels and the alpha channel
of RGBA files is dropped (OpenCV's ``IMREAD_COLOR``; MVTec's grid, screw and zipper are
grayscale). Masks are read as grayscale and must have the image's size: a mask of another
size raises ``ValueError`` naming the file, as does a training folder without images.
A defective test image without a mask file raises too, unless ``allow_missing_masks``
(then it counts for the image-level metrics only).
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from mmengine.dataset import BaseDataset

from vmem.registry import DATASETS, TRANSFORMS
from vmem.structures import DetDataSample
from vmem.video import IMAGE_EXTENSIONS

from .transforms.base import BaseTransform
from .transforms.formatting import DEFAULT_META_KEYS, PackDetInputs

GOOD = 'good'
SPLITS = ('train', 'test')


def _images_in(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS)


@DATASETS.register_module()
class MVTecDataset(BaseDataset):
    """One split of one or more categories of an MVTec-AD-layout folder.

    Args:
        data_root: the folder holding the category folders.
        categories: category folder names; None: every sub-folder that has ``train/good``.
        split: ``'train'`` (normal images only) or ``'test'`` (normal and defective).
        num_shots: few-shot mode: keep only this many normal training images per category,
            drawn with ``shot_seed`` (1/2/4/8-shot in the few-shot papers). Train split only.
        shot_seed: seed of that draw, so a few-shot result can be reproduced.
        allow_missing_masks: let a defective test image have no mask file.
        pipeline: transforms, e.g. ``LoadFrame``, ``LoadAnomalyMask``, ``Resize``,
            ``PackAnomalyInputs``.

    Each item's ``category`` is its category name and ``gt_label`` 0 (good) or 1 (defect);
    ``metainfo['classes']`` lists the categories.
    """

    def __init__(self, *, data_root: str, categories: Optional[Sequence[str]] = None,
                 split: str = 'test', num_shots: Optional[int] = None, shot_seed: int = 0,
                 allow_missing_masks: bool = False, pipeline: Sequence = (),
                 lazy_init: bool = False, **kwargs) -> None:
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        if num_shots is not None:
            if isinstance(num_shots, bool) or not isinstance(num_shots, int) or num_shots < 1:
                raise ValueError(f'num_shots must be a positive int or None, got {num_shots!r}')
            if split != 'train':
                raise ValueError('num_shots selects support images: it applies to the train split only')
        if isinstance(categories, str):
            categories = [categories]
        self.split = split
        self.categories = list(categories) if categories is not None else None
        self.num_shots = num_shots
        self.shot_seed = shot_seed
        self.allow_missing_masks = allow_missing_masks
        super().__init__(data_root=data_root, pipeline=list(pipeline), lazy_init=lazy_init,
                         serialize_data=False, **kwargs)

    def _category_names(self, root: Path) -> list[str]:
        if not root.is_dir():
            raise FileNotFoundError(f'MVTecDataset: data_root {str(root)!r} is not a folder')
        if self.categories is not None:
            for name in self.categories:
                if not (root / name).is_dir():
                    raise FileNotFoundError(f'MVTecDataset: category folder {str(root / name)!r} does not exist')
            return self.categories
        names = sorted(path.name for path in root.iterdir() if (path / 'train' / GOOD).is_dir())
        if not names:
            raise FileNotFoundError(f'MVTecDataset: no category under {str(root)!r} has a train/good folder')
        return names

    def load_data_list(self) -> list[dict]:
        root = Path(self.data_root)
        names = self._category_names(root)
        self._metainfo['classes'] = tuple(names)
        items = []
        for name in names:
            items += self._train_items(root / name) if self.split == 'train' else self._test_items(root / name)
        return items

    def _train_items(self, category_root: Path) -> list[dict]:
        folder = category_root / 'train' / GOOD
        if not folder.is_dir():
            raise FileNotFoundError(f'MVTecDataset: no normal images: {str(folder)!r} does not exist')
        images = _images_in(folder)
        if not images:
            raise ValueError(f'MVTecDataset: no normal images in {str(folder)!r} '
                             f'(image extensions: {sorted(IMAGE_EXTENSIONS)})')
        if self.num_shots is not None:
            if self.num_shots > len(images):
                raise ValueError(f'num_shots={self.num_shots} but {str(folder)!r} has only {len(images)} images')
            images = sorted(random.Random(self.shot_seed).sample(images, self.num_shots))
        return [self._item(category_root, path, GOOD, None) for path in images]

    def _test_items(self, category_root: Path) -> list[dict]:
        test_root = category_root / 'test'
        if not test_root.is_dir():
            raise FileNotFoundError(f'MVTecDataset: {str(test_root)!r} does not exist')
        items = []
        for folder in sorted(path for path in test_root.iterdir() if path.is_dir()):
            for path in _images_in(folder):
                mask = None
                if folder.name != GOOD:
                    mask = category_root / 'ground_truth' / folder.name / f'{path.stem}_mask.png'
                    if not mask.is_file():
                        if not self.allow_missing_masks:
                            raise FileNotFoundError(f'MVTecDataset: {str(path)!r} has no mask {str(mask)!r} '
                                                    '(set allow_missing_masks=True to score it image-level only)')
                        mask = None
                items.append(self._item(category_root, path, folder.name, mask))
        if not items:
            raise ValueError(f'MVTecDataset: no test images under {str(test_root)!r}')
        return items

    @staticmethod
    def _item(category_root: Path, image: Path, defect: str, mask: Optional[Path]) -> dict:
        return dict(img_path=str(image), mask_path=None if mask is None else str(mask),
                    category=category_root.name, defect_type=defect, gt_label=int(defect != GOOD))


def read_mask(path: str) -> np.ndarray:
    """A mask file as uint8 {0, 1}; any nonzero pixel is anomalous."""
    data = np.fromfile(path, dtype=np.uint8) if os.path.isfile(path) else None
    if data is None:
        raise FileNotFoundError(f'mask file not found: {path!r}')
    mask = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if mask is None:
        raise ValueError(f'cannot decode mask file {path!r}')
    return (mask > 0).astype(np.uint8)


@TRANSFORMS.register_module()
class LoadAnomalyMask(BaseTransform):
    """Put the anomaly mask in ``results['gt_masks']`` as a [1, H, W] uint8 array.

    Normal images (no ``mask_path``) get an all-zero mask. Put it after ``LoadFrame`` and
    before any ``Resize``, which then resizes the mask with nearest-neighbour sampling.
    A mask whose size differs from the image's raises ``ValueError`` naming both files.
    """

    def transform(self, results: dict) -> dict:
        if 'img' not in results:
            raise ValueError("LoadAnomalyMask needs results['img']; put LoadFrame before it")
        height, width = results['img'].shape[:2]
        path = results.get('mask_path')
        if path is None:
            mask = np.zeros((height, width), np.uint8)
        else:
            mask = read_mask(path)
            if mask.shape != (height, width):
                raise ValueError(f'mask {path!r} is {mask.shape[0]}x{mask.shape[1]} (h x w) but its image '
                                 f"{results.get('img_path')!r} is {height}x{width}")
        results['gt_masks'] = mask[None]
        results['has_mask'] = path is not None or results.get('gt_label', 0) == 0
        return results


ANOMALY_META_KEYS = (*DEFAULT_META_KEYS, 'category', 'defect_type', 'gt_label', 'has_mask')


@TRANSFORMS.register_module()
class PackAnomalyInputs(BaseTransform):
    """``dict(inputs=uint8 [3, H, W], data_samples=DetDataSample)`` for anomaly detection.

    The sample carries ``gt_anomaly_mask`` (bool [H, W] at the transformed size, present
    when ``LoadAnomalyMask`` ran) and, in its metainfo, ``category``, ``defect_type``,
    ``gt_label`` (0 normal, 1 anomalous) and ``has_mask``.
    """

    def __init__(self, *, meta_keys: Sequence[str] = ANOMALY_META_KEYS):
        self._pack = PackDetInputs(meta_keys=meta_keys)

    def transform(self, results: dict) -> dict:
        masks = results.pop('gt_masks', None)
        packed = self._pack.transform(results)
        sample: DetDataSample = packed['data_samples']
        if masks is not None:
            sample.gt_anomaly_mask = torch.from_numpy(np.ascontiguousarray(masks[0] > 0))
        return packed
