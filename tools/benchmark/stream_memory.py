"""Does a detector's per-frame cost stay flat over a long video? Time and memory per window.

    python tools/benchmark/stream_memory.py CONFIG [CHECKPOINT] --frames 2000 --window 100
    python tools/benchmark/stream_memory.py CONFIG --check   # exit 1 when not flat

One video of ``--frames`` frames (a synthetic SynthVID video played back and forth, or
the frames of --source) goes through ``model.test_step`` one frame at a time, so a
memory model keeps filling and reading its memory for the whole stream. After each frame
the process's RSS (and on CUDA the memory torch has allocated) is recorded. The table
shows windows of ``--window`` frames around frames N/20, N/4, N/2 and N (100, 500, 1000
and 2000 for N = 2000): median time, p90 time, median memory; then last / first.
With ``--check`` the exit status is 1 if time grew more than ``--max-time-ratio`` or
memory more than ``--max-memory-growth-mib`` from the first window to the last.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.config import DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fps import int_at_least  # noqa: E402
from vmem.apis.benchmark import (DEFAULT_DISTINCT_FRAMES, FrameRecord,  # noqa: E402
                                 default_input_size, machine_description, percentile,
                                 read_frames, stream, synthetic_frames)
from vmem.apis.model_init import init_model  # noqa: E402
from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.config_check import ConfigError  # noqa: E402
from vmem.utils.runner_args import load_config  # noqa: E402
from vmem.video import VideoReadError  # noqa: E402

WINDOW_MARKS = (0.05, 0.25, 0.5, 1.0)  # fractions of the stream the windows are centred on
MIB = 2 ** 20


@dataclass(frozen=True)
class WindowStats:
    start: int
    stop: int  # exclusive
    median_ms: float
    p90_ms: float
    rss_mib: float
    cuda_mib: Optional[float]


def stream_windows(num_frames: int, window: int) -> List[Tuple[int, int]]:
    """[start, stop) frame ranges of ``window`` frames centred on the marks, kept inside
    the stream; the last one ends the stream. Identical ranges appear once."""
    if window < 1 or window > num_frames:
        raise ValueError(f'window must be in [1, frames={num_frames}], got {window}')
    ranges = []
    for mark in WINDOW_MARKS:
        start = min(max(round(num_frames * mark) - window // 2, 0), num_frames - window)
        if (start, start + window) not in ranges:
            ranges.append((start, start + window))
    return ranges


def window_stats(records: Sequence[FrameRecord], ranges: Sequence[Tuple[int, int]]) -> List[WindowStats]:
    stats = []
    for start, stop in ranges:
        part = records[start:stop]
        ms = [record.seconds * 1e3 for record in part]
        cuda = [record.cuda_bytes for record in part if record.cuda_bytes is not None]
        stats.append(WindowStats(start=start, stop=stop, median_ms=statistics.median(ms),
                                 p90_ms=percentile(ms, 90),
                                 rss_mib=statistics.median(record.rss_bytes for record in part) / MIB,
                                 cuda_mib=statistics.median(cuda) / MIB if cuda else None))
    return stats


def growth(stats: Sequence[WindowStats]) -> dict:
    """Last window against the first: time ratio and memory growth in MiB."""
    first, last = stats[0], stats[-1]
    result = {'time_ratio': last.median_ms / first.median_ms, 'rss_growth_mib': last.rss_mib - first.rss_mib}
    if first.cuda_mib is not None:
        result['cuda_growth_mib'] = last.cuda_mib - first.cuda_mib
    return result


def format_table(stats: Sequence[WindowStats], change: dict) -> str:
    cuda = stats[0].cuda_mib is not None
    header = '| frames | median ms | p90 ms | RSS MiB |' + (' CUDA MiB |' if cuda else '')
    lines = [header, '|' + '---|' * (header.count('|') - 1)]
    for window in stats:
        row = (f'| {window.start}-{window.stop - 1} | {window.median_ms:.1f} | {window.p90_ms:.1f} '
               f'| {window.rss_mib:.1f} |')
        lines.append(row + (f' {window.cuda_mib:.1f} |' if cuda else ''))
    last_row = f"| last / first | {change['time_ratio']:.2f}x | | {change['rss_growth_mib']:+.1f} |"
    lines.append(last_row + (f" {change['cuda_growth_mib']:+.1f} |" if cuda else ''))
    return '\n'.join(lines)


def check_flat(change: dict, *, max_time_ratio: float, max_memory_growth_mib: float) -> List[str]:
    """Why the stream is not flat (empty when it is)."""
    failures = []
    if change['time_ratio'] > max_time_ratio:
        failures.append(f"time per frame grew {change['time_ratio']:.2f}x > {max_time_ratio:.2f}x")
    for key, name in (('rss_growth_mib', 'RSS'), ('cuda_growth_mib', 'CUDA memory')):
        if change.get(key, 0.0) > max_memory_growth_mib:
            failures.append(f'{name} grew {change[key]:.1f} MiB > {max_memory_growth_mib:.1f} MiB')
    return failures


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='detector config')
    parser.add_argument('checkpoint', nargs='?', help='weights (default: random initialisation)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config keys')
    parser.add_argument('--frames', type=int_at_least(1), default=2000, help='length of the one video')
    parser.add_argument('--window', type=int_at_least(1), default=100, help='frames per window')
    parser.add_argument('--size', type=int_at_least(1), nargs=2, metavar=('W', 'H'),
                        help="input width and height (default: the config's test Resize scale)")
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--threads', type=int_at_least(1),
                        help="torch's CPU threads (default: torch's choice); 1 on a shared machine "
                             'keeps spinning worker threads from fighting other processes')
    parser.add_argument('--source', default='synthetic',
                        help="'synthetic' (a SynthVID video) or a video file / frame folder")
    parser.add_argument('--check', action='store_true', help='exit with status 1 unless flat')
    parser.add_argument('--max-time-ratio', type=float, default=1.2,
                        help='largest last/first ratio of median time per frame that passes')
    parser.add_argument('--max-memory-growth-mib', type=float, default=50.0,
                        help='largest growth of RSS (and CUDA memory) from first to last window that passes')
    args = parser.parse_args(argv)
    if args.window > args.frames:
        parser.error(f'argument --window: {args.window} is more than --frames {args.frames}')
    if args.max_time_ratio <= 0 or args.max_memory_growth_mib < 0:
        parser.error('--max-time-ratio must be > 0 and --max-memory-growth-mib >= 0')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is visible')
    return args


def run(args: argparse.Namespace) -> dict:
    register_all_modules()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    model = init_model(args.config, checkpoint=args.checkpoint, cfg_options=args.cfg_options,
                        device=args.device)
    width, height = args.size or default_input_size(load_config(args.config, args.cfg_options))
    count = min(args.frames, DEFAULT_DISTINCT_FRAMES)
    if args.source == 'synthetic':
        frames = synthetic_frames(width=width, height=height, num_frames=count)
    else:
        frames = read_frames(args.source, width=width, height=height, num_frames=count)
    print(f'# stream memory, {args.device}: {machine_description(args.device)}')
    print(f'# {Path(args.config).stem}: one video of {args.frames} frames ({len(frames)} distinct, '
          f'played back and forth), {width}x{height}, batch 1; windows of {args.window} frames')
    records = stream(model, frames, num_frames=args.frames, device=args.device, measure_memory=True)
    stats = window_stats(records, stream_windows(args.frames, args.window))
    change = growth(stats)
    print(format_table(stats, change), flush=True)
    failures = check_flat(change, max_time_ratio=args.max_time_ratio,
                          max_memory_growth_mib=args.max_memory_growth_mib)
    limits = f'time <= {args.max_time_ratio:.2f}x, memory <= +{args.max_memory_growth_mib:.0f} MiB'
    print('flat: ' + ('no: ' + '; '.join(failures) if failures else f'yes ({limits})'))
    if args.check and failures:
        sys.exit(1)
    return {'windows': stats, 'change': change, 'failures': failures}


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        return run(args)
    except (ConfigError, FileNotFoundError, VideoReadError) as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
