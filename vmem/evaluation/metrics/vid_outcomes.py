"""What became of each detection under the VID protocol, kept per video.

mAP is a function of the detections' (score, class, TP, weighted FP) and of the positives
per class. Keeping them with the video each came from lets mAP be recomputed over any
multiset of videos, by giving each video a weight (its number of copies), without matching
boxes again: that is what the paired bootstrap over videos needs (`paired_bootstrap`).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .vid_protocol import average_precision


@dataclasses.dataclass
class VIDOutcomes:
    videos: np.ndarray                 # [V, 2] int64: the frames' key[:2], (0, video_id) or (1, img_id)
    scores: np.ndarray                 # [D] float64
    labels: np.ndarray                 # [D] int64
    det_video: np.ndarray              # [D] int64, row of ``videos``
    tp: dict[str, np.ndarray]          # subset -> [D] float64
    fp: dict[str, np.ndarray]          # subset -> [D] float64 (FGFA's fractional weights)
    positives: dict[str, np.ndarray]   # subset -> [V, C] int64
    # per class, its detections' indices by descending score: the bootstrap recomputes AP
    # thousands of times, and this is the part that does not change
    _class_order: list[np.ndarray] | None = dataclasses.field(default=None, init=False, repr=False)

    @property
    def subsets(self) -> list[str]:
        return list(self.tp)

    @property
    def num_classes(self) -> int:
        return next(iter(self.positives.values())).shape[1]

    def class_aps(self, subset: str = 'all', video_weights: np.ndarray | None = None) -> np.ndarray:
        """AP per class (NaN where the weighted ground truth is empty); ``video_weights`` [V]
        counts each video that many times (all ones: the plain metric)."""
        weights = np.ones(len(self.videos)) if video_weights is None else np.asarray(video_weights, np.float64)
        det_weights = weights[self.det_video]
        positives = weights @ self.positives[subset]
        tp, fp = self.tp[subset] * det_weights, self.fp[subset] * det_weights
        if self._class_order is None:
            self._class_order = [np.flatnonzero(self.labels == c)[np.argsort(-self.scores[self.labels == c],
                                                                              kind='stable')]
                                 for c in range(self.num_classes)]
        aps = np.full(self.num_classes, np.nan)
        for c, chosen in enumerate(self._class_order):
            if positives[c] > 0:
                aps[c] = average_precision(self.scores[chosen], tp[chosen], fp[chosen], positives[c])
        return aps

    def mean_ap(self, subset: str = 'all', video_weights: np.ndarray | None = None) -> float:
        aps = self.class_aps(subset, video_weights)
        kept = aps[~np.isnan(aps)]
        return float(kept.mean()) if kept.size else float('nan')

    def save(self, path: str | Path) -> None:
        """An .npz of plain arrays (no pickle)."""
        arrays = dict(videos=self.videos, scores=self.scores, labels=self.labels, det_video=self.det_video,
                      subsets=np.array(self.subsets))
        for subset in self.subsets:
            arrays.update({f'tp/{subset}': self.tp[subset], f'fp/{subset}': self.fp[subset],
                           f'positives/{subset}': self.positives[subset]})
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, 'wb') as file:
            np.savez_compressed(file, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> 'VIDOutcomes':
        try:
            with np.load(path, allow_pickle=False) as data:
                subsets = [str(s) for s in data['subsets']]
                return cls(videos=data['videos'], scores=data['scores'], labels=data['labels'],
                           det_video=data['det_video'],
                           tp={s: data[f'tp/{s}'] for s in subsets}, fp={s: data[f'fp/{s}'] for s in subsets},
                           positives={s: data[f'positives/{s}'] for s in subsets})
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f'{path}: not a VID outcomes file written by VIDMetric(outcomes_file=...): '
                             f'{error}') from None
