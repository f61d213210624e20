"""COCO detection / instance-segmentation metric on pycocotools."""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from collections.abc import Sequence

from mmengine.logging import print_log
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from vmem.registry import METRICS

from .coco_format import detections_to_coco, encode_masks, ground_truth_to_coco
from vmem.datasets.cocovid_json import BASE_ANNOTATION_KEYS, category_names, load_cocovid, sorted_category_ids
from .frame_records import (FrameRecordMetric, as_mapping, iter_frames, read_frame_identity,
                            read_ground_truth, read_predictions, read_vector, unique_records)

IOU_TYPES = ('bbox', 'segm')


@METRICS.register_module()
class CocoMetric(FrameRecordMetric):
    """COCO AP/AR for boxes and masks, computed by pycocotools' ``COCOeval``.

    Ground truth comes from ``ann_file`` (COCO or CocoVID json) or, without one, from the
    data samples' ``gt_instances``. Prediction labels are 0-based indices into the json's
    categories sorted by id. ``proposal_nums`` are COCOeval's three ``maxDets``; the
    default (1, 10, 100) is pycocotools' own, so the 12 numbers equal a plain COCOeval run.
    Keys: ``{bbox,segm}_mAP``, ``_mAP_50``, ``_mAP_75``, ``_mAP_s/m/l``, ``_AR@n`` for each
    n, ``_AR_s/m/l@n`` for the largest n; with ``classwise``, ``{type}_{class}_precision``.
    """

    default_prefix = 'coco'

    def __init__(self, *, ann_file: str | None = None, metric: str | Sequence[str] = 'bbox',
                 classwise: bool = False, proposal_nums: Sequence[int] = (1, 10, 100),
                 format_only: bool = False, outfile_prefix: str | None = None,
                 collect_device: str = 'cpu', collect_dir: str | None = None,
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.iou_types = [metric] if isinstance(metric, str) else list(metric)
        unknown = [m for m in self.iou_types if m not in IOU_TYPES]
        if unknown or not self.iou_types:
            raise ValueError(f'metric must be among {IOU_TYPES}, got {metric!r}')
        proposal_nums = tuple(int(n) for n in proposal_nums)
        increasing = list(proposal_nums) == sorted(set(proposal_nums))
        if len(proposal_nums) != 3 or min(proposal_nums) < 1 or not increasing:
            raise ValueError(f'proposal_nums must be three increasing positive ints, got {proposal_nums}')
        if format_only and not outfile_prefix:
            raise ValueError('format_only=True needs outfile_prefix (where the results json goes)')
        self.proposal_nums = proposal_nums
        self.classwise = classwise
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.ann_file = ann_file
        self._ground_truth = None
        if ann_file is not None:
            # pycocotools reads these without checking; segm also decodes polygons by image size
            with_segm = 'segm' in self.iou_types
            segm_keys = ('segmentation',) if with_segm else ()
            annotation_keys = (*BASE_ANNOTATION_KEYS, 'area', 'iscrowd', *segm_keys)
            self._ground_truth = load_cocovid(ann_file, annotation_keys=annotation_keys,
                                              image_keys=('width', 'height') if with_segm else ())
            self._image_ids = {image['id'] for image in self._ground_truth['images']}

    def _num_classes(self) -> int | None:
        if self._ground_truth is not None:
            return len(self._ground_truth['categories'])
        if self.dataset_meta and self.dataset_meta.get('classes') is not None:
            return len(self.dataset_meta['classes'])
        return None

    def process(self, data_batch, data_samples: Sequence) -> None:
        num_classes = self._num_classes()
        for where, sample in iter_frames(data_samples):
            record = read_frame_identity(sample, where=where)
            where = f'data sample img_id={record["img_id"]}'
            if self._ground_truth is not None and record['img_id'] not in self._image_ids:
                raise ValueError(f'{where}: img_id {record["img_id"]} is not an image of {self.ann_file}')
            record.update(read_predictions(sample, where=where, num_classes=num_classes))
            if 'segm' in self.iou_types:
                self._add_masks(record, as_mapping(sample['pred_instances'], where=where),
                                where=f'{where}.pred_instances')
            if self._ground_truth is None:
                record['gt'] = read_ground_truth(sample, where=where, num_classes=num_classes)
                if 'segm' in self.iou_types:
                    gt_instances = as_mapping(sample['gt_instances'], where=where)
                    if 'masks' in gt_instances:
                        record['gt']['masks'] = encode_masks(
                            gt_instances['masks'], len(record['gt']['bboxes']),
                            where=f'{where}.gt_instances', image_shape=record['ori_shape'])
            self.results.append(record)

    @staticmethod
    def _add_masks(record: dict, instances, *, where: str) -> None:
        if 'masks' not in instances:
            raise ValueError(f'{where} has no "masks", which metric "segm" needs')
        count = len(record['bboxes'])
        record['masks'] = encode_masks(instances['masks'], count, where=where,
                                       image_shape=record['ori_shape'])
        if instances.get('mask_scores') is not None:
            record['mask_scores'] = read_vector(instances, 'mask_scores', count, where=where)

    def compute_metrics(self, results: list) -> dict:
        records = unique_records(results, key=lambda r: r['img_id'], metric_name=type(self).__name__)
        coco_gt, category_ids, names = self._coco_ground_truth(records)
        missing = len(coco_gt.getImgIds()) - len(records)
        if missing > 0:
            print_log(f'CocoMetric: {missing} image(s) of the ground truth got no prediction; '
                      'their objects count as missed', logger='current', level=logging.WARNING)
        metrics: dict = {}
        for iou_type in self.iou_types:
            detections = detections_to_coco(records, iou_type=iou_type, category_ids=category_ids)
            if self.outfile_prefix:
                self._dump(detections, iou_type)
            if self.format_only:
                continue
            metrics.update(self._evaluate(coco_gt, detections, iou_type, names))
        return metrics

    def _coco_ground_truth(self, records: list) -> tuple[COCO, list, list]:
        if self._ground_truth is not None:
            dataset = self._ground_truth
            category_ids, names = sorted_category_ids(dataset), category_names(dataset)
        else:
            names = self._class_names(records)
            category_ids = list(range(len(names)))
            dataset = ground_truth_to_coco(records, class_names=names, with_masks='segm' in self.iou_types)
        coco_gt = COCO()
        coco_gt.dataset = dataset
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt.createIndex()
        return coco_gt, category_ids, names

    def _class_names(self, records: list) -> list[str]:
        if self.dataset_meta and self.dataset_meta.get('classes') is not None:
            return [str(name) for name in self.dataset_meta['classes']]
        labels = [r['labels'] for r in records] + [r['gt']['labels'] for r in records]
        top = max((int(l.max()) for l in labels if l.size), default=-1)
        return [str(index) for index in range(top + 1)]

    def _dump(self, detections: list, iou_type: str) -> None:
        path = f'{self.outfile_prefix}.{iou_type}.json'
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(detections, f)
        print_log(f'CocoMetric: wrote {len(detections)} {iou_type} results to {path}', logger='current')

    def _stat_names(self) -> list[str]:
        largest = self.proposal_nums[-1]
        return (['mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l']
                + [f'AR@{n}' for n in self.proposal_nums]
                + [f'AR_{size}@{largest}' for size in ('s', 'm', 'l')])

    def _evaluate(self, coco_gt: COCO, detections: list, iou_type: str, names: list) -> dict:
        keys = [f'{iou_type}_{name}' for name in self._stat_names()]
        if not detections:
            print_log(f'CocoMetric: no {iou_type} detections at all; reporting 0', logger='current',
                      level=logging.WARNING)
            return dict.fromkeys(keys, 0.0)
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            coco_dt = coco_gt.loadRes(detections)
            evaluator = COCOeval(coco_gt, coco_dt, iou_type)
            evaluator.params.maxDets = list(self.proposal_nums)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
        print_log(f'Evaluating {iou_type}:\n{log.getvalue()}', logger='current')
        metrics = {key: float(value) for key, value in zip(keys, evaluator.stats)}
        if self.classwise:
            metrics.update(self._per_class(evaluator, iou_type, names))
        return metrics

    @staticmethod
    def _per_class(evaluator: COCOeval, iou_type: str, names: list) -> dict:
        # precision: [iou thresholds, recall points, classes, area ranges, max dets]
        precision = evaluator.eval['precision']
        rows, metrics = [], {}
        for k, name in enumerate(names):
            values = []
            for iou_index in (slice(None), 0, 5):
                p = precision[iou_index, :, k, 0, -1]
                p = p[p > -1]
                values.append(float(p.mean()) if p.size else float('nan'))
            metrics[f'{iou_type}_{name}_precision'] = values[0]
            rows.append(f'{name:<20} {values[0]:7.3f} {values[1]:7.3f} {values[2]:7.3f}')
        header = f'{"class":<20} {"AP":>7} {"AP50":>7} {"AP75":>7}'
        print_log(f'{iou_type} per class:\n' + '\n'.join([header, *rows]), logger='current')
        return metrics
