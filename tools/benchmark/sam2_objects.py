"""How does SAM 2-style tracking time grow with the number of objects? 1 vs 8 objects.

    python tools/benchmark/sam2_objects.py CONFIG [CHECKPOINT] --objects 1 8 --frames 20 --warmup 3
    python tools/benchmark/sam2_objects.py configs/sam2/sam2.1_hiera_tiny_davis.py --size 512 512 --check

The image encoder runs once per frame whatever the number of objects; memory attention,
mask decoding and memory encoding run per object (batched). The target (issue 7) is
8 objects in less than 3x the time of one. Each run streams one synthetic video of
``max(--objects)`` moving rectangles spread over the frame (`MovingObjects`) and prompts
the first k with boxes on frame 0, so every object count sees the same frames;
``--warmup`` untimed frames, then ``--frames`` timed ones. Runs alternate the counts
(1 8, 8 1, ...) so machine noise hits all alike. ms/frame is the median over runs of
each run's median; the ratios to the first count are the result to read. ``--check``
exits 1 when a ratio reaches ``--max-ratio``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Sequence

import torch
from mmengine.config import DictAction

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fps import PAUSE_BETWEEN_RUNS_S, Entry, Timing, int_at_least  # noqa: E402
from sam2_fps import (MovingObjects, UsageError, build_model, interleaved_order,  # noqa: E402
                      timed_run)
from vmem.apis.benchmark import machine_description  # noqa: E402
from vmem.apis.sam2_predictor import StreamingTracker  # noqa: E402
from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.config_check import ConfigError  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='tracker config')
    parser.add_argument('checkpoint', nargs='?', help='weights (default: random initialisation)')
    parser.add_argument('--objects', nargs='+', type=int_at_least(1), default=[1, 8], metavar='N',
                        help='object counts to time; ratios are to the first')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config keys')
    parser.add_argument('--frames', type=int_at_least(1), default=20, help='timed frames per run')
    parser.add_argument('--warmup', type=int_at_least(1), default=3,
                        help='untimed frames at the start of each run (the prompted frame is one)')
    parser.add_argument('--repeats', type=int_at_least(1), default=4, help='runs per object count')
    parser.add_argument('--size', type=int_at_least(1), nargs=2, metavar=('W', 'H'),
                        help="input width and height, multiples of 32 (default: the config's test Resize scale)")
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--threads', type=int_at_least(1),
                        help="torch's CPU threads (default: torch's choice); 1 on a shared machine "
                             'keeps spinning worker threads from fighting other processes')
    parser.add_argument('--check', action='store_true', help='exit with status 1 when a ratio reaches --max-ratio')
    parser.add_argument('--max-ratio', type=float, default=3.0,
                        help='time with N objects over time with the first count must stay below it (issue 7: 3)')
    args = parser.parse_args(argv)
    if len(set(args.objects)) != len(args.objects):
        parser.error(f'argument --objects: each count once, got {args.objects}')
    if args.max_ratio <= 0:
        parser.error(f'argument --max-ratio: must be > 0, got {args.max_ratio}')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is visible')
    return args


def ratios(timings: Dict[int, Timing]) -> Dict[int, float]:
    """Median time per frame of each object count over that of the first count."""
    first = next(iter(timings.values())).median_ms
    return {count: timing.median_ms / first for count, timing in timings.items()}


def format_table(timings: Dict[int, Timing]) -> str:
    first = next(iter(timings))
    lines = ['| objects | ms/frame (median) | FPS | p90 ms | run medians ms | ms/object '
             f'| vs {first} object{"s" if first > 1 else ""} |',
             '|---|---|---|---|---|---|---|']
    for count, ratio in ratios(timings).items():
        timing = timings[count]
        medians = timing.run_medians
        lines.append(f'| {count} | {timing.median_ms:.1f} | {timing.fps:.2f} | {timing.p90_ms:.1f} '
                     f'| {min(medians):.1f}-{max(medians):.1f} | {timing.median_ms / count:.1f} | {ratio:.2f}x |')
    return '\n'.join(lines)


def verdicts(timings: Dict[int, Timing], max_ratio: float) -> List[str]:
    """One line per count after the first: its ratio and whether it meets the target."""
    first = next(iter(timings))
    return [f'{count} objects / {first} object{"s" if first > 1 else ""}: {ratio:.2f}x (target < {max_ratio:.2f}x: '
            f'{"met" if ratio < max_ratio else "NOT met"})'
            for count, ratio in list(ratios(timings).items())[1:]]


def time_counts(tracker: StreamingTracker, video: MovingObjects, counts: Sequence[int], *, warmup: int,
                frames: int, repeats: int, device: str) -> Dict[int, Timing]:
    runs: Dict[int, List[List[float]]] = {count: [] for count in counts}
    for repeat in range(repeats):
        for index in interleaved_order(len(counts), repeat):
            runs[counts[index]].append(timed_run(tracker, video, num_objects=counts[index], warmup=warmup,
                                                 frames=frames, device=device))
            time.sleep(PAUSE_BETWEEN_RUNS_S)
    return {count: Timing(runs=r) for count, r in runs.items()}


def run(args: argparse.Namespace) -> dict:
    register_all_modules()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    entry = Entry(name=Path(args.config).stem, config=args.config, checkpoint=args.checkpoint)
    model, (width, height) = build_model(entry, size=tuple(args.size) if args.size else None,
                                         device=args.device, cfg_options=args.cfg_options)
    video = MovingObjects(width=width, height=height, num_objects=max(args.objects))
    print(f'# sam2 objects, {args.device}: {machine_description(args.device)}')
    print(f'# {entry.name}: {width}x{height} synthetic video of {max(args.objects)} moving rectangles, the first '
          f'N prompted with boxes on frame 0; per run {args.warmup} warm-up + {args.frames} timed frames; '
          f'{args.repeats} runs per count, interleaved')
    timings = time_counts(StreamingTracker(model), video, args.objects, warmup=args.warmup, frames=args.frames,
                          repeats=args.repeats, device=args.device)
    print(format_table(timings))
    lines = verdicts(timings, args.max_ratio)
    print('\n'.join(lines), flush=True)
    failed = [line for line in lines if line.endswith('NOT met)')]
    if args.check and failed:
        sys.exit(1)
    return {'timings': timings, 'ratios': ratios(timings), 'failed': failed}


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        return run(args)
    except (UsageError, ConfigError, FileNotFoundError) as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
