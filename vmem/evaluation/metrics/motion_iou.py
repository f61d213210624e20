"""Motion IoU of ground-truth objects, for the slow/medium/fast split of FGFA (Zhu et al. 2017).

An object's motion IoU in frame t is the mean IoU of its box with the same instance's boxes
in frames t-10 .. t+10 (t excluded, only frames where it is annotated): near 1 for a still
object, low for a fast one. FGFA ships these values precomputed; its loader (and MEGA's)
turns a missing value into 0, so an instance with no annotated neighbour counts as fast;
vmem does the same. Groups are FGFA's closed ranges, so a value of exactly 0.7 or 0.9
belongs to both neighbouring groups.
"""
from __future__ import annotations

import numpy as np

MOTION_WINDOW = 10
MOTION_GROUPS = {'fast': (0.0, 0.7), 'medium': (0.7, 0.9), 'slow': (0.9, 1.0)}


def paired_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """IoU of boxes1[i] with boxes2[i] (xyxy)."""
    width = np.clip(np.minimum(boxes1[:, 2], boxes2[:, 2]) - np.maximum(boxes1[:, 0], boxes2[:, 0]), 0, None)
    height = np.clip(np.minimum(boxes1[:, 3], boxes2[:, 3]) - np.maximum(boxes1[:, 1], boxes2[:, 1]), 0, None)
    inter = width * height
    union = ((boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
             + (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1]) - inter)
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def motion_ious(track_ids: np.ndarray, frame_ids: np.ndarray, boxes: np.ndarray,
                *, window: int = MOTION_WINDOW) -> np.ndarray:
    """Motion IoU of each box; ``track_ids`` are integers naming one instance in one video."""
    count = len(track_ids)
    if count == 0:
        return np.zeros(0)
    order = np.lexsort((frame_ids, track_ids))
    tracks, frames, sorted_boxes = track_ids[order], frame_ids[order], boxes[order]
    same = (tracks[1:] == tracks[:-1]) & (frames[1:] == frames[:-1])
    if same.any():
        at = int(np.flatnonzero(same)[0])
        raise ValueError(f'instance track {int(tracks[at])} has two boxes in frame {int(frames[at])}')
    iou_sum = np.zeros(count)
    neighbours = np.zeros(count)
    # frame ids of one track are distinct integers, so neighbours within the window sit
    # at most `window` positions apart in this order.
    for offset in range(1, min(window, count - 1) + 1):
        first, second = np.arange(count - offset), np.arange(offset, count)
        near = (tracks[first] == tracks[second]) & (frames[second] - frames[first] <= window)
        first, second = first[near], second[near]
        iou = paired_iou(sorted_boxes[first], sorted_boxes[second])
        # within one offset each position occurs at most once per side, so += is safe
        iou_sum[first] += iou
        iou_sum[second] += iou
        neighbours[first] += 1
        neighbours[second] += 1
    result_sorted = np.divide(iou_sum, neighbours, out=np.zeros(count), where=neighbours > 0)
    result = np.empty(count)
    result[order] = result_sorted
    return result


def motion_group_masks(motion: np.ndarray) -> dict[str, np.ndarray]:
    """Which boxes each group keeps."""
    return {name: (motion >= low) & (motion <= high) for name, (low, high) in MOTION_GROUPS.items()}
