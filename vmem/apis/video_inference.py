"""Running a model on video streams: files, webcams, frame folders and image lists.

:class:`VideoInferencer` feeds a stream's frames to a model one at a time, in order, as
the config's test pipeline prepares them, and yields each frame with its predictions in
the frame's own pixel coordinates. Every stream is a new video: memory models (MAMBA,
SELSA-style) start it with empty memory and read only frames already seen, so the same
code serves a live webcam. Frames are read as they are needed, never preloaded.

    model = init_model('configs/mamba/mamba_r10t_synthvid_tiny.py', 'mamba.pth')
    inferencer = VideoInferencer(model=model)
    for result in inferencer('street.mp4'):
        print(result.frame_index, result.instances.bboxes)
    reports = inferencer.run_videos(['a.mp4', 'frames/', 'b.mp4'])  # a bad video is reported, the rest run
"""
from __future__ import annotations

import copy
import os
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional

import numpy as np
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from vmem.video import FrameSource, VideoReadError, open_video
from vmem.video.open_source import VideoSourceSpec

# Pipeline steps that need dataset annotations or pack clips; a stream has neither.
_ANNOTATION_STEPS = ('LoadAnnotations', 'LoadVOSAnnotations', 'MasksToBoxes')
_CLIP_WRAPPERS = ('ApplyToFrames',)
_CLIP_PACKERS = ('PackVideoInputs',)


@dataclass
class FramePrediction:
    """One frame of a stream and what the model found in it."""
    frame_index: int  # position among the frames the source delivered (skipped frames not counted)
    frame: np.ndarray  # RGB uint8 (H, W, 3), as read
    instances: InstanceData  # on the CPU; for detectors bboxes (xyxy, frame pixels), scores, labels
    seconds: float  # preprocessing + model, this frame


@dataclass
class VideoReport:
    """The outcome of one video of :meth:`VideoInferencer.run_videos`."""
    source: str
    num_frames: int = 0
    seconds: float = 0.0
    predictions: List[InstanceData] = field(default_factory=list)  # one per frame, unless not kept
    error: Optional[str] = None  # why the video could not be read (completely); None if it was

    @property
    def ok(self) -> bool:
        return self.error is None


def frame_pipeline_config(cfg) -> List[dict]:
    """The config's test pipeline, turned into one for a single in-memory frame: steps
    wrapped in ``ApplyToFrames`` unwrapped, annotation loading dropped, clip packing
    (``PackVideoInputs``) replaced by frame packing (``PackDetInputs``)."""
    pipeline = ((cfg.get('test_dataloader') or {}).get('dataset') or {}).get('pipeline') or cfg.get('test_pipeline')
    if not pipeline:
        raise ValueError(f'{cfg.filename or "the config"}: no test pipeline '
                         '(test_dataloader.dataset.pipeline or test_pipeline) to prepare frames with')
    steps = []
    for step in pipeline:
        step = dict(step)
        if step.get('type') in _CLIP_WRAPPERS:
            steps.extend(dict(inner) for inner in step.get('transforms') or [])
        elif step.get('type') in _CLIP_PACKERS:
            steps.append(dict(type='PackDetInputs'))
        else:
            steps.append(step)
    return [step for step in steps if step.get('type') not in _ANNOTATION_STEPS]


class VideoInferencer:
    """Per-frame predictions of ``model`` (built by :func:`vmem.apis.init_model`) on streams.

    Calling it with a source (anything :func:`vmem.video.open_video` opens, or an open
    :class:`FrameSource`) yields a :class:`FramePrediction` per frame. A model with an
    offline inference mode is switched to online, the only mode a stream allows.
    """

    def __init__(self, *, model: torch.nn.Module) -> None:
        cfg = getattr(model, 'cfg', None)
        if cfg is None:
            raise ValueError('model has no `cfg`; build it with vmem.apis.init_model(config, checkpoint)')
        if getattr(model, 'inference_mode', 'online') != 'online':
            warnings.warn(f'{type(model).__name__}: inference_mode {model.inference_mode!r} needs the whole '
                          "video in advance; streaming runs it 'online'", stacklevel=2)
            model.inference_mode = 'online'
        self.model = model
        self.class_names = tuple((getattr(model, 'dataset_meta', None) or {}).get('classes') or ())
        self._pipeline = self._build_pipeline(frame_pipeline_config(cfg), cfg.get('default_scope', 'vmem'))
        self._videos_started = 0

    @staticmethod
    def _build_pipeline(steps: List[dict], scope: str) -> List[Callable[[dict], dict]]:
        from vmem.registry import TRANSFORMS
        with DefaultScope.overwrite_default_scope(scope):
            return [TRANSFORMS.build(copy.deepcopy(step)) for step in steps]

    # -- one stream -----------------------------------------------------------------------
    def __call__(self, source: VideoSourceSpec | FrameSource, *, max_frames: Optional[int] = None,
                 camera: Optional[int] = None, start_time: Optional[float] = None) -> Iterator[FramePrediction]:
        """Predictions for the frames of ``source`` in order (the first ``max_frames``).

        ``camera``: the id of the camera the stream comes from, for per-camera memory
        (Context R-CNN reads and grows that camera's memory, kept from earlier streams of
        the same camera). Its frames are then stamped ``start_time`` (seconds since the
        epoch; default: now) plus their index over the stream's fps; a live stream without
        a frame count is stamped with the wall clock."""
        if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int)
                                       or max_frames < 1):
            raise ValueError(f'max_frames must be a positive int or None, got {max_frames!r}')
        if camera is not None and (isinstance(camera, bool) or not isinstance(camera, int)):
            raise ValueError(f'camera must be an int id or None, got {camera!r}')
        owned = not isinstance(source, FrameSource)
        stream = open_video(source) if owned else source
        clock = None
        if camera is not None:
            clock = _frame_clock(start_time, fps=stream.fps, live=stream.num_frames is None)
        try:
            yield from self._predict_frames(stream, video_length=stream.num_frames, max_frames=max_frames,
                                            camera=camera, clock=clock)
        finally:
            if owned:
                stream.close()

    def _predict_frames(self, frames: Iterable[np.ndarray], *, video_length: Optional[int],
                        max_frames: Optional[int], camera: Optional[int] = None,
                        clock: Optional[Callable[[int], float]] = None) -> Iterator[FramePrediction]:
        video_id = self._start_video()
        for frame_index, frame in enumerate(frames):
            start = time.perf_counter()
            where = {} if camera is None else dict(camera=camera, timestamp=clock(frame_index))
            instances = self.predict_frame(frame, video_id=video_id, frame_id=frame_index,
                                           video_length=video_length, **where)
            yield FramePrediction(frame_index=frame_index, frame=frame, instances=instances,
                                  seconds=time.perf_counter() - start)
            if max_frames is not None and frame_index + 1 >= max_frames:
                break  # before reading a frame that would be thrown away (a webcam's is gone)

    def _start_video(self) -> int:
        reset = getattr(self.model, 'reset_memory', None)
        if callable(reset):  # memory from the previous stream must not leak into this one
            reset()
        self._videos_started += 1
        return self._videos_started - 1

    def predict_frame(self, frame: np.ndarray, *, video_id: int, frame_id: int,
                      video_length: Optional[int] = None, camera: Optional[int] = None,
                      timestamp: Optional[float] = None) -> InstanceData:
        """Predictions for one RGB uint8 frame, frame ``frame_id`` of video ``video_id``
        (memory models reset when the video changes and at frame 0), optionally from
        ``camera`` at ``timestamp`` (seconds; per-camera memory)."""
        results: dict[str, Any] = dict(img=frame, img_id=frame_id, video_id=video_id, frame_id=frame_id)
        optional = dict(video_length=video_length, camera=camera, timestamp=timestamp)
        results.update({key: value for key, value in optional.items() if value is not None})
        for step in self._pipeline:
            results = step(results)
            if results is None:
                raise ValueError(f'a test pipeline step dropped frame {frame_id}; '
                                 'streams need every step to return the frame')
        data = {'inputs': [results['inputs']], 'data_samples': [results['data_samples']]}
        with torch.no_grad():
            sample = self.model.test_step(data)[0]
        return sample.pred_instances.cpu()

    # -- many videos ----------------------------------------------------------------------
    def run_videos(self, sources: Sequence[VideoSourceSpec], *, max_frames: Optional[int] = None,
                   keep_predictions: bool = True,
                   on_frame: Optional[Callable[[str, FramePrediction], None]] = None) -> List[VideoReport]:
        """Run every video of ``sources`` in turn; one report each, in order.

        A video that does not exist or cannot be decoded gets a report with ``error`` set
        and the batch goes on. Errors of the model itself are not caught.
        ``on_frame(source_name, prediction)`` sees every frame (to draw or save it)."""
        if isinstance(sources, (str, bytes)) or not isinstance(sources, Sequence):
            raise TypeError('sources must be a list of videos, frame folders or image lists')
        reports = []
        for source in sources:
            name = os.fspath(source) if isinstance(source, (str, os.PathLike)) else repr(source)
            report = VideoReport(source=name)
            start = time.perf_counter()
            try:
                stream = open_video(source)
            except (FileNotFoundError, VideoReadError) as error:
                report.error = str(error)
                reports.append(report)
                continue
            with stream:
                try:
                    for prediction in self._predict_frames(_read_guarded(stream), video_length=stream.num_frames,
                                                           max_frames=max_frames):
                        report.num_frames += 1
                        if keep_predictions:
                            report.predictions.append(prediction.instances)
                        if on_frame is not None:
                            on_frame(name, prediction)
                except _SourceFailed as failure:
                    report.error = str(failure)
            report.seconds = time.perf_counter() - start
            reports.append(report)
        return reports


def _frame_clock(start_time: Optional[float], *, fps: Optional[float], live: bool) -> Callable[[int], float]:
    """Frame index -> seconds since the epoch."""
    if live and start_time is None:
        return lambda index: time.time()
    start = time.time() if start_time is None else float(start_time)
    rate = fps if fps and fps > 0 else 30.0
    return lambda index: start + index / rate


class _SourceFailed(Exception):
    """Reading a stream failed part-way."""


def _read_guarded(stream: FrameSource) -> Iterator[np.ndarray]:
    # A decoder error in the middle of a file ends that video, not the batch. Errors of the
    # model must still propagate, so only reading the next frame is guarded.
    frames = iter(stream)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except (VideoReadError, OSError, RuntimeError) as error:
            raise _SourceFailed(f'{stream.name}: reading stopped after an error: {error}') from error
        yield frame
