"""How sure is a gain in mAP? A paired bootstrap over videos.

Videos, not frames or boxes, are the independent units of a video benchmark: frames of one
video share objects, backgrounds and degradations. Each bootstrap sample draws the evaluation
videos with replacement and recomputes both models' mAP on that same multiset (paired), so the
spread of the difference reflects which videos happened to be in the split. The per-video win
rate is the share of videos on which the second model's own mAP is higher (ties count half).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .metrics.vid_outcomes import VIDOutcomes


@dataclasses.dataclass(frozen=True)
class PairedGain:
    gain: float          # mAP(other) - mAP(base) on the split itself
    low: float           # the confidence interval of the gain (percentile bootstrap)
    high: float
    win_rate: float      # share of videos where other beats base (ties half)
    num_videos: int
    num_samples: int
    confidence: float

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def describe(self, scale: float = 100.0) -> str:
        return (f'{scale * self.gain:+.1f} mAP, {100 * self.confidence:.0f}% CI [{scale * self.low:+.1f}, '
                f'{scale * self.high:+.1f}] (paired bootstrap over {self.num_videos} videos, '
                f'{self.num_samples} samples); better on {100 * self.win_rate:.0f}% of videos')


def paired_bootstrap(base: VIDOutcomes, other: VIDOutcomes, *, subset: str = 'all', num_samples: int = 1000,
                     confidence: float = 0.95, seed: int = 0) -> PairedGain:
    """The gain of ``other`` over ``base`` in mAP of ``subset``, with its bootstrap interval.
    Both must come from the same evaluation split (same videos and ground truth)."""
    if not np.array_equal(base.videos, other.videos) or subset not in base.positives \
            or subset not in other.positives or not np.array_equal(base.positives[subset], other.positives[subset]):
        raise ValueError(f'paired_bootstrap: the two results are not from the same videos and ground truth '
                         f'(subset {subset!r})')
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be in (0, 1), got {confidence}')
    if num_samples < 1:
        raise ValueError(f'num_samples must be >= 1, got {num_samples}')
    num_videos = len(base.videos)
    rng = np.random.default_rng(seed)
    gains = np.empty(num_samples)
    for i in range(num_samples):
        weights = np.bincount(rng.integers(0, num_videos, num_videos), minlength=num_videos).astype(np.float64)
        gains[i] = other.mean_ap(subset, weights) - base.mean_ap(subset, weights)
    gains = gains[~np.isnan(gains)]
    alpha = (1 - confidence) / 2
    wins = []
    for video in range(num_videos):
        alone = np.zeros(num_videos)
        alone[video] = 1
        a, b = base.mean_ap(subset, alone), other.mean_ap(subset, alone)
        if not (np.isnan(a) or np.isnan(b)):
            wins.append(1.0 if b > a else 0.5 if b == a else 0.0)
    return PairedGain(gain=other.mean_ap(subset) - base.mean_ap(subset),
                      low=float(np.quantile(gains, alpha)), high=float(np.quantile(gains, 1 - alpha)),
                      win_rate=float(np.mean(wins)) if wins else float('nan'), num_videos=num_videos,
                      num_samples=len(gains), confidence=confidence)
