"""Masks of the objects a video object segmentation item carries, and boxes derived from them."""
from __future__ import annotations

import numpy as np

from vmem.registry import TRANSFORMS

from ..davis_layout import read_label_map
from .base import BaseTransform
from .loading import decode_mask


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight xyxy boxes (pixel edges: x2 = last column + 1) of [n, H, W] masks, float32 [n, 4];
    an empty mask gets [0, 0, 0, 0]."""
    boxes = np.zeros((len(masks), 4), np.float32)
    for index, mask in enumerate(masks):
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(mask.any(axis=0))
        boxes[index] = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
    return boxes


@TRANSFORMS.register_module()
class LoadVOSAnnotations(BaseTransform):
    """Masks of ``results['object_ids']``, in that order, from the frame's annotation.

    The source is ``seg_map_path`` (an indexed PNG: pixel value = object id, as DAVIS) or,
    without one, ``instances`` with ``instance_id`` and a COCO ``mask`` (as CocoVID). Writes
    ``gt_masks`` uint8 [n, H, W], ``gt_instances_ids`` int64 [n], ``gt_bboxes_labels``
    int64 [n] (from ``object_labels``, else 0) and ``gt_bboxes`` float32 [n, 4] boxes of the
    masks. An object absent from this frame gets an all-zero mask and box [0, 0, 0, 0], so
    every frame of a clip lists the same objects in the same order.
    """

    def transform(self, results: dict) -> dict:
        if 'object_ids' not in results:
            raise ValueError("LoadVOSAnnotations needs results['object_ids'] (set by the VOS "
                             f'datasets), got keys {sorted(results)}')
        object_ids = [int(i) for i in results['object_ids']]
        height, width = self._frame_size(results)
        masks = np.zeros((len(object_ids), height, width), np.uint8)
        if object_ids and results.get('seg_map_path'):
            path = results['seg_map_path']
            label_map = read_label_map(path)
            if label_map.shape != (height, width):
                raise ValueError(f'{path} is {label_map.shape[0]}x{label_map.shape[1]} (h x w) but '
                                 f'its frame is {height}x{width}')
            for index, object_id in enumerate(object_ids):
                masks[index] = label_map == object_id
        elif object_ids:
            by_id = {instance.get('instance_id'): instance for instance in results.get('instances') or []}
            for index, object_id in enumerate(object_ids):
                instance = by_id.get(object_id)
                if instance is not None and instance.get('mask') is not None:
                    masks[index] = decode_mask(instance['mask'], height, width)
        labels = results.get('object_labels')
        if labels is None:
            labels = [0] * len(object_ids)
        if len(labels) != len(object_ids):
            raise ValueError(f"object_labels has {len(labels)} entries for {len(object_ids)} object_ids")
        results['gt_masks'] = masks
        results['gt_instances_ids'] = np.asarray(object_ids, np.int64).reshape(-1)
        results['gt_bboxes_labels'] = np.asarray(labels, np.int64).reshape(-1)
        results['gt_bboxes'] = masks_to_boxes(masks)
        return results

    @staticmethod
    def _frame_size(results: dict) -> tuple:
        if results.get('ori_shape') is not None:
            return tuple(int(v) for v in results['ori_shape'][:2])
        if results.get('height') is not None and results.get('width') is not None:
            return int(results['height']), int(results['width'])
        raise ValueError("LoadVOSAnnotations needs the frame size: put LoadFrame first or give "
                         "'height' and 'width' in the data info")


@TRANSFORMS.register_module()
class MasksToBoxes(BaseTransform):
    """Recompute ``gt_bboxes`` as the tight boxes of ``gt_masks``.

    Put it after the geometric transforms of a VOS pipeline: boxes then stay tight around
    the resized masks, and an absent object's box stays [0, 0, 0, 0] (``RandomFlip`` would
    mirror it to [W, 0, W, 0]).
    """

    def transform(self, results: dict) -> dict:
        if results.get('gt_masks') is None:
            raise ValueError("MasksToBoxes needs results['gt_masks']; put LoadVOSAnnotations before it")
        results['gt_bboxes'] = masks_to_boxes(np.asarray(results['gt_masks']))
        return results
