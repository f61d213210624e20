"""Timing a detector on a stream of frames fed one at a time, as online inference sees them.

Every frame goes through ``model.test_step`` with the metainfo the test pipeline packs
(``video_id``, ``frame_id``, ``video_length``, shapes), so memory models run online:
they reset at a new video and read memory built from the frames before. The timed span
is the whole ``test_step`` (preprocessing, host-to-device copy, forward, postprocessing);
building the data sample is the dataloader's work and is not timed.

``tools/benchmark/fps.py`` and ``tools/benchmark/stream_memory.py`` are command lines
over this module.
"""
from __future__ import annotations

import os
import platform
import resource
import sys
import time
from dataclasses import dataclass
from typing import Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from vmem.structures import DetDataSample

# Distinct frames a stream plays (forwards, then backwards, and again): enough for varied
# content, few enough that long streams hold them in memory before any timing starts.
DEFAULT_DISTINCT_FRAMES = 100
FALLBACK_INPUT_SIZE = (256, 192)  # SynthVID's own frame size, when a config has no Resize


@dataclass(frozen=True)
class FrameRecord:
    """One frame of a stream: how long ``test_step`` took and the memory held after it."""
    frame_id: int
    seconds: float
    rss_bytes: Optional[int] = None  # resident set size of this process
    cuda_bytes: Optional[int] = None  # tensors allocated by torch on the current GPU


# -- the model ---------------------------------------------------------------------------------
def default_input_size(cfg) -> Tuple[int, int]:
    """(width, height): the ``scale`` of the test pipeline's ``Resize`` (also inside wrappers
    such as ``ApplyToFrames``), else SynthVID's size."""
    pipeline = (cfg.get('test_dataloader') or {}).get('dataset', {}).get('pipeline') or \
        cfg.get('test_pipeline') or []
    steps = list(pipeline)
    while steps:
        step = steps.pop(0)
        if not isinstance(step, Mapping):
            continue
        if step.get('type') == 'Resize' and step.get('scale'):
            width, height = step['scale'][:2]
            return int(width), int(height)
        steps[:0] = list(step.get('transforms') or [])
    return FALLBACK_INPUT_SIZE


# -- frames -----------------------------------------------------------------------------------
def check_size(width: int, height: int) -> None:
    for name, value in (('width', width), ('height', height)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'frame {name} must be a positive int, got {value!r}')


def _to_tensor(frame: np.ndarray, width: int, height: int) -> torch.Tensor:
    import cv2
    if frame.shape[:2] != (height, width):
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1)))


def synthetic_frames(*, width: int, height: int, num_frames: int = DEFAULT_DISTINCT_FRAMES,
                     seed: int = 0) -> List[torch.Tensor]:
    """``num_frames`` consecutive frames of one SynthVID video, uint8 [3, height, width].

    SynthVID renders sides of at least ``MIN_SIDE`` pixels; smaller sizes are rendered at
    that side and scaled down."""
    from vmem.datasets.synthetic import SynthVIDConfig, render_video
    from vmem.datasets.synthetic.config import MIN_SIDE

    check_size(width, height)
    _check_count('num_frames', num_frames)
    config = SynthVIDConfig(width=max(width, MIN_SIDE), height=max(height, MIN_SIDE),
                            num_frames=num_frames, seed=seed, write_videos=False)
    video = render_video(config, split='benchmark', index=0)
    return [_to_tensor(frame, width, height) for frame in video.frames]


def read_frames(path: str, *, width: int, height: int,
                num_frames: int = DEFAULT_DISTINCT_FRAMES) -> List[torch.Tensor]:
    """The first ``num_frames`` frames of a video file or frame folder, resized to
    (width, height), uint8 [3, height, width]."""
    from vmem.video import VideoReadError, open_video

    check_size(width, height)
    _check_count('num_frames', num_frames)
    if not os.path.exists(path):
        raise FileNotFoundError(f'frame source not found: {path}')
    frames = []
    with open_video(path) as source:
        for frame in source:
            frames.append(_to_tensor(frame, width, height))
            if len(frames) == num_frames:
                break
    if not frames:
        raise VideoReadError(f'frame source {path} has no readable frames')
    return frames


def frame_order(num_frames: int, num_distinct: int) -> Iterator[int]:
    """Indices into ``num_distinct`` frames for a stream of ``num_frames``: forwards, then
    backwards, and so on, so motion stays continuous when the stream is longer."""
    _check_count('num_distinct', num_distinct)
    period = max(1, 2 * num_distinct - 2)
    for t in range(num_frames):
        position = t % period
        yield position if position < num_distinct else period - position


def frame_data(image: torch.Tensor, *, video_id: int, frame_id: int, video_length: int) -> dict:
    """What the test pipeline's ``PackDetInputs`` and a batch-1 dataloader give the model."""
    shape = tuple(image.shape[-2:])
    sample = DetDataSample(metainfo=dict(
        img_id=frame_id, video_id=video_id, frame_id=frame_id, video_length=video_length,
        img_shape=shape, ori_shape=shape, pad_shape=shape, scale_factor=(1.0, 1.0),
        flip=False, flip_direction=None))
    return {'inputs': [image], 'data_samples': [sample]}


# -- running and timing -----------------------------------------------------------------------
def stream(model, frames: Sequence[torch.Tensor], *, num_frames: int, video_id: int = 0,
           device: str = 'cpu', measure_memory: bool = False) -> List[FrameRecord]:
    """Feed one video of ``num_frames`` frames (``frames`` played back and forth) through
    ``model.test_step``, one frame at a time; a record per frame."""
    _check_count('num_frames', num_frames)
    if not frames:
        raise ValueError('frames must hold at least one frame')
    cuda = device == 'cuda'
    records = []
    with torch.no_grad():
        for frame_id, index in enumerate(frame_order(num_frames, len(frames))):
            data = frame_data(frames[index], video_id=video_id, frame_id=frame_id,
                              video_length=num_frames)
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            model.test_step(data)
            if cuda:
                torch.cuda.synchronize()
            seconds = time.perf_counter() - start
            records.append(FrameRecord(
                frame_id=frame_id, seconds=seconds,
                rss_bytes=process_rss_bytes() if measure_memory else None,
                cuda_bytes=torch.cuda.memory_allocated() if measure_memory and cuda else None))
    return records


def process_rss_bytes() -> int:
    """This process's resident set size now (Linux /proc, else psutil); where neither
    exists, the peak RSS, which still shows growth."""
    try:
        with open('/proc/self/statm') as statm:
            return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil
        return int(psutil.Process().memory_info().rss)
    except ImportError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == 'darwin' else peak * 1024)  # bytes on macOS, KiB elsewhere


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of a non-empty sequence."""
    if not len(values):
        raise ValueError('percentile of no values')
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def machine_description(device: str) -> str:
    """CPU model (or GPU name), torch threads and version, and the date, for a table header."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as cpuinfo:
            cpu = next((line.split(':', 1)[1].strip() for line in cpuinfo
                        if line.startswith('model name')), cpu)
    except OSError:
        pass
    parts = [f'{cpu} ({os.cpu_count()} cores), {torch.get_num_threads()} torch threads']
    if device == 'cuda':
        parts.append(torch.cuda.get_device_name())
    parts += [f'torch {torch.__version__}', time.strftime('%Y-%m-%d %H:%M')]
    return ', '.join(parts)


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{name} must be a positive int, got {value!r}')
