"""Per-frame ground truth for the VID metric, from a CocoVID dict or from collected records."""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from mmengine.logging import print_log

from vmem.datasets.cocovid_json import sorted_category_ids


@dataclass
class FrameTruth:
    """Ground truth of one frame; ``key`` orders and deduplicates frames."""

    key: tuple[int, int, int]
    img_id: int
    frame_id: int | None
    bboxes: np.ndarray          # [g, 4] xyxy, float64
    labels: np.ndarray          # [g] class indices
    crowd: np.ndarray           # [g] bool; ignored in every subset
    track_ids: np.ndarray       # [g] int64; one value per instance of one video
    degraded: np.ndarray | None  # [g] bool, or None when the data carries no such flag


def frame_key(img_id: int, video_id: int | None, frame_id: int | None) -> tuple[int, int, int]:
    """(0, video, frame) for video frames; (1, img_id, 0) for stand-alone images."""
    if video_id is not None and frame_id is not None:
        return (0, video_id, frame_id)
    return (1, img_id, 0)


class TrackIds:
    """Integer ids for (video, instance) pairs; objects without an instance get their own."""

    def __init__(self) -> None:
        self._ids: dict = {}
        self._next = 0

    def __call__(self, video_id: int | None, instance_id: int | None) -> int:
        """``video_id`` is None for a stand-alone image (no video or no frame index)."""
        if video_id is None or instance_id is None:
            self._next += 1
            return self._next - 1
        if (video_id, instance_id) not in self._ids:
            self._ids[(video_id, instance_id)] = self._next
            self._next += 1
        return self._ids[(video_id, instance_id)]


def frames_from_cocovid(dataset: dict, *, source: str, need_instance_ids: bool) -> dict[int, FrameTruth]:
    """``FrameTruth`` per image id; annotations with empty boxes are skipped with a warning."""
    label_of = {category_id: label for label, category_id in enumerate(sorted_category_ids(dataset))}
    has_degraded = any('degraded' in ann for ann in dataset['annotations'])
    by_image = defaultdict(list)
    skipped = 0
    for ann in dataset['annotations']:
        if ann['bbox'][2] <= 0 or ann['bbox'][3] <= 0:
            skipped += 1  # an empty box would get match threshold 0 and match anything
            continue
        by_image[ann['image_id']].append(ann)
    if skipped:
        print_log(f'{source}: skipped {skipped} annotation(s) with zero width or height', logger='current',
                  level=logging.WARNING)
    tracks = TrackIds()
    frames, image_of_key = {}, {}
    for image in dataset['images']:
        video_id, frame_id = image.get('video_id'), image.get('frame_id')
        key = frame_key(image['id'], video_id, frame_id)
        if key in image_of_key:
            raise ValueError(f'{source}: images {image_of_key[key]} and {image["id"]} are both frame '
                             f'{frame_id} of video {video_id}')
        image_of_key[key] = image['id']
        anns = by_image.get(image['id'], [])
        if need_instance_ids and video_id is not None:
            lacking = [ann['id'] for ann in anns if ann.get('instance_id') is None and not ann.get('iscrowd')]
            if lacking:
                raise ValueError(f'{source}: annotation id={lacking[0]} (a video frame) has no '
                                 '"instance_id", which the motion split needs; pass motion_groups=False '
                                 'to skip it')
        boxes = np.array([ann['bbox'] for ann in anns], dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        frames[image['id']] = FrameTruth(
            key=key, img_id=image['id'], frame_id=frame_id,
            bboxes=boxes, labels=np.array([label_of[ann['category_id']] for ann in anns], dtype=np.int64),
            crowd=np.array([bool(ann.get('iscrowd', 0)) for ann in anns], dtype=bool),
            track_ids=np.array([tracks(video_id if frame_id is not None else None, ann.get('instance_id'))
                                for ann in anns], dtype=np.int64),
            degraded=(np.array([bool(ann.get('degraded', False)) for ann in anns], dtype=bool)
                      if has_degraded else None))
    return frames


def frames_from_records(records: Sequence[dict], *, need_instance_ids: bool) -> list[FrameTruth]:
    """``FrameTruth`` from the ``gt`` that records carry when the metric has no ann_file."""
    has_degraded = any('degraded' in record['gt'] for record in records)
    tracks = TrackIds()
    frames = []
    for record in records:
        gt = record['gt']
        count = len(gt['bboxes'])
        instance_ids = gt.get('instance_ids')
        if need_instance_ids and record['video_id'] is not None and instance_ids is None and count:
            raise ValueError(f'data sample img_id={record["img_id"]}: gt_instances has no "instance_ids", '
                             'which the motion split needs; pass motion_groups=False to skip it')
        instance_ids = [None] * count if instance_ids is None else [int(i) for i in instance_ids]
        frames.append(FrameTruth(
            key=record['key'], img_id=record['img_id'], frame_id=record['frame_id'],
            bboxes=gt['bboxes'].astype(np.float64), labels=gt['labels'], crowd=np.zeros(count, dtype=bool),
            track_ids=np.array([tracks(record['video_id'] if record['frame_id'] is not None else None, i)
                                for i in instance_ids], dtype=np.int64),
            degraded=(gt['degraded'].astype(bool) if 'degraded' in gt
                      else np.zeros(count, dtype=bool)) if has_degraded else None))
    return frames
