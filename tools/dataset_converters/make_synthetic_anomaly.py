"""Generate the synthetic anomaly set (MVTec AD layout) from procedural textures.

    python tools/dataset_converters/make_synthetic_anomaly.py --out-dir data/synthetic_anomaly
    python tools/dataset_converters/make_synthetic_anomaly.py --categories weave --size 256

Each category gets ``train/good``, ``test/good``, ``test/<defect>`` and
``ground_truth/<defect>/*_mask.png`` (see `vmem.datasets.synthetic_anomaly`).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from vmem.datasets.synthetic_anomaly import DEFECTS, TEXTURES, generate_synthetic_anomaly  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out-dir', default='data/synthetic_anomaly', help='root of the generated set')
    parser.add_argument('--categories', nargs='+', default=sorted(TEXTURES), choices=sorted(TEXTURES))
    parser.add_argument('--defects', nargs='+', default=list(DEFECTS), choices=list(DEFECTS))
    parser.add_argument('--num-train', type=int, default=100, help='normal training images per category')
    parser.add_argument('--num-test-good', type=int, default=20, help='normal test images per category')
    parser.add_argument('--num-test-per-defect', type=int, default=15, help='test images per defect type')
    parser.add_argument('--size', type=int, default=128, help='image side in pixels')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    summaries = generate_synthetic_anomaly(
        args.out_dir, categories=args.categories, defects=args.defects, num_train=args.num_train,
        num_test_good=args.num_test_good, num_test_per_defect=args.num_test_per_defect,
        size=args.size, seed=args.seed)
    for summary in summaries:
        print(f'{summary.category}: {summary.num_train} train, {summary.num_test_good} test good, '
              f'{summary.num_test_defective} test defective')
    print(f'wrote {args.out_dir} in {time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
