"""Converting frame records to the COCO json layouts pycocotools reads."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from .frame_records import to_numpy


def xyxy_to_xywh(boxes: np.ndarray) -> list[list[float]]:
    boxes = np.asarray(boxes, dtype=np.float64)
    return [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in boxes]


def encode_masks(masks: Any, count: int, *, where: str,
                 image_shape: tuple[int, int] | None) -> list[dict]:
    """Binary masks [n, H, W] (or already-encoded RLE dicts) -> COCO RLEs with str counts."""
    if isinstance(masks, (list, tuple)) and all(isinstance(m, dict) for m in masks):
        rles = [dict(m) for m in masks]
        for rle in rles:
            if 'size' not in rle or 'counts' not in rle:
                raise ValueError(f'{where}.masks: an RLE dict needs "size" and "counts", '
                                 f'got keys {sorted(rle)}')
    else:
        array = to_numpy(masks)
        if array.size == 0 and count == 0:
            return []
        if array.ndim != 3 or array.shape[0] != count:
            raise ValueError(f'{where}.masks must have shape [{count}, H, W], got {list(array.shape)}')
        if image_shape is not None and tuple(array.shape[1:]) != tuple(image_shape):
            raise ValueError(f'{where}.masks are {list(array.shape[1:])} but ori_shape is '
                             f'{list(image_shape)}; '
                             'predictions must be in original-image coordinates')
        binary = np.asfortranarray((array > 0.5 if array.dtype.kind == 'f' else array != 0)
                                   .transpose(1, 2, 0).astype(np.uint8))
        rles = mask_utils.encode(binary)
    if len(rles) != count:
        raise ValueError(f'{where}.masks has {len(rles)} masks for {count} boxes')
    for rle in rles:
        if isinstance(rle['counts'], bytes):
            # json cannot hold bytes; pycocotools accepts either form.
            rle['counts'] = rle['counts'].decode('ascii')
    return list(rles)


def detections_to_coco(records: Sequence[dict], *, iou_type: str,
                       category_ids: Sequence[int]) -> list[dict]:
    """COCO result entries: ``bbox`` (xywh) for 'bbox', ``segmentation`` (RLE) for 'segm'.

    Segmentation entries carry no ``bbox``: pycocotools would then take the box area as the
    instance area and shift the small/medium/large split of mask AP.
    """
    detections = []
    for record in records:
        if iou_type == 'bbox':
            for box, score, label in zip(xyxy_to_xywh(record['bboxes']), record['scores'], record['labels']):
                detections.append({'image_id': record['img_id'], 'category_id': category_ids[label],
                                   'bbox': box, 'score': float(score)})
        else:
            if 'masks' not in record:
                raise ValueError(f'metric "segm" needs pred_instances.masks, but the prediction for '
                                 f'img_id {record["img_id"]} has none')
            scores = record.get('mask_scores', record['scores'])
            for rle, score, label in zip(record['masks'], scores, record['labels']):
                detections.append({'image_id': record['img_id'], 'category_id': category_ids[label],
                                   'segmentation': rle, 'score': float(score)})
    return detections


def ground_truth_to_coco(records: Sequence[dict], *, class_names: Sequence[str],
                         with_masks: bool) -> dict:
    """A COCO ground-truth dict from the ``gt`` carried in records; category id = label index."""
    images, annotations = [], []
    for record in records:
        gt = record['gt']
        image = {'id': record['img_id']}
        if record.get('ori_shape') is not None:
            image['height'], image['width'] = record['ori_shape']
        images.append(image)
        if with_masks and 'masks' not in gt:
            raise ValueError(f'metric "segm" without an ann_file needs gt_instances.masks, but img_id '
                             f'{record["img_id"]} has none')
        for index, (box, label) in enumerate(zip(xyxy_to_xywh(gt['bboxes']), gt['labels'])):
            annotation = {'id': len(annotations) + 1, 'image_id': record['img_id'],
                          'category_id': int(label), 'bbox': box, 'area': box[2] * box[3], 'iscrowd': 0}
            if with_masks:
                annotation['segmentation'] = gt['masks'][index]
                annotation['area'] = float(mask_utils.area(gt['masks'][index]))
            annotations.append(annotation)
    categories = [{'id': index, 'name': name} for index, name in enumerate(class_names)]
    return {'images': images, 'annotations': annotations, 'categories': categories}
