"""What became of each ground-truth box: the error breakdown `VIDMetric` reports with
``error_breakdown=True``.

mAP says how much a detector misses, not why. Each box gets one outcome, judged over all
the frame's detections (whatever their score), in this order:

- ``found``: a detection of its class overlaps it enough (the VID protocol's per-box IoU
  threshold) and no detection of another class overlapping it enough scores higher;
- ``outscored``: a detection of its class overlaps it enough, but one of another class
  scores higher there;
- ``wrong_class``: only detections of other classes overlap it enough;
- ``mislocalised``: no detection overlaps it enough, but one overlaps it by at least
  ``loose_iou``;
- ``missed``: nothing overlaps it by ``loose_iou``.
"""
from __future__ import annotations

import numpy as np

from .vid_protocol import box_iou

OUTCOMES = ('found', 'outscored', 'wrong_class', 'mislocalised', 'missed')


def box_outcomes(det_boxes: np.ndarray, det_scores: np.ndarray, det_labels: np.ndarray,
                 gt_boxes: np.ndarray, gt_labels: np.ndarray, gt_thresholds: np.ndarray, *,
                 loose_iou: float = 0.3) -> np.ndarray:
    """Index into ``OUTCOMES`` for each ground-truth box of one frame, [g] int64."""
    outcome = np.full(len(gt_boxes), OUTCOMES.index('missed'), dtype=np.int64)
    if len(gt_boxes) == 0 or len(det_boxes) == 0:
        return outcome
    iou = box_iou(det_boxes, gt_boxes)                           # [d, g]
    enough = iou >= gt_thresholds[None, :]
    right = det_labels[:, None] == gt_labels[None, :]
    scores = det_scores[:, None]
    best_right = np.where(enough & right, scores, -np.inf).max(axis=0)
    best_wrong = np.where(enough & ~right, scores, -np.inf).max(axis=0)
    has_right, has_wrong = np.isfinite(best_right), np.isfinite(best_wrong)
    outcome[(iou >= loose_iou).any(axis=0)] = OUTCOMES.index('mislocalised')
    outcome[has_wrong] = OUTCOMES.index('wrong_class')
    outcome[has_right & has_wrong & (best_wrong > best_right)] = OUTCOMES.index('outscored')
    outcome[has_right & ~(has_wrong & (best_wrong > best_right))] = OUTCOMES.index('found')
    return outcome
