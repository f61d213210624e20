"""Frames per second of SAM 2-style tracking of one object, per config and input size.

    python tools/benchmark/sam2_fps.py --configs configs/sam2/sam2.1_hiera_tiny_davis.py \\
        configs/sam2/sam2.1_hiera_small_davis.py --sizes 512 1024 --threads 1
    python tools/benchmark/sam2_fps.py --configs CONFIG:CHECKPOINT --sizes 1024 --device cuda

Each (config, size) pair tracks one object, prompted with a box on frame 0, through a
synthetic video of moving rectangles made frame by frame (`MovingObjects`), one
``StreamingTracker.track`` call per frame: ``--warmup`` untimed frames (the prompted one
among them), then ``--frames`` timed ones. The config's test-pipeline Resize is set to
(s, s) and the frames are s x s, so the input size is exactly s. Runs are interleaved
round by round (A B C, C B A, ...) so a noisy machine slows all pairs alike. ms/frame is
the median over runs of each run's median; p90 pools the runs' frames. Without a
checkpoint the weights are random: the same work as trained weights (SAM 2 does the same
computation whether or not it finds the object).

This module also holds what `sam2_objects.py` and `sam2_stream_memory.py` share: the
synthetic video, setting a config's input size, and timing a stream of `track` calls.
"""
from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config, DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from fps import PAUSE_BETWEEN_RUNS_S, Entry, Timing, int_at_least, parse_entry  # noqa: E402
from vmem.apis.benchmark import default_input_size, machine_description  # noqa: E402
from vmem.apis.model_init import init_model  # noqa: E402
from vmem.apis.sam2_predictor import StreamingTracker, TrackResult  # noqa: E402
from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.config_check import ConfigError  # noqa: E402
from vmem.utils.runner_args import load_config  # noqa: E402

SIZE_MULTIPLE = 32  # the tracker's data preprocessor pads to it; other sizes would time padding
PIPELINE_KEYS = ('val_dataloader', 'test_dataloader')


class UsageError(Exception):
    """A bad command line that argparse cannot see (e.g. an input size the model cannot take);
    reported as one line, exit status 1."""


# -- the video ---------------------------------------------------------------------------------
class MovingObjects:
    """A synthetic video made on demand: ``num_objects`` coloured rectangles, spread over a
    grid, each bouncing off the borders at its own speed over a fixed noise background.

    Frames are computed from their index and never kept, so a stream of any length holds
    one frame at a time: a process's RSS then measures the tracker, not the video."""

    def __init__(self, *, width: int, height: int, num_objects: int, seed: int = 0) -> None:
        if num_objects < 1:
            raise ValueError(f'num_objects must be >= 1, got {num_objects}')
        self.width, self.height, self.num_objects = width, height, num_objects
        rng = np.random.default_rng(seed)
        grid = math.ceil(math.sqrt(num_objects))
        cell_w, cell_h = width / grid, height / grid
        self.sizes = np.array([[max(4, int(cell_w / 2)), max(4, int(cell_h / 2))]] * num_objects)
        cells = np.array([[i % grid, i // grid] for i in range(num_objects)])
        centres = (cells + 0.5) * [cell_w, cell_h]
        self.starts = centres - self.sizes / 2
        # 0.5-1.5 % of the frame side per frame: visible motion, never a jump
        speed = rng.uniform(0.005, 0.015, size=(num_objects, 2)) * [width, height]
        self.velocities = speed * rng.choice([-1, 1], size=(num_objects, 2))
        self.colours = rng.integers(80, 256, size=(num_objects, 3), dtype=np.uint8)
        self.background = rng.integers(0, 64, size=(height, width, 3), dtype=np.uint8)

    def _top_left(self, frame_idx: int) -> np.ndarray:
        spans = np.array([self.width, self.height]) - self.sizes
        moved = self.starts + self.velocities * frame_idx
        period = 2 * np.maximum(spans, 1)
        folded = np.mod(moved, period)
        return np.where(folded <= spans, folded, period - folded).astype(int)

    def frame(self, frame_idx: int) -> np.ndarray:
        """RGB uint8 [height, width, 3]; later objects are drawn over earlier ones."""
        image = self.background.copy()
        for (x, y), (w, h), colour in zip(self._top_left(frame_idx), self.sizes, self.colours):
            image[y:y + h, x:x + w] = colour
        return image

    def boxes(self, frame_idx: int, count: int) -> Dict[int, List[float]]:
        """{object id (1-based): xyxy} of the first ``count`` objects on ``frame_idx``."""
        if not 1 <= count <= self.num_objects:
            raise ValueError(f'count must be in [1, {self.num_objects}], got {count}')
        corners = self._top_left(frame_idx)[:count]
        return {i + 1: [float(x), float(y), float(x + w), float(y + h)]
                for i, ((x, y), (w, h)) in enumerate(zip(corners, self.sizes[:count]))}


# -- the model ---------------------------------------------------------------------------------
def check_input_size(width: int, height: int) -> None:
    if width % SIZE_MULTIPLE or height % SIZE_MULTIPLE:
        raise UsageError(f'input size {width}x{height}: width and height must be multiples of {SIZE_MULTIPLE}')


def _resize_steps(pipeline: Sequence) -> Iterator[dict]:
    """Resize steps of a pipeline, also those inside wrappers such as ApplyToFrames."""
    for step in pipeline or []:
        if isinstance(step, Mapping):
            if step.get('type') == 'Resize':
                yield step
            yield from _resize_steps(step.get('transforms') or [])


def with_input_size(cfg: Config, width: int, height: int) -> Config:
    """A copy of ``cfg`` whose test pipelines resize frames to (width, height): the streaming
    tracker prepares frames with the config's own test pipeline, so this sets the input size."""
    cfg = copy.deepcopy(cfg)
    pipelines = [(cfg.get(key) or {}).get('dataset', {}).get('pipeline') for key in PIPELINE_KEYS]
    pipelines.append(cfg.get('test_pipeline'))
    steps = [step for pipeline in pipelines for step in _resize_steps(pipeline)]
    if not steps:
        raise UsageError(f'{cfg.filename}: no Resize step in the test pipeline to set the input size with')
    for step in steps:
        step['scale'] = (width, height)
    return cfg


def build_model(entry: Entry, *, size: Optional[Tuple[int, int]], device: str,
                cfg_options: Optional[dict] = None):
    """``entry``'s model at input ``size`` (width, height; None keeps the config's), and that size."""
    cfg = load_config(entry.config, cfg_options)
    if size is not None:
        check_input_size(*size)
        cfg = with_input_size(cfg, *size)
    return init_model(cfg, checkpoint=entry.checkpoint, device=device), default_input_size(cfg)


# -- tracking a stream -------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackedFrame:
    frame_idx: int
    seconds: float          # the `track` call: frame preparation, encoding, memory, decoding
    found: int              # objects with a non-empty mask


def track_stream(tracker: StreamingTracker, video: MovingObjects, *, num_objects: int, num_frames: int,
                 device: str = 'cpu') -> Iterator[TrackedFrame]:
    """A new stream through ``tracker``: the first ``num_objects`` objects prompted with their
    boxes on frame 0, then tracked. Only `track` is timed; frames are made between calls."""
    tracker.reset()
    cuda = device == 'cuda'
    with torch.no_grad():
        for frame_idx in range(num_frames):
            frame = video.frame(frame_idx)
            boxes = video.boxes(0, num_objects) if frame_idx == 0 else None
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            result: TrackResult = tracker.track(frame, boxes=boxes)
            if cuda:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            found = int(result.masks.flatten(1).any(1).sum()) if len(result.object_ids) else 0
            yield TrackedFrame(frame_idx=frame_idx, seconds=seconds, found=found)


def timed_run(tracker: StreamingTracker, video: MovingObjects, *, num_objects: int, warmup: int, frames: int,
              device: str) -> List[float]:
    """Milliseconds per timed frame of one stream (``warmup`` frames first, untimed)."""
    records = list(track_stream(tracker, video, num_objects=num_objects, num_frames=warmup + frames,
                                device=device))
    return [record.seconds * 1e3 for record in records[warmup:]]


def interleaved_order(count: int, run: int) -> List[int]:
    """0..count-1 on even runs, reversed on odd ones: each position sees the same drift."""
    order = list(range(count))
    return order if run % 2 == 0 else order[::-1]


# -- this tool ---------------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--configs', nargs='+', required=True, metavar='CONFIG[:CHECKPOINT]',
                        help='tracker configs (default weights: random initialisation)')
    parser.add_argument('--sizes', nargs='+', type=int_at_least(1), default=[512, 1024],
                        metavar='S', help=f'square input sizes, multiples of {SIZE_MULTIPLE}')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config keys, in every config')
    parser.add_argument('--frames', type=int_at_least(1), default=20, help='timed frames per run')
    parser.add_argument('--warmup', type=int_at_least(1), default=3,
                        help='untimed frames at the start of each run (the prompted frame is one)')
    parser.add_argument('--repeats', type=int_at_least(1), default=3, help='runs per config and size')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--threads', type=int_at_least(1),
                        help="torch's CPU threads (default: torch's choice); 1 on a shared machine "
                             'keeps spinning worker threads from fighting other processes')
    args = parser.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is visible')
    return args


def format_table(rows: Sequence[Tuple[str, int, Timing]]) -> str:
    lines = ['| config | input | ms/frame (median) | FPS | p90 ms | run medians ms |',
             '|---|---|---|---|---|---|']
    for name, size, timing in rows:
        medians = timing.run_medians
        lines.append(f'| {name} | {size}x{size} | {timing.median_ms:.1f} | {timing.fps:.2f} | '
                     f'{timing.p90_ms:.1f} | {min(medians):.1f}-{max(medians):.1f} |')
    return '\n'.join(lines)


def run(args: argparse.Namespace) -> List[Tuple[str, int, Timing]]:
    register_all_modules()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    for size in args.sizes:
        check_input_size(size, size)
    pairs = [(parse_entry(text), size) for text in args.configs for size in args.sizes]
    trackers = [StreamingTracker(build_model(entry, size=(size, size), device=args.device,
                                             cfg_options=args.cfg_options)[0]) for entry, size in pairs]
    print(f'# sam2 fps, {args.device}: {machine_description(args.device)}')
    print(f'# one object prompted with a box on frame 0 of a synthetic video of moving rectangles, '
          f'batch 1; per run {args.warmup} warm-up + {args.frames} timed frames; {args.repeats} runs'
          f'{", interleaved" if len(pairs) > 1 else ""}')
    runs: List[List[List[float]]] = [[] for _ in pairs]
    for repeat in range(args.repeats):
        for index in interleaved_order(len(pairs), repeat):
            size = pairs[index][1]
            video = MovingObjects(width=size, height=size, num_objects=1, seed=repeat)
            runs[index].append(timed_run(trackers[index], video, num_objects=1, warmup=args.warmup,
                                         frames=args.frames, device=args.device))
            if len(pairs) > 1:
                time.sleep(PAUSE_BETWEEN_RUNS_S)
    rows = [(entry.name, size, Timing(runs=r)) for (entry, size), r in zip(pairs, runs)]
    print(format_table(rows), flush=True)
    return rows


def main(argv=None) -> List[Tuple[str, int, Timing]]:
    args = parse_args(argv)
    try:
        return run(args)
    except (UsageError, ConfigError, FileNotFoundError) as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
