"""The gain of one video detector over another, with its paired-bootstrap interval over videos.

    python tools/test.py BASE_CONFIG BASE_CKPT --cfg-options +test_evaluator.outcomes_file=base.npz
    python tools/test.py OTHER_CONFIG OTHER_CKPT --cfg-options +test_evaluator.outcomes_file=other.npz
    python tools/analysis/compare_outcomes.py base.npz other.npz [--subset degraded]

Both files come from ``VIDMetric(outcomes_file=...)`` on the same split (the quick start
writes them for its two models). Prints, per subset, other - base in mAP, its confidence
interval (``vmem.evaluation.paired_bootstrap``: videos drawn with replacement, both models
scored on the same draw) and the share of videos where the other model is better. This is how
every "memory helps" claim (MAMBA, SELSA-style, Context R-CNN against its base) gets error bars.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from vmem.evaluation import VIDOutcomes, paired_bootstrap  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('base', help="the base model's outcomes (.npz)")
    parser.add_argument('other', help="the other model's outcomes (.npz)")
    parser.add_argument('--subset', nargs='+', help='subsets to compare (default: every one in both files)')
    parser.add_argument('--samples', type=int, default=1000, help='bootstrap samples')
    parser.add_argument('--confidence', type=float, default=0.95)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    try:
        base, other = VIDOutcomes.load(args.base), VIDOutcomes.load(args.other)
    except (OSError, KeyError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    subsets = args.subset or [name for name in base.subsets if name in other.subsets]
    for subset in subsets:
        if subset in base.positives and not base.positives[subset].any():
            print(f'{subset}: no ground truth in this split, skipped')
            continue
        try:
            gain = paired_bootstrap(base, other, subset=subset, num_samples=args.samples,
                                    confidence=args.confidence, seed=args.seed)
        except (KeyError, ValueError) as error:
            print(f'error: {subset}: {error}', file=sys.stderr)
            return 1
        print(f'{subset}: {Path(args.other).stem} - {Path(args.base).stem}: {gain.describe()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
