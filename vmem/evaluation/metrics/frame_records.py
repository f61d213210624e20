"""Per-frame records: what the metrics keep from each data sample, and how they are collected.

Records are small dicts of numpy arrays so that gathering them across ranks is cheap. Data
samples arrive either as ``DetDataSample`` objects or as the dicts ``to_dict()`` makes of
them (mmengine's ``Evaluator`` converts); both are read by duck typing so this layer does
not import ``vmem.structures``.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log


def as_mapping(sample: Any, *, where: str) -> Mapping:
    if hasattr(sample, 'to_dict'):
        sample = sample.to_dict()
    if not isinstance(sample, Mapping):
        raise TypeError(f'{where}: expected a DetDataSample or a dict, got {type(sample).__name__}')
    return sample


def iter_frames(data_samples: Sequence) -> Iterator[tuple[str, Mapping]]:
    """(where, frame) for each frame; a clip (``video_data_samples``, as ``TrackDataSample``
    holds) contributes every frame that carries ``pred_instances``."""
    for index, sample in enumerate(data_samples):
        sample = as_mapping(sample, where=f'data sample {index}')
        if 'video_data_samples' not in sample:
            yield f'data sample {index}', sample
            continue
        frames = [as_mapping(frame, where=f'data sample {index} frame {i}')
                  for i, frame in enumerate(sample['video_data_samples'])]
        predicted = [(i, frame) for i, frame in enumerate(frames) if 'pred_instances' in frame]
        if not predicted:
            raise ValueError(f'data sample {index} is a clip of {len(frames)} frames, '
                             'none with "pred_instances"')
        for i, frame in predicted:
            yield f'data sample {index} frame {i}', frame


def to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def read_boxes(instances: Mapping, *, where: str) -> np.ndarray:
    """``bboxes`` as float64 [n, 4]; an empty array of any shape counts as no boxes."""
    if 'bboxes' not in instances:
        raise ValueError(f'{where} has no "bboxes"')
    boxes = to_numpy(instances['bboxes'])
    if boxes.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f'{where}.bboxes must have shape [n, 4], got {list(boxes.shape)}')
    boxes = boxes.astype(np.float64)
    if not np.isfinite(boxes).all():
        raise ValueError(f'{where}.bboxes contains NaN or inf')
    return boxes


def read_vector(instances: Mapping, key: str, length: int, *, where: str,
                integer: bool = False) -> np.ndarray:
    """A per-instance field as a 1-D array of ``length`` values."""
    if key not in instances:
        raise ValueError(f'{where} has no "{key}"')
    values = to_numpy(instances[key])
    if values.size == 0 and length == 0:
        values = values.reshape(0)
    if values.shape != (length,):
        raise ValueError(f'{where}.{key} must have shape [{length}] (one per box), got {list(values.shape)}')
    if not integer:
        return values.astype(np.float64)
    fractional = values.dtype.kind == 'f' and not np.all(values == np.round(values))
    if values.dtype.kind not in 'iuf' or fractional:
        raise TypeError(f'{where}.{key} must hold integers, got {values.dtype} {values[:5].tolist()}')
    return values.astype(np.int64)


def check_labels(labels: np.ndarray, num_classes: int | None, *, where: str) -> None:
    if labels.size and labels.min() < 0:
        raise ValueError(f'{where}.labels has negative label {int(labels.min())}')
    if num_classes is not None and labels.size and labels.max() >= num_classes:
        raise ValueError(f'{where}.labels has label {int(labels.max())}, but there are only '
                         f'{num_classes} classes (labels are 0-based indices into the categories '
                         'sorted by id)')


def read_frame_identity(sample: Mapping, *, where: str) -> dict:
    """``img_id`` (required), ``video_id``/``frame_id`` (None when absent) and ``ori_shape``."""
    if 'img_id' not in sample:
        raise ValueError(f'{where} has no metainfo "img_id" (keys: {sorted(sample)})')
    identity = {'img_id': _plain_int(sample['img_id'], 'img_id', where)}
    for key in ('video_id', 'frame_id'):
        identity[key] = _plain_int(sample[key], key, where) if sample.get(key) is not None else None
    shape = sample.get('ori_shape')
    identity['ori_shape'] = tuple(int(v) for v in shape[:2]) if shape is not None else None
    return identity


def read_predictions(sample: Mapping, *, where: str, num_classes: int | None) -> dict:
    """``bboxes``/``scores``/``labels`` from ``pred_instances``, checked for shape and labels."""
    if 'pred_instances' not in sample:
        raise ValueError(f'{where} has no "pred_instances"')
    instances = as_mapping(sample['pred_instances'], where=f'{where}.pred_instances')
    where = f'{where}.pred_instances'
    boxes = read_boxes(instances, where=where)
    labels = read_vector(instances, 'labels', len(boxes), where=where, integer=True)
    check_labels(labels, num_classes, where=where)
    # float32 halves what ranks exchange; inputs are float32 tensors anyway
    return {'bboxes': boxes.astype(np.float32),
            'scores': read_vector(instances, 'scores', len(boxes), where=where).astype(np.float32),
            'labels': labels}


def read_ground_truth(sample: Mapping, *, where: str, num_classes: int | None,
                      optional_fields: Sequence[str] = ()) -> dict:
    """``bboxes``/``labels`` (+ any of ``optional_fields`` present) from ``gt_instances``."""
    if 'gt_instances' not in sample:
        raise ValueError(f'{where} has no "gt_instances"; without an ann_file the metric needs the '
                         'ground truth in the data samples')
    instances = as_mapping(sample['gt_instances'], where=f'{where}.gt_instances')
    where = f'{where}.gt_instances'
    boxes = read_boxes(instances, where=where)
    labels = read_vector(instances, 'labels', len(boxes), where=where, integer=True)
    check_labels(labels, num_classes, where=where)
    record = {'bboxes': boxes.astype(np.float32), 'labels': labels}
    for key in optional_fields:
        if key in instances and instances[key] is not None:
            record[key] = to_numpy(instances[key])
            if len(record[key]) != len(boxes):
                raise ValueError(f'{where}.{key} has {len(record[key])} entries for {len(boxes)} boxes')
    return record


def unique_records(records: Sequence[dict], key: Callable[[dict], Any], *,
                   metric_name: str) -> list[dict]:
    """The first record of each (sortable) key, in key order, so results do not depend on rank layout."""
    by_key: dict = {}
    for record in records:
        by_key.setdefault(key(record), record)
    duplicates = len(records) - len(by_key)
    if duplicates:
        print_log(f'{metric_name}: dropped {duplicates} duplicate frame record(s) '
                  '(sampler padding or repeated frames)', logger='current')
    return [by_key[k] for k in sorted(by_key)]


class FrameRecordMetric(BaseMetric):
    """A metric whose ``compute_metrics`` deduplicates frame records itself.

    mmengine interleaves the ranks' parts and cuts the result to the dataset size; a sampler
    that gives each rank whole videos gives ranks unequal shares, so that cut can drop real
    frames and keep padding. Every record is collected instead and duplicates are removed by
    frame key in ``compute_metrics``.
    """

    def evaluate(self, size: int) -> dict:
        return super().evaluate(sys.maxsize)


def _plain_int(value: Any, key: str, where: str) -> int:
    value = to_numpy(value)
    if value.size != 1 or value.dtype.kind not in 'iu':
        raise TypeError(f'{where}: metainfo "{key}" must be an integer, got {value!r}')
    return int(value.reshape(()))
