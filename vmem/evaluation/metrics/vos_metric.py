"""Semi-supervised video object segmentation: DAVIS J&F, and OTB box tracking scores."""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
from mmengine.logging import print_log

from vmem.datasets.transforms.vos_loading import masks_to_boxes
from vmem.registry import METRICS

from .frame_records import FrameRecordMetric, as_mapping, to_numpy, unique_records
from .vos_ground_truth import CocoVidGroundTruth, DavisGroundTruth, SequenceTruth
from .vos_measures import (boundary_f_measure, box_iou, center_error, precision_at, region_similarity,
                           success_curve)

PRED_KEY = 'pred_track_instances'


@METRICS.register_module()
class VOSMetric(FrameRecordMetric):
    """J&F under the DAVIS 2017 semi-supervised protocol, plus box success AUC / precision.

    Ground truth is read at original resolution from a DAVIS folder (``data_root``,
    ``split``, ``resolution``; sequences matched by ``video_name``) or a CocoVID json with
    masks (``ann_file``, e.g. SynthVID; matched by ``video_id``); frames by ``frame_id``
    (0-based position). Predictions: each frame's ``pred_track_instances`` with ``masks``
    bool [n, H, W], ``instance_ids`` [n], ``bboxes`` [n, 4] xyxy (optional: else the mask's
    box) and ``scores`` (not used: a model reports an absent object with an empty mask).

    Protocol (davis2017-evaluation, ``evaluation.py``): every object of a sequence is scored
    on every frame except the first and the last (frames 1..N-2); an object first visible at
    frame k > 0 (SynthVID objects enter late) is prompted there, so its frames k+1..N-2
    count. A missing prediction is an empty mask, also for frames never predicted. Per
    object J/F are means over its frames and recalls the fraction above 0.5; ``vos/J``,
    ``vos/F`` and recalls are means over all objects, ``vos/J&F`` = (J + F) / 2.
    ``ignore_void=True`` leaves DAVIS's void pixels (255) and CocoVID crowd regions out of J
    and F; note the official DAVIS 2017 script sets void pixels to 0 before it builds its
    void mask, so it effectively scores them as background (``ignore_void=False``).

    Box scores (``box_metrics``): per object, the frames after its prompt frame where it is
    visible; IoU of the predicted box with the box of the true mask (0 without a prediction)
    and centre error (infinite without one); ``box/success_auc`` is the OTB success AUC and
    ``box/precision@20`` the fraction of frames within 20 px, averaged over objects.

    ``vos/object_overlap``: on each frame with two or more non-empty predicted masks, the
    mean IoU between the masks of different objects, averaged over those frames. The
    ground-truth masks of different objects never overlap, so it should be near 0; near 1
    means the model gives every object the same mask (it cannot tell them apart).

    Per-sequence and per-object numbers are logged and kept in ``per_sequence`` /
    ``per_object``. Keys are not prefixed unless ``prefix`` is given.
    """

    default_prefix = ''  # keys carry their own 'vos/' and 'box/' groups

    def __init__(self, *, data_root: Optional[str] = None, split: str = 'val', resolution: str = '480p',
                 ann_file: Optional[str] = None, bound_th: float = 0.008, ignore_void: bool = True,
                 box_metrics: bool = True, precision_pixels: float = 20.0, collect_device: str = 'cpu',
                 collect_dir: Optional[str] = None, prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if (data_root is None) == (ann_file is None):
            raise ValueError('VOSMetric needs exactly one ground-truth source: data_root (a DAVIS '
                             f'folder) or ann_file (a CocoVID json); got data_root={data_root!r}, '
                             f'ann_file={ann_file!r}')
        if bound_th <= 0:
            raise ValueError(f'bound_th must be > 0, got {bound_th}')
        if precision_pixels < 0:
            raise ValueError(f'precision_pixels must be >= 0, got {precision_pixels}')
        self.data_root, self.split, self.resolution = data_root, split, resolution
        self.ann_file = ann_file
        self.bound_th = bound_th
        self.ignore_void = ignore_void
        self.box_metrics = box_metrics
        self.precision_pixels = precision_pixels
        self._ground_truth = None  # read on first use, so configs can be built without the data
        self._described: set = set()
        self.per_sequence: Dict[str, dict] = {}
        self.per_object: Dict[str, dict] = {}

    @property
    def ground_truth(self):
        if self._ground_truth is None:
            if self.ann_file is not None:
                self._ground_truth = CocoVidGroundTruth(ann_file=self.ann_file)
            else:
                self._ground_truth = DavisGroundTruth(data_root=self.data_root, split=self.split,
                                                      resolution=self.resolution)
        return self._ground_truth

    def evaluate(self, size: int) -> dict:
        try:
            return super().evaluate(size)
        finally:
            self._described.clear()  # the next evaluation describes its sequences afresh

    # ----------------------------------------------------------------- per frame
    def process(self, data_batch, data_samples: Sequence) -> None:
        truth = self.ground_truth
        for where, sample in _predicted_frames(data_samples):
            key = truth.key_of(sample, where)
            sequence = truth.sequence(key)
            position = _frame_position(sample, sequence, where)
            where = f'{where} (video {sequence.name!r}, frame {position})'
            predictions = _read_predictions(sample, where)
            record = self._score_frame(truth, sequence, position, predictions, where)
            if key not in self._described:  # each rank describes the sequences it saw once
                self._described.add(key)
                record['sequence'] = {'name': sequence.name, 'num_frames': sequence.num_frames,
                                      'visible': list(sequence.visible)}
            self.results.append(record)

    def _score_frame(self, truth, sequence: SequenceTruth, position: int,
                     predictions: Dict[int, Tuple[Optional[np.ndarray], Optional[np.ndarray]]],
                     where: str) -> dict:
        visible_here = set(sequence.visible[position])
        jobs = []  # (object id, score the mask, score the box)
        for object_id, first in sequence.first_frames.items():
            mask_due = first < position < sequence.num_frames - 1
            box_due = self.box_metrics and position > first and object_id in visible_here
            if mask_due or box_due:
                jobs.append((object_id, mask_due, box_due))
        count = len(jobs)
        record = {'key': (sequence.key, position), 'ids': np.array([j[0] for j in jobs], np.int64),
                  'J': np.full(count, np.nan, np.float32), 'F': np.full(count, np.nan, np.float32),
                  'iou': np.full(count, np.nan, np.float32), 'cerr': np.full(count, np.nan, np.float32),
                  'overlap': object_overlap([mask for mask, _ in predictions.values() if mask is not None])}
        if not jobs:
            return record
        frame = truth.frame(sequence.key, position, [j[0] for j in jobs])
        void = frame.void if self.ignore_void else None
        for mask, _ in predictions.values():
            if mask is not None and tuple(mask.shape) != tuple(frame.shape):
                raise ValueError(f'{where}: predicted masks are {tuple(mask.shape)} but the ground '
                                 f'truth is {tuple(frame.shape)} (h, w); predictions must be at '
                                 'original resolution')
        empty = np.zeros(frame.shape, bool)
        for index, (object_id, mask_due, box_due) in enumerate(jobs):
            gt_mask = frame.masks.get(object_id, empty)
            pred_mask, pred_box = predictions.get(object_id, (None, None))
            if mask_due:
                pred = empty if pred_mask is None else pred_mask
                record['J'][index] = region_similarity(pred, gt_mask, void)
                record['F'][index] = boundary_f_measure(pred, gt_mask, void, bound_th=self.bound_th)
            if box_due:
                gt_box = masks_to_boxes(gt_mask[None])[0]
                if pred_box is None:
                    record['iou'][index], record['cerr'][index] = 0.0, np.inf
                else:
                    record['iou'][index] = box_iou(pred_box, gt_box)
                    record['cerr'][index] = center_error(pred_box, gt_box)
        return record

    # ----------------------------------------------------------------- summary
    def compute_metrics(self, results: list) -> dict:
        descriptions = {}
        for record in results:
            if 'sequence' in record:
                descriptions.setdefault(record['key'][0], record['sequence'])
        records = unique_records(results, key=lambda r: r['key'], metric_name=type(self).__name__)
        frames: Dict[object, Dict[int, dict]] = {}
        for record in records:
            frames.setdefault(record['key'][0], {})[record['key'][1]] = record
        self._warn_unseen(frames)
        rows, tracks, missing = [], [], 0
        for key in sorted(frames):
            sequence = self._described_sequence(key, descriptions.get(key))
            missing += sequence.num_frames - len(frames[key])
            seq_rows, seq_tracks = self._score_sequence(sequence, frames[key])
            rows += seq_rows
            tracks += seq_tracks
        if missing:
            print_log(f'VOSMetric: {missing} frame(s) of the evaluated sequences got no prediction; '
                      'their objects count as empty predictions', logger='current', level=logging.WARNING)
        metrics = self._summarise(rows, tracks)
        overlaps = [r['overlap'] for r in records if not np.isnan(r.get('overlap', np.nan))]
        metrics['vos/object_overlap'] = float(np.mean(overlaps)) if overlaps else float('nan')
        return metrics

    def _described_sequence(self, key, description: Optional[dict]) -> SequenceTruth:
        if description is None:  # results not collected by evaluate(): read the truth here
            return self.ground_truth.sequence(key)
        return SequenceTruth(key=key, name=description['name'], num_frames=description['num_frames'],
                             shape=(0, 0), visible=[tuple(v) for v in description['visible']])

    def _warn_unseen(self, frames: Dict[object, Dict[int, dict]]) -> None:
        unseen = [key for key in self.ground_truth.keys() if key not in frames]
        if unseen:
            print_log(f'VOSMetric: {len(unseen)} sequence(s) of {self.ground_truth.source} got no '
                      f'prediction and are not evaluated (first: {unseen[:3]})', logger='current',
                      level=logging.WARNING)

    def _score_sequence(self, sequence: SequenceTruth, frames: Dict[int, dict]) -> Tuple[list, list]:
        rows, tracks = [], []
        last = sequence.num_frames - 1
        for object_id, first in sequence.first_frames.items():
            j_values, f_values, ious, errors = [], [], [], []
            for position in range(first + 1, sequence.num_frames):
                visible = object_id in sequence.visible[position]
                value = _lookup(frames.get(position), object_id)
                if position < last:
                    # no prediction = empty mask: right (1) exactly when the object is absent
                    default = 0.0 if visible else 1.0
                    j_values.append(default if value is None else value['J'])
                    f_values.append(default if value is None else value['F'])
                if self.box_metrics and visible:
                    ious.append(0.0 if value is None else value['iou'])
                    errors.append(math.inf if value is None else value['cerr'])
            name = f'{sequence.name}_{object_id}'
            if j_values:
                rows.append({'sequence': sequence.name, 'object': name,
                             'J': float(np.mean(j_values)), 'F': float(np.mean(f_values)),
                             'J_recall': float(np.mean(np.asarray(j_values) > 0.5)),
                             'F_recall': float(np.mean(np.asarray(f_values) > 0.5))})
            if ious:
                tracks.append({'object': name, 'success_auc': float(success_curve(ious).mean()),
                               'precision': precision_at(errors, self.precision_pixels)})
        return rows, tracks

    def _summarise(self, rows: List[dict], tracks: List[dict]) -> dict:
        metrics = {}
        if not rows:
            print_log('VOSMetric: no object has a frame to evaluate (sequences of fewer than 3 '
                      'frames, or no objects); J&F is NaN', logger='current', level=logging.WARNING)
        for name in ('J', 'F', 'J_recall', 'F_recall'):
            metrics[f'vos/{name}'] = float(np.mean([r[name] for r in rows])) if rows else float('nan')
        metrics['vos/J&F'] = (metrics['vos/J'] + metrics['vos/F']) / 2
        metrics = {key: metrics[key] for key in ('vos/J&F', 'vos/J', 'vos/F', 'vos/J_recall', 'vos/F_recall')}
        if self.box_metrics:
            metrics['box/success_auc'] = (float(np.mean([t['success_auc'] for t in tracks]))
                                          if tracks else float('nan'))
            metrics[f'box/precision@{self.precision_pixels:g}'] = (
                float(np.mean([t['precision'] for t in tracks])) if tracks else float('nan'))
        self.per_object = {r['object']: {k: r[k] for k in ('J', 'F', 'J_recall', 'F_recall')} for r in rows}
        for track in tracks:
            self.per_object.setdefault(track['object'], {}).update(
                success_auc=track['success_auc'], precision=track['precision'])
        self.per_sequence = {}
        for row in rows:
            self.per_sequence.setdefault(row['sequence'], []).append(row)
        self.per_sequence = {name: {'objects': len(group), 'J': float(np.mean([r['J'] for r in group])),
                                    'F': float(np.mean([r['F'] for r in group]))}
                             for name, group in self.per_sequence.items()}
        for values in self.per_sequence.values():
            values['J&F'] = (values['J'] + values['F']) / 2
        self._log_table()
        return metrics

    def _log_table(self) -> None:
        lines = [f'{"sequence":<24}{"objects":>8}{"J&F":>8}{"J":>8}{"F":>8}']
        for name, values in self.per_sequence.items():
            lines.append(f'{name:<24}{values["objects"]:>8d}{values["J&F"]:8.4f}{values["J"]:8.4f}'
                         f'{values["F"]:8.4f}')
        print_log('VOS per sequence:\n' + '\n'.join(lines), logger='current')


def object_overlap(masks: Sequence[np.ndarray]) -> float:
    """Mean IoU over pairs of different objects' non-empty masks [H, W] (NaN for fewer than 2)."""
    filled = [m.reshape(-1) for m in masks if m.any()]
    if len(filled) < 2:
        return float('nan')
    stacked = np.stack(filled).astype(np.float32)
    intersection = stacked @ stacked.T
    areas = np.diag(intersection)
    union = areas[:, None] + areas[None] - intersection
    pairs = np.triu_indices(len(filled), k=1)
    return float(np.mean(intersection[pairs] / union[pairs]))


def _lookup(record: Optional[dict], object_id: int) -> Optional[dict]:
    """The scores of ``object_id`` in a frame record (None when the frame has none)."""
    if record is None:
        return None
    hits = np.flatnonzero(record['ids'] == object_id)
    if hits.size == 0:
        return None
    index = int(hits[0])
    return {name: float(record[name][index]) for name in ('J', 'F', 'iou', 'cerr')}


def _predicted_frames(data_samples: Sequence) -> Iterator[Tuple[str, Mapping]]:
    """(where, frame) for each frame with predictions; clips contribute their predicted frames."""
    for index, sample in enumerate(data_samples):
        sample = as_mapping(sample, where=f'data sample {index}')
        if 'video_data_samples' not in sample:
            if PRED_KEY not in sample:
                raise ValueError(f'data sample {index} has no "{PRED_KEY}" (keys: {sorted(sample)})')
            yield f'data sample {index}', sample
            continue
        frames = [as_mapping(frame, where=f'data sample {index} frame {i}')
                  for i, frame in enumerate(sample['video_data_samples'])]
        predicted = [(i, frame) for i, frame in enumerate(frames) if PRED_KEY in frame]
        if not predicted:
            raise ValueError(f'data sample {index} is a clip of {len(frames)} frames, none with "{PRED_KEY}"')
        for i, frame in predicted:
            yield f'data sample {index} frame {i}', frame


def _frame_position(sample: Mapping, sequence: SequenceTruth, where: str) -> int:
    if sample.get('frame_id') is None:
        raise ValueError(f'{where} has no metainfo "frame_id"')
    position = int(to_numpy(sample['frame_id']).reshape(()))
    if not 0 <= position < sequence.num_frames:
        raise ValueError(f'{where}: frame_id {position} is outside video {sequence.name!r} of '
                         f'{sequence.num_frames} frames')
    return position


def _read_predictions(sample: Mapping, where: str) -> Dict[int, Tuple[Optional[np.ndarray],
                                                                     Optional[np.ndarray]]]:
    """instance id -> (bool mask or None, xyxy box or None) from ``pred_track_instances``."""
    instances = as_mapping(sample[PRED_KEY], where=f'{where}.{PRED_KEY}')
    where = f'{where}.{PRED_KEY}'
    if 'instance_ids' not in instances:
        raise ValueError(f'{where} has no "instance_ids"')
    ids = to_numpy(instances['instance_ids']).reshape(-1)
    if ids.size and ids.dtype.kind not in 'iu':
        raise TypeError(f'{where}.instance_ids must hold integers, got {ids.dtype}')
    ids = ids.astype(np.int64)
    if len(set(ids.tolist())) != len(ids):
        raise ValueError(f'{where}.instance_ids repeats an id: {ids.tolist()}')
    masks = _read_masks(instances, len(ids), where)
    boxes = None
    if instances.get('bboxes') is not None:
        boxes = to_numpy(instances['bboxes']).astype(np.float64)
        if boxes.size == 0 and len(ids) == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.shape != (len(ids), 4):
            raise ValueError(f'{where}.bboxes must have shape [{len(ids)}, 4], got {list(boxes.shape)}')
    predictions = {}
    for index, object_id in enumerate(ids.tolist()):
        mask = None if masks is None else masks[index]
        box = boxes[index] if boxes is not None else (
            masks_to_boxes(mask[None])[0].astype(np.float64) if mask is not None else None)
        if box is not None and (box[2] <= box[0] or box[3] <= box[1]):
            box = None  # an empty box says "not here", like a missing one
        predictions[object_id] = (mask, box)
    return predictions


def _read_masks(instances: Mapping, count: int, where: str) -> Optional[np.ndarray]:
    if instances.get('masks') is None:
        if count:
            raise ValueError(f'{where} has {count} instance_ids but no "masks"')
        return None
    masks = to_numpy(instances['masks'])
    if count == 0:
        return None
    if masks.ndim != 3 or len(masks) != count:
        raise ValueError(f'{where}.masks must have shape [{count}, H, W], got {list(masks.shape)}')
    if masks.dtype.kind == 'f':
        raise TypeError(f'{where}.masks are {masks.dtype}; give bool (or 0/1 integer) masks, '
                        'thresholding probabilities first')
    return masks.astype(bool)
