"""Frames per second of detectors, fed one frame at a time as online inference runs.

    python tools/benchmark/fps.py CONFIG [CHECKPOINT]                 # one detector
    python tools/benchmark/fps.py CONFIG --compare CONFIG2 CONFIG3    # side by side
    python tools/benchmark/fps.py CONFIG --size 1000 600 --device cuda
    python tools/benchmark/fps.py CONFIG --compare CONFIG2 --entry-options 2 +model.score_memory.num_frames=10

Each run streams one synthetic video (or the frames of --source) through
``model.test_step``: ``--warmup`` untimed frames, then ``--frames`` timed ones. Memory
models see frame_id/video_id and so run online, reset at each run's new video. With
several configs, runs are interleaved round by round (A B C, C B A, ...) so a noisy
machine slows all alike; the ratios to the first config are the result to read.
ms/frame is the median over runs of each run's median; p90 pools the runs' frames.
Without a checkpoint the weights are random, which times the same work as trained ones
except where a model's work depends on its scores (e.g. writes of confident detections).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import torch
from mmengine.config import DictAction

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from vmem.apis.benchmark import (DEFAULT_DISTINCT_FRAMES,  # noqa: E402
                                 default_input_size, machine_description, percentile,
                                 read_frames, stream, synthetic_frames)
from vmem.apis.model_init import init_model  # noqa: E402
from vmem.utils import register_all_modules  # noqa: E402
from vmem.utils.config_check import ConfigError  # noqa: E402
from vmem.utils.runner_args import load_config  # noqa: E402
from vmem.video import VideoReadError  # noqa: E402

PAUSE_BETWEEN_RUNS_S = 0.2  # lets one model's spinning worker threads go idle before the next


@dataclass(frozen=True)
class Entry:
    name: str
    config: str
    checkpoint: Optional[str]


@dataclass(frozen=True)
class Timing:
    """One config's timed frames: ``runs[r]`` holds run r's per-frame milliseconds."""
    runs: List[List[float]]

    @property
    def median_ms(self) -> float:
        return statistics.median(statistics.median(run) for run in self.runs)

    @property
    def p90_ms(self) -> float:
        return percentile([ms for run in self.runs for ms in run], 90)

    @property
    def fps(self) -> float:
        return 1000.0 / self.median_ms

    @property
    def run_medians(self) -> List[float]:
        return [statistics.median(run) for run in self.runs]


def int_at_least(low: int):
    """An argparse type: an int >= ``low``, refused with a message naming the value."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'expected an integer >= {low}, got {text!r}') from None
        if value < low:
            raise argparse.ArgumentTypeError(f'expected an integer >= {low}, got {value}')
        return value
    return parse


def parse_entry(text: str) -> Entry:
    """``CONFIG`` or ``CONFIG:CHECKPOINT`` (split at the colon after a ``.py``)."""
    config, checkpoint = text, None
    if '.py:' in text:
        config, checkpoint = text.split('.py:', 1)
        config += '.py'
    return Entry(name=Path(config).stem, config=config, checkpoint=checkpoint or None)


def parse_entry_options(parser: argparse.ArgumentParser, groups: Sequence[Sequence[str]], *,
                        num_entries: int) -> dict[int, dict]:
    """``--entry-options N KEY=VALUE ...`` groups as {entry index from 0: options}."""
    options: dict[int, dict] = {}
    for group in groups:
        index = group[0]
        if not index.isdigit() or not 1 <= int(index) <= num_entries:
            parser.error(f'--entry-options: the first value must be an entry number 1..{num_entries}, '
                         f'got {index!r}')
        if len(group) < 2:
            parser.error(f'--entry-options {index}: give at least one KEY=VALUE')
        namespace = argparse.Namespace(values=None)
        DictAction(option_strings=[], dest='values')(parser, namespace, list(group[1:]))
        options.setdefault(int(index) - 1, {}).update(namespace.values)
    return options


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='detector config')
    parser.add_argument('checkpoint', nargs='?', help='weights (default: random initialisation)')
    parser.add_argument('--compare', nargs='+', default=[], metavar='CONFIG[:CHECKPOINT]',
                        help='more configs timed in the same run, interleaved with the first')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                        help='override config keys, in every config')
    parser.add_argument('--entry-options', nargs='+', action='append', default=[], metavar='N KEY=VALUE',
                        help='override config keys of the N-th timed config only (1: CONFIG, 2: the first '
                             '--compare, ...), after --cfg-options; repeat the flag for other entries')
    parser.add_argument('--frames', type=int_at_least(1), default=200, help='timed frames per run')
    parser.add_argument('--warmup', type=int_at_least(0), default=20,
                        help='untimed frames at the start of each run')
    parser.add_argument('--repeats', type=int_at_least(1), default=3, help='runs per config')
    parser.add_argument('--size', type=int_at_least(1), nargs=2, metavar=('W', 'H'),
                        help="input width and height (default: the first config's test Resize scale)")
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--threads', type=int_at_least(1),
                        help="torch's CPU threads (default: torch's choice); 1 on a shared machine "
                             'keeps spinning worker threads from fighting other processes')
    parser.add_argument('--source', default='synthetic',
                        help="'synthetic' (a SynthVID video) or a video file / frame folder")
    args = parser.parse_args(argv)
    args.entry_options = parse_entry_options(parser, args.entry_options, num_entries=1 + len(args.compare))
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is visible')
    return args


def load_frames(args: argparse.Namespace) -> tuple[List[torch.Tensor], tuple[int, int]]:
    width, height = args.size or default_input_size(load_config(args.config, args.cfg_options))
    count = min(args.warmup + args.frames, DEFAULT_DISTINCT_FRAMES)
    if args.source == 'synthetic':
        return synthetic_frames(width=width, height=height, num_frames=count), (width, height)
    return read_frames(args.source, width=width, height=height, num_frames=count), (width, height)


def time_models(models: Sequence, frames: Sequence[torch.Tensor], *, warmup: int, frames_per_run: int,
                repeats: int, device: str) -> List[Timing]:
    """Per-frame milliseconds of each model, runs interleaved and their order alternated."""
    runs: List[List[List[float]]] = [[] for _ in models]
    for run in range(repeats):
        order = list(range(len(models)))
        for index in (order if run % 2 == 0 else order[::-1]):
            records = stream(models[index], frames, num_frames=warmup + frames_per_run,
                             video_id=run, device=device)
            runs[index].append([record.seconds * 1e3 for record in records[warmup:]])
            if len(models) > 1:
                time.sleep(PAUSE_BETWEEN_RUNS_S)
    return [Timing(runs=model_runs) for model_runs in runs]


def format_table(entries: Sequence[Entry], timings: Sequence[Timing]) -> str:
    lines = ['| config | ms/frame (median) | FPS | p90 ms | run medians ms | vs first |',
             '|---|---|---|---|---|---|']
    first = timings[0].median_ms
    for entry, timing in zip(entries, timings):
        medians = timing.run_medians
        spread = f'{min(medians):.1f}-{max(medians):.1f}'
        lines.append(f'| {entry.name} | {timing.median_ms:.1f} | {timing.fps:.2f} | {timing.p90_ms:.1f} '
                     f'| {spread} | {timing.median_ms / first:.2f}x |')
    return '\n'.join(lines)


def run(args: argparse.Namespace) -> dict:
    register_all_modules()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    entries = [Entry(name=Path(args.config).stem, config=args.config, checkpoint=args.checkpoint)]
    entries += [parse_entry(text) for text in args.compare]
    # an entry's options are part of its name: the same config twice is then two rows
    names = [' '.join([e.name, *(f'{key}={value}' for key, value in args.entry_options.get(i, {}).items())])
             for i, e in enumerate(entries)]
    entries = [Entry(name=f'{name} ({i + 1})' if names.count(name) > 1 else name,
                     config=e.config, checkpoint=e.checkpoint) for i, (name, e) in enumerate(zip(names, entries))]
    models = [init_model(e.config, checkpoint=e.checkpoint, device=args.device,
                         cfg_options={**(args.cfg_options or {}), **args.entry_options.get(i, {})})
              for i, e in enumerate(entries)]
    frames, (width, height) = load_frames(args)
    source = 'synthetic (SynthVID)' if args.source == 'synthetic' else args.source
    print(f'# fps, {args.device}: {machine_description(args.device)}')
    print(f'# {width}x{height} frames from {source}, batch 1; per run {args.warmup} warm-up + '
          f'{args.frames} timed frames of one video; {args.repeats} runs'
          f'{", interleaved" if len(entries) > 1 else ""}')
    timings = time_models(models, frames, warmup=args.warmup, frames_per_run=args.frames,
                          repeats=args.repeats, device=args.device)
    print(format_table(entries, timings), flush=True)
    return {entry.name: timing for entry, timing in zip(entries, timings)}


def main(argv=None) -> dict:
    args = parse_args(argv)
    try:
        return run(args)
    except (ConfigError, FileNotFoundError, VideoReadError) as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
