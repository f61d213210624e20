"""Write the real-texture anomaly set (MVTec AD layout) from scikit-image's photos.

    python tools/dataset_converters/make_real_texture_anomaly.py --out-dir data/real_texture_anomaly

Needs the photos in the asset cache (``make assets``). See `vmem.datasets.real_texture_anomaly`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from vmem.datasets.real_texture_anomaly import TEXTURES, generate_real_texture_category, load_asset_photos  # noqa: E402
from vmem.utils.assets import AssetError  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out-dir', default='data/real_texture_anomaly')
    parser.add_argument('--categories', nargs='+', default=list(TEXTURES), choices=TEXTURES)
    parser.add_argument('--num-train', type=int, default=60)
    parser.add_argument('--num-test-good', type=int, default=20)
    parser.add_argument('--num-test-per-defect', type=int, default=10)
    parser.add_argument('--size', type=int, default=160, help='crop side in pixels')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        photos = load_asset_photos()
    except AssetError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    for category in args.categories:
        counts = generate_real_texture_category(
            args.out_dir, category, photos=photos, num_train=args.num_train, num_test_good=args.num_test_good,
            num_test_per_defect=args.num_test_per_defect, size=args.size, seed=args.seed)
        print(f'{category}: {counts["train"]} train, {counts["test_good"]} test good, '
              f'{counts["test_defective"]} test defective')
    print(f'wrote {args.out_dir} in {time.perf_counter() - start:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
