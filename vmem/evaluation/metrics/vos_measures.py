"""Per-frame measures of video object segmentation (DAVIS J and F) and box tracking (OTB).

Conventions follow the DAVIS 2017 evaluation package (davisvideochallenge/davis2017-evaluation,
``davis2017/metrics.py``), re-implemented here:

- J (region similarity) = |pred & gt| / |pred | gt| over non-void pixels; 1 when both are empty.
- F (boundary measure): boundaries are one pixel wide, offset half a pixel towards the origin:
  a pixel is a boundary pixel when it differs from its right, lower or lower-right
  neighbour, except that the last row only compares with the right neighbour, the last
  column only with the lower one, and the bottom-right pixel never is one. Boundaries are
  matched within a disk of radius ``bound_th`` pixels when ``bound_th >= 1``, else
  ``ceil(bound_th * image diagonal)`` (0.008 -> 8 px at 854x480). Precision/recall are the
  matched fractions of predicted/true boundary pixels; an empty prediction boundary has
  precision 1 and recall 0 (and the reverse), both empty give F = 1.

Box measures follow the OTB one-pass evaluation (as in pysot's ``ope_benchmark``): success
rate at IoU thresholds 0, 0.05, ..., 1 counts IoU strictly above the threshold (so even
perfect boxes score 0 at threshold 1: AUC 20/21), precision counts centre errors <= the
pixel threshold.
"""
from __future__ import annotations

import math
from typing import Optional

import cv2
import numpy as np

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)


def region_similarity(pred: np.ndarray, gt: np.ndarray, void: Optional[np.ndarray] = None) -> float:
    """J: intersection over union of two boolean masks, void pixels left out."""
    pred, gt = pred.astype(bool), gt.astype(bool)
    if void is not None:
        keep = ~void.astype(bool)
        pred, gt = pred & keep, gt & keep
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """DAVIS-style one-pixel boundary of a boolean mask (see the module docstring)."""
    mask = mask.astype(bool)
    right = np.zeros_like(mask)
    below = np.zeros_like(mask)
    below_right = np.zeros_like(mask)
    right[:, :-1] = mask[:, 1:]
    below[:-1, :] = mask[1:, :]
    below_right[:-1, :-1] = mask[1:, 1:]
    boundary = (mask ^ right) | (mask ^ below) | (mask ^ below_right)
    boundary[-1, :] = mask[-1, :] ^ right[-1, :]
    boundary[:, -1] = mask[:, -1] ^ below[:, -1]
    boundary[-1, -1] = False
    return boundary


def boundary_radius(height: int, width: int, bound_th: float = 0.008) -> int:
    """Matching tolerance in pixels: ``bound_th`` itself when >= 1, else a fraction of the diagonal."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(height, width)))


def disk(radius: int) -> np.ndarray:
    """uint8 structuring element of the pixels within ``radius`` of the centre."""
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return (x * x + y * y <= radius * radius).astype(np.uint8)


def boundary_f_measure(pred: np.ndarray, gt: np.ndarray, void: Optional[np.ndarray] = None,
                       bound_th: float = 0.008) -> float:
    """F: harmonic mean of boundary precision and recall (see the module docstring)."""
    pred, gt = pred.astype(bool), gt.astype(bool)
    if void is not None:
        keep = ~void.astype(bool)
        pred, gt = pred & keep, gt & keep
    pred_boundary, gt_boundary = boundary_map(pred), boundary_map(gt)
    num_pred, num_gt = np.count_nonzero(pred_boundary), np.count_nonzero(gt_boundary)
    if num_pred == 0 or num_gt == 0:
        return 1.0 if num_pred == num_gt else 0.0
    kernel = disk(boundary_radius(*gt.shape[:2], bound_th=bound_th))
    gt_reach = cv2.dilate(gt_boundary.astype(np.uint8), kernel).astype(bool)
    pred_reach = cv2.dilate(pred_boundary.astype(np.uint8), kernel).astype(bool)
    precision = np.count_nonzero(pred_boundary & gt_reach) / num_pred
    recall = np.count_nonzero(gt_boundary & pred_reach) / num_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two xyxy boxes (continuous coordinates); 0 when the union is empty."""
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def center_error(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between the centres of two xyxy boxes."""
    return float(math.hypot((a[0] + a[2] - b[0] - b[2]) / 2, (a[1] + a[3] - b[1] - b[3]) / 2))


def success_curve(ious: np.ndarray) -> np.ndarray:
    """Fraction of frames with IoU > t for each t in ``SUCCESS_THRESHOLDS`` (OTB)."""
    ious = np.asarray(ious, np.float64)
    if ious.size == 0:
        return np.full(len(SUCCESS_THRESHOLDS), np.nan)
    return (ious[None, :] > SUCCESS_THRESHOLDS[:, None]).mean(axis=1)


def precision_at(errors: np.ndarray, pixels: float = 20.0) -> float:
    """Fraction of frames whose centre error is at most ``pixels`` (OTB precision)."""
    errors = np.asarray(errors, np.float64)
    return float((errors <= pixels).mean()) if errors.size else float('nan')
