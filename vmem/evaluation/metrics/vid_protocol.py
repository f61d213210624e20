"""The ImageNet VID detection protocol (ILSVRC devkit, as re-implemented by FGFA and MEGA).

Facts this module follows, and where vmem departs from them:

- A detection may match a ground-truth box of its class when IoU >= thr, with
  thr = min(0.5, w*h / ((w+10)*(h+10))) of the ground-truth box, so small objects get a
  looser threshold. Per frame, detections are taken by descending score; each takes the
  not-yet-matched candidate with the highest IoU (first one on ties).
- The devkit treats boxes as inclusive pixel indices (width = x2 - x1 + 1, and likewise in
  IoU). vmem's boxes are continuous (CocoVID json xywh), so by default width = x2 - x1;
  ``pixel_inclusive=True`` adds the devkit's +1 to reproduce its numbers on json converted
  from the VID XML (xmax - xmin as w).
- AP is the area under the precision/recall curve with precision made monotone and all
  recall points used (VOC 2010+ style, FGFA's ``vid_ap``), not COCO's 101-point sampling
  (mmtracking reports COCO AP50 instead, which differs slightly).
- Subsets (motion speed, degraded/clean) mark the other ground truth as ignored. Matching
  is unchanged; a detection matched to an ignored box counts neither as TP nor FP. An
  unmatched detection counts as FP with weight 1 when its best-overlapping box (any class)
  is kept, 0 when that box is ignored, and on a tie (e.g. no overlap at all) the fraction of
  the frame's boxes that are ignored; in a frame without ground truth the weight is the
  fraction of all evaluated boxes that fall in the subset. Those weights are FGFA's (and
  MEGA's) exactly, kept so subset numbers compare with published ones even though the tie
  weight looks inverted next to the empty-frame weight.
"""
from __future__ import annotations

import numpy as np


def box_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """IoU of every pair of xyxy boxes, [n, m]; 0 where the union is empty."""
    left_top = np.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    right_bottom = np.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    inter = np.clip(right_bottom - left_top, 0, None).prod(axis=2)
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    union = area1[:, None] + area2[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_thresholds(gt_boxes: np.ndarray, *, iou_thr: float = 0.5,
                     pixel_tolerance: float = 10.0) -> np.ndarray:
    """Per ground-truth box, the IoU a detection needs: looser for boxes of a few pixels."""
    width = gt_boxes[:, 2] - gt_boxes[:, 0]
    height = gt_boxes[:, 3] - gt_boxes[:, 1]
    return np.minimum(iou_thr, width * height / ((width + pixel_tolerance) * (height + pixel_tolerance)))


def match_frame(det_boxes: np.ndarray, det_scores: np.ndarray, det_labels: np.ndarray,
                gt_boxes: np.ndarray, gt_labels: np.ndarray,
                gt_thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Greedy matching in one frame.

    Returns (matched, iou): for each detection the index of its ground-truth box or -1,
    and the [detections, ground truth] IoU matrix the subset weights need.
    """
    iou = box_iou(det_boxes, gt_boxes)
    matched = np.full(len(det_boxes), -1, dtype=np.int64)
    if iou.size == 0:
        return matched, iou
    candidate = (iou >= gt_thresholds[None, :]) & (det_labels[:, None] == gt_labels[None, :])
    order = np.argsort(-det_scores, kind='stable')
    taken = np.zeros(len(gt_boxes), dtype=bool)
    for det in order[candidate[order].any(axis=1)]:
        free = candidate[det] & ~taken
        if free.any():
            gt = int(np.argmax(np.where(free, iou[det], -1.0)))
            matched[det] = gt
            taken[gt] = True
            if taken.all():
                break
    return matched, iou


def frame_tp_fp(matched: np.ndarray, iou: np.ndarray, gt_ignored: np.ndarray,
                empty_frame_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """TP and (weighted) FP per detection of one frame, given which boxes a subset ignores."""
    hit = matched >= 0
    tp = np.zeros(len(matched))
    tp[hit] = ~gt_ignored[matched[hit]]
    if gt_ignored.size == 0:
        return tp, np.where(hit, 0.0, empty_frame_weight)
    best_ignored = np.where(gt_ignored[None, :], iou, -1.0).max(axis=1)
    best_kept = np.where(~gt_ignored[None, :], iou, -1.0).max(axis=1)
    tie_weight = float(gt_ignored.mean())
    fp = np.where(best_kept > best_ignored, 1.0, np.where(best_ignored > best_kept, 0.0, tie_weight))
    fp[hit] = 0.0
    return tp, fp


def average_precision(scores: np.ndarray, tp: np.ndarray, fp: np.ndarray, num_positives: int) -> float:
    """All-point interpolated AP of one class; ``num_positives`` must be > 0."""
    order = np.argsort(-scores, kind='stable')
    tp_cum = np.cumsum(tp[order])
    fp_cum = np.cumsum(fp[order])
    recall = tp_cum / num_positives
    precision = tp_cum / np.maximum(tp_cum + fp_cum, np.finfo(np.float64).eps)
    recall = np.concatenate(([0.0], recall, [1.0]))
    precision = np.concatenate(([0.0], precision, [0.0]))
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))
