"""ImageNet VID mAP with the FGFA motion-speed split and SynthVID's degraded/clean split."""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from mmengine.logging import print_log

from vmem.registry import METRICS

from vmem.datasets.cocovid_json import category_names, load_cocovid
from .frame_records import (FrameRecordMetric, iter_frames, read_frame_identity, read_ground_truth,
                            read_predictions, unique_records)
from .motion_iou import motion_group_masks, motion_ious
from .vid_errors import OUTCOMES, box_outcomes
from .vid_ground_truth import FrameTruth, frame_key, frames_from_cocovid, frames_from_records
from .vid_outcomes import VIDOutcomes
from .vid_protocol import frame_tp_fp, match_frame, match_thresholds


@METRICS.register_module()
class VIDMetric(FrameRecordMetric):
    """Per-class AP and mAP under the ImageNet VID protocol (see ``vid_protocol``).

    Keys: ``mAP`` (mean over classes with ground truth), ``mAP_fast``/``_medium``/``_slow``
    with ``motion_groups`` (see ``motion_iou``), ``mAP_degraded``/``mAP_clean`` when the
    annotations carry ``degraded`` (a missing flag counts as clean), and ``AP_<class>`` with
    ``classwise``, and with ``error_breakdown`` ``errors_<subset>_<outcome>``: the share of
    the subset's boxes with each outcome of `vid_errors` (found, outscored by another
    class, wrong class only, mislocalised, missed). A subset without ground truth reports
    NaN. ``outcomes_file`` (.npz) also saves each detection's outcome per video, which
    `vmem.evaluation.paired_bootstrap` compares between two models. Frames are deduplicated by (video_id, frame_id) after collection, so padded or repeated frames count once. With
    an ``ann_file`` every image in it is evaluated; images without a prediction count as
    missed. Without one, ground truth comes from the samples' ``gt_instances`` (with
    ``instance_ids`` for the motion split and optionally ``degraded``).
    """

    default_prefix = 'vid'

    def __init__(self, *, ann_file: str | None = None, motion_groups: bool = True,
                 classwise: bool = False, error_breakdown: bool = False, outcomes_file: str | None = None,
                 iou_thr: float = 0.5,
                 pixel_tolerance: float = 10.0, pixel_inclusive: bool = False,
                 collect_device: str = 'cpu', collect_dir: str | None = None,
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        if not 0 < iou_thr <= 1:
            raise ValueError(f'iou_thr must be in (0, 1], got {iou_thr}')
        if pixel_tolerance < 0:
            raise ValueError(f'pixel_tolerance must be >= 0, got {pixel_tolerance}')
        self.ann_file = ann_file
        self.motion_groups = motion_groups
        self.classwise = classwise
        self.error_breakdown = error_breakdown
        self.outcomes_file = outcomes_file
        self.iou_thr = iou_thr
        self.pixel_tolerance = pixel_tolerance
        self.pixel_inclusive = pixel_inclusive
        self._frames: dict[int, FrameTruth] | None = None
        self._class_names: list[str] | None = None
        if ann_file is not None:
            dataset = load_cocovid(ann_file)
            self._frames = frames_from_cocovid(dataset, source=ann_file, need_instance_ids=motion_groups)
            self._class_names = category_names(dataset)

    def _names(self, records: Sequence[dict] = ()) -> list[str] | None:
        if self._class_names is not None:
            return self._class_names
        if self.dataset_meta and self.dataset_meta.get('classes') is not None:
            return [str(name) for name in self.dataset_meta['classes']]
        if not records:
            return None
        labels = [r['labels'] for r in records] + [r['gt']['labels'] for r in records]
        return [str(i) for i in range(max((int(l.max()) for l in labels if l.size), default=-1) + 1)]

    def process(self, data_batch, data_samples: Sequence) -> None:
        names = self._names()
        num_classes = None if names is None else len(names)
        for where, sample in iter_frames(data_samples):
            record = read_frame_identity(sample, where=where)
            where = f'data sample img_id={record["img_id"]}'
            if self._frames is not None:
                self._check_against_ann_file(record, where)
            record.update(read_predictions(sample, where=where, num_classes=num_classes))
            record['key'] = frame_key(record['img_id'], record['video_id'], record['frame_id'])
            if self._frames is None:
                record['gt'] = read_ground_truth(sample, where=where, num_classes=num_classes,
                                                 optional_fields=('instance_ids', 'degraded'))
            self.results.append(record)

    def _check_against_ann_file(self, record: dict, where: str) -> None:
        truth = self._frames.get(record['img_id'])
        if truth is None:
            raise ValueError(f'{where}: img_id {record["img_id"]} is not an image of {self.ann_file}')
        if record['video_id'] is not None and record['frame_id'] is not None \
                and frame_key(record['img_id'], record['video_id'], record['frame_id']) != truth.key:
            raise ValueError(f'{where}: (video_id, frame_id) = ({record["video_id"]}, {record["frame_id"]}) '
                             f'disagrees with {self.ann_file}')
        # the json is the authority on which frame this is
        is_video_frame = truth.key[0] == 0
        record['video_id'] = truth.key[1] if is_video_frame else None
        record['frame_id'] = truth.key[2] if is_video_frame else None

    def compute_metrics(self, results: list) -> dict:
        records = unique_records(results, key=lambda r: r['key'], metric_name=type(self).__name__)
        if self._frames is not None:
            frames = sorted(self._frames.values(), key=lambda f: f.key)
            missing = len(frames) - len(records)
            if missing > 0:
                print_log(f'VIDMetric: {missing} of {len(frames)} frames of {self.ann_file} got no '
                          'prediction; their objects count as missed', logger='current',
                          level=logging.WARNING)
        else:
            frames = frames_from_records(records, need_instance_ids=self.motion_groups)
        names = self._names(records) or []
        predictions = {r['key']: r for r in records}
        outcomes = self.outcomes(frames, predictions, len(names))
        if self.outcomes_file:
            outcomes.save(self.outcomes_file)
        aps = {subset: outcomes.class_aps(subset) for subset in outcomes.subsets}
        metrics = {}
        for subset, per_class in aps.items():
            kept = per_class[~np.isnan(per_class)]
            key = 'mAP' if subset == 'all' else f'mAP_{subset}'
            metrics[key] = float(kept.mean()) if kept.size else float('nan')
        if self.classwise:
            metrics.update({f'AP_{name}': float(ap) for name, ap in zip(names, aps['all'])})
        self._log_table(names, aps)
        if self.error_breakdown:
            metrics.update(self._error_shares(frames, predictions))
        return metrics

    def _subset_masks(self, frames: list[FrameTruth], boxes: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Per subset, which ground-truth boxes (concatenated over frames) it keeps."""
        count = sum(len(f.labels) for f in frames)
        masks = {'all': np.ones(count, dtype=bool)}
        if self.motion_groups:
            frame_ids = np.array([f.frame_id if f.frame_id is not None else 0
                                  for f in frames for _ in f.labels], dtype=np.int64)
            track_ids = np.concatenate([f.track_ids for f in frames]) if frames else np.zeros(0, np.int64)
            all_boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4))
            masks.update(motion_group_masks(motion_ious(track_ids, frame_ids, all_boxes)))
        if any(f.degraded is not None for f in frames):
            degraded = np.concatenate([f.degraded for f in frames])
            masks.update(degraded=degraded, clean=~degraded)
        return masks

    def _box_shift(self) -> np.ndarray:
        # the devkit's widths count both end pixels: x2 - x1 + 1
        return np.array([0, 0, 1, 1]) if self.pixel_inclusive else np.zeros(4)

    def outcomes(self, frames: list[FrameTruth], predictions: dict, num_classes: int) -> VIDOutcomes:
        """Every detection's TP / FP per subset and the positives, per video (see `vid_outcomes`)."""
        shift = self._box_shift()
        gt_boxes = [f.bboxes + shift for f in frames]
        keeps = self._subset_masks(frames, gt_boxes)
        crowd = np.concatenate([f.crowd for f in frames]) if frames else np.zeros(0, bool)
        # an unmatched detection in a frame without ground truth is charged to a subset in
        # proportion to the subset's share of all boxes (FGFA)
        empty_weights = {name: float(keep[~crowd].mean()) if (~crowd).any() else 1.0
                         for name, keep in keeps.items()}
        video_keys = sorted({f.key[:2] for f in frames})
        video_row = {key: row for row, key in enumerate(video_keys)}
        scores, labels, det_video = [], [], []
        tps, fps = {name: [] for name in keeps}, {name: [] for name in keeps}
        positives = {name: np.zeros((len(video_keys), num_classes), dtype=np.int64) for name in keeps}
        start = 0
        for frame, boxes in zip(frames, gt_boxes):
            stop = start + len(frame.labels)
            row = video_row[frame.key[:2]]
            det_boxes, det_scores, det_labels = frame_detections(predictions.get(frame.key), shift)
            thresholds = match_thresholds(boxes, iou_thr=self.iou_thr, pixel_tolerance=self.pixel_tolerance)
            matched, iou = match_frame(det_boxes, det_scores, det_labels, boxes, frame.labels, thresholds)
            scores.append(det_scores)
            labels.append(det_labels)
            det_video.append(np.full(len(det_scores), row, dtype=np.int64))
            for name, keep in keeps.items():
                ignored = frame.crowd | ~keep[start:stop]
                tp, fp = frame_tp_fp(matched, iou, ignored, empty_weights[name])
                tps[name].append(tp)
                fps[name].append(fp)
                positives[name][row] += np.bincount(frame.labels[~ignored], minlength=num_classes)[:num_classes]
            start = stop

        def joined(parts: list, dtype) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
        return VIDOutcomes(videos=np.array(video_keys, dtype=np.int64).reshape(-1, 2),
                           scores=joined(scores, np.float64), labels=joined(labels, np.int64),
                           det_video=joined(det_video, np.int64),
                           tp={name: joined(tps[name], np.float64) for name in keeps},
                           fp={name: joined(fps[name], np.float64) for name in keeps}, positives=positives)

    def _error_shares(self, frames: list[FrameTruth], predictions: dict) -> dict[str, float]:
        shift = self._box_shift()
        gt_boxes = [f.bboxes + shift for f in frames]
        outcomes = [box_outcomes(*frame_detections(predictions.get(frame.key), shift), boxes, frame.labels,
                                 match_thresholds(boxes, iou_thr=self.iou_thr,
                                                  pixel_tolerance=self.pixel_tolerance))
                    for frame, boxes in zip(frames, gt_boxes)]
        outcomes = np.concatenate(outcomes) if outcomes else np.zeros(0, np.int64)
        crowd = np.concatenate([f.crowd for f in frames]) if frames else np.zeros(0, bool)
        shares, lines = {}, [f'{"boxes":<10}' + ''.join(f'{o:>14}' for o in OUTCOMES)]
        for subset, keep in self._subset_masks(frames, gt_boxes).items():
            chosen = outcomes[keep & ~crowd]
            row = [float((chosen == i).mean()) if chosen.size else float('nan') for i in range(len(OUTCOMES))]
            shares.update({f'errors_{subset}_{outcome}': share for outcome, share in zip(OUTCOMES, row)})
            lines.append(f'{subset:<10}' + ''.join(f'{share:14.3f}' for share in row))
        print_log('VID outcome of each ground-truth box (share of the subset):\n' + '\n'.join(lines),
                  logger='current')
        return shares

    @staticmethod
    def _log_table(names: list[str], aps: dict[str, np.ndarray]) -> None:
        subsets = list(aps)
        lines = [f'{"class":<20}' + ''.join(f'{s:>10}' for s in subsets)]
        for c, name in enumerate(names):
            lines.append(f'{name:<20}' + ''.join(f'{aps[s][c]:10.4f}' for s in subsets))
        print_log('VID AP per class:\n' + '\n'.join(lines), logger='current')


def frame_detections(prediction: dict | None, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes + shift, scores, labels) of one frame's prediction record; empty without one."""
    if prediction is None:
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    return (prediction['bboxes'].astype(np.float64) + shift, prediction['scores'].astype(np.float64),
            prediction['labels'])
