"""Generate the SynthVID benchmark: JPEG frames, mp4s and CocoVID jsons for each split.

    python tools/dataset_converters/make_synthvid.py --out-dir data/synthvid
    python tools/dataset_converters/make_synthvid.py --out-dir data/synthvid_hard \\
        --splits train val --num-videos 100 20 --degraded-fraction 0.5 --blur-kernel 11 31

Every difficulty knob of `vmem.datasets.synthetic.SynthVIDConfig` has a flag (``--noise-std``,
``--speed-range LOW HIGH``, ...; see ``--help``). A split already generated with the same
settings is left alone unless ``--overwrite`` is given.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from vmem.datasets.synthetic import SynthVIDConfig, generate_synthvid  # noqa: E402

# Settings with their own flag names below; every other config field becomes --field-name.
CORE_FIELDS = {'num_videos', 'num_frames', 'width', 'height', 'seed', 'write_videos'}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = SynthVIDConfig()
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out-dir', default='data/synthvid', help='root of the generated dataset')
    parser.add_argument('--splits', nargs='+', default=['train', 'val', 'test'])
    parser.add_argument('--num-videos', nargs='+', type=int, default=[24, 8, 8],
                        help='videos per split: one number for all splits, or one per split')
    parser.add_argument('--frames', type=int, default=defaults.num_frames, help='frames per video')
    parser.add_argument('--width', type=int, default=defaults.width)
    parser.add_argument('--height', type=int, default=defaults.height)
    parser.add_argument('--seed', type=int, default=defaults.seed,
                        help='base seed; each split derives its own videos from it')
    parser.add_argument('--no-videos', action='store_true', help='write frames and json only, no mp4s')
    parser.add_argument('--overwrite', action='store_true', help='regenerate even if up to date')
    knobs = parser.add_argument_group('difficulty and rendering (defaults from SynthVIDConfig)')
    for field in dataclasses.fields(SynthVIDConfig):
        if field.name in CORE_FIELDS:
            continue
        default = getattr(defaults, field.name)
        flag = '--' + field.name.replace('_', '-')
        if isinstance(default, tuple):
            many = field.name == 'degradation_types'
            knobs.add_argument(flag, nargs='+' if many else 2, type=type(default[0]),
                               default=list(default), metavar='KIND' if many else ('LOW', 'HIGH'),
                               help=f'default: {" ".join(map(str, default))}')
        else:
            knobs.add_argument(flag, type=type(default), default=default, help=f'default: {default}')
    args = parser.parse_args(argv)
    if len(args.num_videos) == 1:
        args.num_videos = args.num_videos * len(args.splits)
    if len(args.num_videos) != len(args.splits):
        parser.error(f'--num-videos needs one value or one per split ({len(args.splits)}), '
                     f'got {len(args.num_videos)}')
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    knobs = {field.name: getattr(args, field.name) for field in dataclasses.fields(SynthVIDConfig)
             if field.name not in CORE_FIELDS}
    try:
        base = SynthVIDConfig(num_frames=args.frames, width=args.width, height=args.height,
                              seed=args.seed, write_videos=not args.no_videos, **knobs)
    except (TypeError, ValueError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    for split, num_videos in zip(args.splits, args.num_videos):
        try:
            path = generate_synthvid(args.out_dir, split=split, config=base, num_videos=num_videos,
                                     overwrite=args.overwrite)
        except (TypeError, ValueError) as error:
            print(f'error: {error}', file=sys.stderr)
            return 2
        dataset = json.loads(path.read_text())
        annotations = dataset['annotations']
        degraded = sum(a['degraded'] for a in annotations) / max(len(annotations), 1)
        print(f'{split}: {len(dataset["videos"])} videos, {len(dataset["images"])} frames, '
              f'{len(annotations)} boxes ({degraded:.0%} degraded) -> {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
