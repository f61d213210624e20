"""Does SAM 2-style tracking stay flat over a long stream? Time and memory per window.

    python tools/benchmark/sam2_stream_memory.py CONFIG [CHECKPOINT] --frames 3000 --window 100
    python tools/benchmark/sam2_stream_memory.py CONFIG --objects 3 --size 512 512 --check

The official SAM 2 predictor keeps every frame's memory, so its memory and time grow
with the video; vmem's tracker keeps a bounded memory per object (pinned prompted frames
+ a ring of recent frames). The target (issue 7): peak process memory and time per frame
at frame 3000 within 10% of those at frame 300.

One stream of ``--frames`` frames of moving rectangles (`MovingObjects`, made frame by
frame and never stored, so RSS measures the tracker, not the video) goes through
``StreamingTracker.track``; ``--objects`` of them are prompted with boxes on frame 0.
After each frame the tool records the time of the call, the process's RSS, its peak RSS
so far (high-water mark), the bytes held by the tracker's memory banks and, on CUDA, the
frame's peak allocated memory. The table shows windows of ``--window`` frames around
frames N/10, N/4, N/2, 3N/4 and N (300 ... 3000 for N = 3000), then the last window
over the first. With ``--check`` the exit status is 1 when time or any memory of the
last window exceeds the first's by more than the allowed ratios.

Random weights (no checkpoint) may find no object: the "masks found" column says so.
The work per frame is the same either way.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.config import DictAction

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fps import Entry, int_at_least  # noqa: E402
from sam2_fps import MovingObjects, UsageError, build_model, track_stream  # noqa: E402
from vmem.apis.benchmark import machine_description, percentile, process_rss_bytes  # noqa: E402
from vmem.apis.sam2_predictor import StreamingTracker  # noqa: E402
from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.config_check import ConfigError  # noqa: E402

WINDOW_MARKS = (0.1, 0.25, 0.5, 0.75, 1.0)  # the first is the reference: frame 300 of 3000
MIB, KIB = 2 ** 20, 2 ** 10


@dataclass(frozen=True)
class FrameSample:
    seconds: float
    rss_bytes: int
    peak_rss_bytes: int          # the process's high-water mark so far
    tracker_bytes: int           # StreamingTracker.state.memory.nbytes()
    found: int                   # objects with a non-empty mask
    cuda_peak_bytes: Optional[int] = None


@dataclass(frozen=True)
class WindowStats:
    start: int
    stop: int  # exclusive
    median_ms: float
    p90_ms: float
    rss_mib: float               # largest RSS after a frame of the window
    peak_rss_mib: float          # high-water mark at the window's end
    tracker_kib: float
    found_pct: float
    cuda_peak_mib: Optional[float]


def peak_rss_bytes() -> int:
    """This process's largest RSS so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == 'darwin' else peak * KIB)


def stream_windows(num_frames: int, window: int) -> List[Tuple[int, int]]:
    """[start, stop) ranges of ``window`` frames centred on the marks, kept inside the
    stream; the last one ends the stream. Identical ranges appear once."""
    if not 1 <= window <= num_frames:
        raise ValueError(f'window must be in [1, frames={num_frames}], got {window}')
    ranges = []
    for mark in WINDOW_MARKS:
        start = min(max(round(num_frames * mark) - window // 2, 0), num_frames - window)
        if (start, start + window) not in ranges:
            ranges.append((start, start + window))
    return ranges


def sample_stream(tracker: StreamingTracker, video: MovingObjects, *, num_objects: int, num_frames: int,
                  device: str) -> List[FrameSample]:
    """Track one stream and sample time and memory after every frame."""
    cuda = device == 'cuda'
    samples = []
    high_water = 0
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    for record in track_stream(tracker, video, num_objects=num_objects, num_frames=num_frames, device=device):
        cuda_peak = None
        if cuda:
            cuda_peak = torch.cuda.max_memory_allocated()
            torch.cuda.reset_peak_memory_stats()  # the next frame's peak alone
        rss = process_rss_bytes()
        # the kernel's high-water mark lags the RSS counters by a few pages: never below a sample
        high_water = max(high_water, rss, peak_rss_bytes())
        samples.append(FrameSample(seconds=record.seconds, rss_bytes=rss, peak_rss_bytes=high_water,
                                   tracker_bytes=tracker.state.memory.nbytes(), found=record.found,
                                   cuda_peak_bytes=cuda_peak))
    return samples


def window_stats(samples: Sequence[FrameSample], ranges: Sequence[Tuple[int, int]],
                 num_objects: int) -> List[WindowStats]:
    stats = []
    for start, stop in ranges:
        part = samples[start:stop]
        ms = [sample.seconds * 1e3 for sample in part]
        cuda = [sample.cuda_peak_bytes for sample in part if sample.cuda_peak_bytes is not None]
        stats.append(WindowStats(
            start=start, stop=stop, median_ms=statistics.median(ms), p90_ms=percentile(ms, 90),
            rss_mib=max(sample.rss_bytes for sample in part) / MIB,
            peak_rss_mib=part[-1].peak_rss_bytes / MIB,
            tracker_kib=max(sample.tracker_bytes for sample in part) / KIB,
            found_pct=100.0 * sum(sample.found for sample in part) / (num_objects * len(part)),
            cuda_peak_mib=max(cuda) / MIB if cuda else None))
    return stats


RATIO_FIELDS = (('median_ms', 'time per frame'), ('rss_mib', 'RSS'), ('peak_rss_mib', 'peak RSS'),
                ('tracker_kib', 'tracker memory'), ('cuda_peak_mib', 'CUDA peak memory'))


def growth(stats: Sequence[WindowStats]) -> dict:
    """Last window over the first, per measure (CUDA only where measured)."""
    first, last = stats[0], stats[-1]
    return {name: getattr(last, name) / getattr(first, name) for name, _ in RATIO_FIELDS
            if getattr(first, name) is not None and getattr(first, name) > 0}


def check_flat(change: dict, *, max_time_ratio: float, max_memory_ratio: float) -> List[str]:
    """Why the stream is not flat (empty when it is)."""
    failures = []
    for name, label in RATIO_FIELDS:
        limit = max_time_ratio if name == 'median_ms' else max_memory_ratio
        if name in change and change[name] > limit:
            failures.append(f'{label} grew {change[name]:.3f}x > {limit:.3f}x')
    return failures


def format_table(stats: Sequence[WindowStats], change: dict, reference: str) -> str:
    cuda = stats[0].cuda_peak_mib is not None
    header = ('| frames | median ms | p90 ms | RSS MiB (max) | peak RSS MiB | tracker memory KiB '
              '| masks found |' + (' CUDA peak MiB |' if cuda else ''))
    lines = [header, '|' + '---|' * (header.count('|') - 1)]
    for window in stats:
        row = (f'| {window.start}-{window.stop - 1} | {window.median_ms:.1f} | {window.p90_ms:.1f} '
               f'| {window.rss_mib:.1f} | {window.peak_rss_mib:.1f} | {window.tracker_kib:.1f} '
               f'| {window.found_pct:.0f}% |')
        lines.append(row + (f' {window.cuda_peak_mib:.1f} |' if cuda else ''))

    def ratio(name: str) -> str:
        return f'{change[name]:.3f}x' if name in change else '-'
    last_row = (f"| {reference} | {ratio('median_ms')} | | {ratio('rss_mib')} | {ratio('peak_rss_mib')} "
                f"| {ratio('tracker_kib')} | |")
    lines.append(last_row + (f" {ratio('cuda_peak_mib')} |" if cuda else ''))
    return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='tracker config')
    parser.add_argument('checkpoint', nargs='?', help='weights (default: random initialisation)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config keys')
    parser.add_argument('--frames', type=int_at_least(2), default=3000, help='length of the one stream')
    parser.add_argument('--window', type=int_at_least(1), default=100, help='frames per window')
    parser.add_argument('--objects', type=int_at_least(1), default=1, help='objects prompted on frame 0')
    parser.add_argument('--size', type=int_at_least(1), nargs=2, metavar=('W', 'H'),
                        help="input width and height, multiples of 32 (default: the config's test Resize scale)")
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--threads', type=int_at_least(1),
                        help="torch's CPU threads (default: torch's choice); 1 on a shared machine "
                             'keeps spinning worker threads from fighting other processes')
    parser.add_argument('--check', action='store_true', help='exit with status 1 unless flat')
    parser.add_argument('--max-time-ratio', type=float, default=1.10,
                        help='largest last/first ratio of median time per frame that passes (issue 7: 1.10)')
    parser.add_argument('--max-memory-ratio', type=float, default=1.10,
                        help='largest last/first ratio of RSS, peak RSS, tracker (and CUDA) memory that passes')
    args = parser.parse_args(argv)
    if args.window > args.frames:
        parser.error(f'argument --window: {args.window} is more than --frames {args.frames}')
    if args.max_time_ratio <= 0 or args.max_memory_ratio <= 0:
        parser.error('--max-time-ratio and --max-memory-ratio must be > 0')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is visible')
    return args


def run(args: argparse.Namespace) -> dict:
    register_all_modules()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    entry = Entry(name=Path(args.config).stem, config=args.config, checkpoint=args.checkpoint)
    model, (width, height) = build_model(entry, size=tuple(args.size) if args.size else None,
                                         device=args.device, cfg_options=args.cfg_options)
    video = MovingObjects(width=width, height=height, num_objects=args.objects)
    ranges = stream_windows(args.frames, args.window)
    reference = f'frame {ranges[-1][1]} / frame {(ranges[0][0] + ranges[0][1]) // 2}'
    print(f'# sam2 stream memory, {args.device}: {machine_description(args.device)}')
    print(f'# {entry.name}: one stream of {args.frames} {width}x{height} frames made on the fly, '
          f'{args.objects} moving object{"s" if args.objects > 1 else ""} prompted with boxes on frame 0; '
          f'windows of {args.window} frames; last row: {reference}')
    samples = sample_stream(StreamingTracker(model), video, num_objects=args.objects, num_frames=args.frames,
                            device=args.device)
    stats = window_stats(samples, ranges, args.objects)
    change = growth(stats)
    print(format_table(stats, change, reference))
    found = 100.0 * sum(s.found for s in samples[1:]) / (args.objects * max(1, len(samples) - 1))
    print(f'masks found on {found:.0f}% of tracked object-frames'
          + (' (random weights: masks, empty or not, mean nothing; the work per frame is the same)'
             if not args.checkpoint else ''))
    failures = check_flat(change, max_time_ratio=args.max_time_ratio, max_memory_ratio=args.max_memory_ratio)
    limits = f'time <= {args.max_time_ratio:.2f}x, memory <= {args.max_memory_ratio:.2f}x'
    print('flat: ' + ('no: ' + '; '.join(failures) if failures else f'yes ({limits})'), flush=True)
    if args.check and failures:
        sys.exit(1)
    return {'windows': stats, 'change': change, 'failures': failures}


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        return run(args)
    except (UsageError, ConfigError, FileNotFoundError) as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
