"""Anomaly-detection metrics: image and pixel AUROC, PRO up to a false-positive rate, F1-max.

Pure numpy, exact (no threshold grid): every curve is computed at every distinct score by
sorting once and taking cumulative sums, with tied scores crossing a threshold together.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.evaluator import BaseMetric

from vmem.registry import METRICS


def _threshold_counts(scores: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort descending; return (cumulative weights at each distinct-score threshold, the
    sorted distinct scores). Weight columns are summed separately: ``weights`` [n, c]."""
    order = np.argsort(-scores, kind='stable')
    sorted_scores = scores[order]
    cumulative = np.cumsum(weights[order], axis=0)
    # the last position of each run of equal scores: a threshold lets a whole run through
    last = np.r_[np.nonzero(np.diff(sorted_scores))[0], len(sorted_scores) - 1]
    return cumulative[last], sorted_scores[last]


def roc_curve(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) from (0, 0) to (1, 1)."""
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, np.float64).ravel()
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        raise ValueError(f'AUROC needs both classes; got {positives} positives and {negatives} negatives')
    counts, _ = _threshold_counts(scores, np.stack([labels, ~labels], 1).astype(np.float64))
    tpr = np.r_[0.0, counts[:, 0] / positives]
    fpr = np.r_[0.0, counts[:, 1] / negatives]
    return fpr, tpr


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half, as in the Mann-Whitney U statistic)."""
    fpr, tpr = roc_curve(scores, labels)
    return float(np.trapezoid(tpr, fpr))


def f1_max(scores: np.ndarray, labels: np.ndarray) -> float:
    """The best F1 score over all thresholds."""
    labels = np.asarray(labels).astype(bool).ravel()
    scores = np.asarray(scores, np.float64).ravel()
    positives = int(labels.sum())
    if positives == 0:
        raise ValueError('F1 needs at least one positive')
    counts, _ = _threshold_counts(scores, np.stack([labels, ~labels], 1).astype(np.float64))
    true_pos, false_pos = counts[:, 0], counts[:, 1]
    f1 = 2 * true_pos / (2 * true_pos + false_pos + (positives - true_pos))
    return float(f1.max())


def _integrate_to(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Area under the piecewise-linear curve (x increasing) from x=0 to x=limit."""
    end = np.searchsorted(x, limit, side='right')
    xs, ys = x[:end], y[:end]
    if end < len(x) and xs[-1] < limit:
        # interpolate the point at exactly x=limit
        x0, x1, y0, y1 = x[end - 1], x[end], y[end - 1], y[end]
        xs = np.r_[xs, limit]
        ys = np.r_[ys, y0 + (y1 - y0) * (limit - x0) / (x1 - x0)]
    return float(np.trapezoid(ys, xs))


def pro_score(anomaly_maps: Sequence[np.ndarray], masks: Sequence[np.ndarray], *,
              max_fpr: float = 0.3) -> float:
    """Per-region overlap (Bergmann et al., MVTec AD), integrated up to ``max_fpr`` and
    divided by it, so a perfect map scores 1.

    Each connected component (8-connectivity) of every ground-truth mask is a region; at a
    threshold, PRO is the mean over regions of the fraction of the region above it, and
    the FPR is the fraction of all normal pixels above it. The curve PRO(FPR) is exact at
    every distinct score.
    """
    if not 0 < max_fpr <= 1:
        raise ValueError(f'max_fpr must be in (0, 1], got {max_fpr}')
    score_parts, region_weight, normal_weight = [], [], []
    num_regions = 0
    region_sizes = []
    for anomaly_map, mask in zip(anomaly_maps, masks):
        mask = np.asarray(mask).astype(np.uint8)
        if anomaly_map.shape != mask.shape:
            raise ValueError(f'an anomaly map is {anomaly_map.shape} but its mask is {mask.shape}')
        count, labels = cv2.connectedComponents(mask, connectivity=8)
        score_parts.append(np.asarray(anomaly_map, np.float64).ravel())
        labels = labels.ravel()
        ids = np.where(labels > 0, labels - 1 + num_regions, -1)
        region_weight.append(ids)
        normal_weight.append(labels == 0)
        sizes = np.bincount(labels, minlength=count)[1:]
        region_sizes.extend(sizes.tolist())
        num_regions += count - 1
    if num_regions == 0:
        raise ValueError('PRO needs at least one anomalous region in the masks')
    scores = np.concatenate(score_parts)
    ids = np.concatenate(region_weight)
    normal = np.concatenate(normal_weight)
    if not normal.any():
        raise ValueError('PRO needs some normal pixels')
    sizes = np.asarray(region_sizes, np.float64)
    # a region pixel adds 1 / (size * regions) to the PRO; a normal pixel 1 / normals to the FPR
    overlap = np.where(ids >= 0, 1.0 / (sizes[np.maximum(ids, 0)] * num_regions), 0.0)
    false_positive = normal / normal.sum()
    counts, _ = _threshold_counts(scores, np.stack([overlap, false_positive], 1))
    pro = np.r_[0.0, counts[:, 0]]
    fpr = np.r_[0.0, counts[:, 1]]
    return _integrate_to(fpr, pro, max_fpr) / max_fpr


@METRICS.register_module()
class AnomalyMetric(BaseMetric):
    """Image AUROC, pixel AUROC, PRO (to FPR ``pro_max_fpr``) and F1-max, per category.

    Reads each prediction's ``pred_anomaly_score`` and ``pred_anomaly_map`` and its
    ground truth (``gt_label``, ``category`` and ``has_mask`` in the metainfo, and
    ``gt_anomaly_mask``) from `vmem.datasets.MVTecDataset` samples. Keys are
    ``<category>/image_AUROC`` ... and ``mean/...`` over categories. Pixel metrics skip
    anomalous images without a mask; a category without any anomalous image (or
    without any normal one) gets no AUROC, with a warning in the log.

    Args:
        pixel_metrics: also compute pixel AUROC, PRO and pixel F1-max (they keep every
            map until the end: about 4 bytes per test pixel).
        pro_max_fpr: upper FPR limit of the PRO integral (0.3 in MVTec AD).
    """

    default_prefix = 'anomaly'

    def __init__(self, *, pixel_metrics: bool = True, pro_max_fpr: float = 0.3,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not 0 < pro_max_fpr <= 1:
            raise ValueError(f'pro_max_fpr must be in (0, 1], got {pro_max_fpr}')
        self.pixel_metrics = pixel_metrics
        self.pro_max_fpr = pro_max_fpr

    def process(self, data_batch, data_samples: Sequence) -> None:
        for sample in data_samples:
            get = sample.get if isinstance(sample, dict) else lambda key, default=None: getattr(sample, key, default)
            meta = sample.get('metainfo', sample) if isinstance(sample, dict) else sample.metainfo
            if get('pred_anomaly_score') is None:
                raise ValueError('AnomalyMetric needs pred_anomaly_score in every prediction (a PatchCore model)')
            record = dict(category=meta.get('category', 'all'), label=int(meta.get('gt_label', 0)),
                          score=float(get('pred_anomaly_score')))
            mask = get('gt_anomaly_mask')
            if self.pixel_metrics and mask is not None and meta.get('has_mask', True):
                anomaly_map = np.asarray(get('pred_anomaly_map'), np.float32)
                mask = np.asarray(mask, bool)
                if anomaly_map.shape != mask.shape:
                    raise ValueError(f"{meta.get('img_path', 'an image')}: the anomaly map is "
                                     f'{anomaly_map.shape} but the mask is {mask.shape}')
                record.update(map=anomaly_map, mask=mask)
            self.results.append(record)

    def compute_metrics(self, results: list) -> dict:
        by_category = defaultdict(list)
        for record in results:
            by_category[record['category']].append(record)
        metrics, per_name = {}, defaultdict(list)
        for category in sorted(by_category):
            for name, value in self._category_metrics(category, by_category[category]).items():
                metrics[f'{category}/{name}'] = value
                per_name[name].append(value)
        if len(by_category) > 1:
            for name, values in per_name.items():
                metrics[f'mean/{name}'] = float(np.mean(values))
        return metrics

    def _category_metrics(self, category: str, records: list) -> dict:
        from mmengine.logging import MMLogger
        scores = np.array([record['score'] for record in records])
        labels = np.array([record['label'] for record in records])
        if labels.min() == labels.max():
            MMLogger.get_current_instance().warning(
                f'AnomalyMetric: category {category!r} has only {"anomalous" if labels[0] else "normal"} '
                'test images; no metrics for it')
            return {}
        metrics = {'image_AUROC': auroc(scores, labels), 'image_F1max': f1_max(scores, labels)}
        with_maps = [record for record in records if 'map' in record]
        if self.pixel_metrics and with_maps and any(record['mask'].any() for record in with_maps):
            maps = [record['map'] for record in with_maps]
            masks = [record['mask'] for record in with_maps]
            flat_scores = np.concatenate([m.ravel() for m in maps])
            flat_masks = np.concatenate([m.ravel() for m in masks])
            metrics['pixel_AUROC'] = auroc(flat_scores, flat_masks)
            metrics['pixel_F1max'] = f1_max(flat_scores, flat_masks)
            metrics['PRO'] = pro_score(maps, masks, max_fpr=self.pro_max_fpr)
        return metrics
