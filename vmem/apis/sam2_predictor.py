"""SAM 2-style tracking APIs on a `SAM2Tracker` built by `init_model`:

- `SAM2VideoPredictor`: the official predictor's calls (``init_state``,
  ``add_new_points_or_box``, ``add_new_mask``, ``propagate_in_video`` forward or in
  reverse, ``remove_object``, ``reset_state``). Frames are read from the source when
  needed (`vmem.video`), never all loaded; memory is the tracker's bounded per-object banks.
- `StreamingTracker`: cameras and the demo: ``track(frame, prompts)`` once per new frame,
  with prompts (boxes, clicks or masks) for the objects that start on that frame.

Coordinates, boxes and masks are in original frame pixels; results come back at the
original size: a `TrackResult` per frame with a boolean mask, a box (from the mask) and a
presence score per object.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope

from vmem.models.trackers.sam2 import FrameFeatures, FrameOutput, ObjectMemory, Prompt, StreamState
from vmem.models.trackers.sam2.frame_step import remember, segment_prompted, track
from vmem.models.trackers.sam2_tracker import results_at_original_size
from vmem.video import FrameSource, open_video

from .video_inference import frame_pipeline_config


@dataclass
class TrackResult:
    """One frame's objects: ``masks`` bool [n, H, W], ``boxes`` xyxy [n, 4] (from the
    masks; zeros for an empty mask), ``scores`` [n] object presence, ``object_ids`` [n]."""
    frame_idx: int
    object_ids: List[int]
    masks: torch.Tensor
    boxes: torch.Tensor
    scores: torch.Tensor


class FramePreparer:
    """RGB uint8 frames -> the tracker's normalised, padded input, with the config's own
    test-pipeline resize; prompts mapped from frame pixels to input pixels."""

    def __init__(self, model) -> None:
        cfg = getattr(model, 'cfg', None)
        if cfg is None:
            raise ValueError('model has no `cfg`; build it with vmem.apis.init_model(config, checkpoint)')
        from vmem.registry import TRANSFORMS
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'vmem')):
            self.steps = [TRANSFORMS.build(copy.deepcopy(s)) for s in frame_pipeline_config(cfg)]
        self.model = model

    def __call__(self, frame: np.ndarray, frame_idx: int) -> Tuple[torch.Tensor, dict]:
        results = dict(img=frame, img_id=frame_idx, frame_id=frame_idx)
        for step in self.steps:
            results = step(results)
        batch = self.model.data_preprocessor(dict(inputs=[results['inputs']],
                                                  data_samples=[results['data_samples']]), False)
        return batch['inputs'], batch['data_samples'][0].metainfo


@dataclass
class _Video:
    source: FrameSource
    stream: StreamState
    original_size: Tuple[int, int]
    prompts: Dict[int, Dict[int, Prompt]] = field(default_factory=dict)          # frame -> object -> prompt
    prompt_outputs: Dict[int, Dict[int, FrameOutput]] = field(default_factory=dict)
    pending: set = field(default_factory=set)                                      # frames not in memory yet
    meta: Optional[dict] = None
    cache: Dict[int, Tuple[FrameFeatures, dict]] = field(default_factory=dict)

    @property
    def object_ids(self) -> List[int]:
        return sorted({i for frame in self.prompts.values() for i in frame})


class _Tracking:
    """What both APIs share: encoding frames and turning outputs into results."""

    def __init__(self, model) -> None:
        self.model = model.eval()
        self.preparer = FramePreparer(model)

    @property
    def network(self):
        return self.model.network

    def _encode(self, frame: np.ndarray, frame_idx: int) -> Tuple[FrameFeatures, dict]:
        inputs, meta = self.preparer(frame, frame_idx)
        with torch.no_grad():
            return self.network.encode_image(inputs), meta

    def _prompt(self, meta: dict, original_size, *, object_id: int, points=None, labels=None, box=None,
                mask=None) -> Prompt:
        height, width = original_size
        scale = meta.get('scale_factor', (1.0, 1.0))
        device = self.network.no_mem_embed.device
        if mask is not None:
            mask = torch.as_tensor(np.asarray(mask)).bool()
            if tuple(mask.shape) != (height, width):
                raise ValueError(f'object {object_id}: the mask is {list(mask.shape)} but frames are '
                                 f'{[height, width]}')
            if not mask.any():
                raise ValueError(f'object {object_id}: the mask is empty')
            img_h, img_w = meta['img_shape'][:2]
            resized = F.interpolate(mask[None, None].float(), size=(img_h, img_w), mode='nearest')[0, 0]
            pad_h, pad_w = meta['batch_input_shape']
            return Prompt(mask=F.pad(resized, (0, pad_w - img_w, 0, pad_h - img_h)).bool().to(device))
        to_input = torch.tensor([scale[0], scale[1]], dtype=torch.float32)
        prompt = Prompt()
        if box is not None:
            box = torch.as_tensor(np.asarray(box, dtype=np.float32)).reshape(-1)
            if box.numel() != 4 or not (box[0] < box[2] and box[1] < box[3]):
                raise ValueError(f'object {object_id}: a box must be x1, y1, x2, y2 with x1 < x2 and y1 < y2, '
                                 f'got {box.tolist()}')
            _check_inside(box.reshape(2, 2), width, height, what=f'object {object_id}: the box')
            prompt.box = (box.reshape(2, 2) * to_input).reshape(4).to(device)
        if points is not None:
            points = torch.as_tensor(np.asarray(points, dtype=np.float32)).reshape(-1, 2)
            labels = torch.ones(len(points), dtype=torch.int32) if labels is None else \
                torch.as_tensor(np.asarray(labels)).reshape(-1).to(torch.int32)
            if len(labels) != len(points) or not bool(((labels == 0) | (labels == 1)).all()):
                raise ValueError(f'object {object_id}: labels must be one 0 (negative) or 1 (positive) per point')
            _check_inside(points, width, height, what=f'object {object_id}: a point')
            prompt.points, prompt.labels = (points * to_input).to(device), labels.to(device)
        if prompt.box is None and prompt.points is None:
            raise ValueError(f'object {object_id}: give points, a box or a mask')
        return prompt

    def _result(self, frame_idx: int, outputs: Dict[int, FrameOutput], meta: dict, original_size) -> TrackResult:
        ids, masks, boxes, scores = results_at_original_size(outputs, img_shape=meta['img_shape'][:2],
                                                             original_size=original_size)
        return TrackResult(frame_idx, ids, masks, boxes, scores)


def _check_inside(points: torch.Tensor, width: int, height: int, *, what: str) -> None:
    outside = (points[:, 0] < 0) | (points[:, 0] > width) | (points[:, 1] < 0) | (points[:, 1] > height)
    if outside.any():
        raise ValueError(f'{what} {points[outside][0].tolist()} is outside the {width}x{height} frame')


class SAM2VideoPredictor(_Tracking):
    """The official video predictor's workflow on vmem's tracker (see the module doc).

    Differences, on purpose: memory is bounded (prompted frames + a ring of recent frames per
    object); each propagation starts its ring afresh from the prompts, so a reverse pass does
    not reuse frames of an earlier forward pass; hole filling of masks is not done."""

    def init_state(self, source, *, memory: Optional[dict] = None) -> _Video:
        """A state for one video (a file, a frame folder, or an open `FrameSource` with
        random access)."""
        frames = source if isinstance(source, FrameSource) else open_video(source)
        if frames.num_frames is None:
            raise ValueError(f'{frames.name}: the video predictor needs a video of known length; '
                             'use StreamingTracker for cameras')
        memory_cfg = dict(self.model.memory_cfg, **(memory or {}))
        first = frames.read(0)
        features, meta = self._encode(first, 0)
        stream = StreamState(memory=ObjectMemory(**memory_cfg), image_size=tuple(meta['batch_input_shape']),
                             num_frames=frames.num_frames, motion_weight=self.model.motion_weight)
        state = _Video(source=frames, stream=stream, original_size=tuple(first.shape[:2]), meta=meta)
        state.cache[0] = (features, meta)
        return state

    def _frame(self, state: _Video, frame_idx: int) -> Tuple[FrameFeatures, dict]:
        if not 0 <= frame_idx < state.source.num_frames:
            raise IndexError(f'frame_idx {frame_idx} is outside the video (0..{state.source.num_frames - 1})')
        if frame_idx not in state.cache:
            frame = state.source.read(frame_idx)
            if tuple(frame.shape[:2]) != state.original_size:
                raise ValueError(f'{state.source.name}: frame {frame_idx} is {list(frame.shape[:2])} but the video '
                                 f'started at {list(state.original_size)}; frames must keep one size')
            state.cache = {k: v for k, v in state.cache.items() if k in state.prompts}  # prompted frames stay
            state.cache[frame_idx] = self._encode(frame, frame_idx)
        return state.cache[frame_idx]

    def add_new_points_or_box(self, state: _Video, frame_idx: int, obj_id: int, *, points=None, labels=None,
                              box=None, clear_old_points: bool = True) -> TrackResult:
        """Clicks and/or a box for ``obj_id`` on ``frame_idx``; returns that frame's masks."""
        features, meta = self._frame(state, frame_idx)
        prompt = self._prompt(meta, state.original_size, object_id=obj_id, points=points, labels=labels, box=box)
        old = state.prompts.get(frame_idx, {}).get(obj_id)
        if not clear_old_points and old is not None and old.mask is None:
            prompt = _merge(old, prompt)
        return self._add(state, frame_idx, obj_id, prompt, features, meta)

    def add_new_mask(self, state: _Video, frame_idx: int, obj_id: int, mask) -> TrackResult:
        """A mask (bool [H, W] at the frame's size) for ``obj_id`` on ``frame_idx``."""
        features, meta = self._frame(state, frame_idx)
        prompt = self._prompt(meta, state.original_size, object_id=obj_id, mask=mask)
        return self._add(state, frame_idx, obj_id, prompt, features, meta)

    def _add(self, state, frame_idx, obj_id, prompt, features, meta) -> TrackResult:
        with torch.no_grad():
            output = segment_prompted(self.network, state.stream, features, frame_idx, {obj_id: prompt})
        state.prompts.setdefault(frame_idx, {})[obj_id] = prompt
        state.prompt_outputs.setdefault(frame_idx, {})[obj_id] = output[obj_id]
        state.pending.add(frame_idx)
        return self._result(frame_idx, state.prompt_outputs[frame_idx], meta, state.original_size)

    def propagate_in_video(self, state: _Video, *, start_frame_idx: Optional[int] = None,
                           max_frame_num_to_track: Optional[int] = None,
                           reverse: bool = False) -> Iterator[TrackResult]:
        """Track every prompted object through the video from ``start_frame_idx`` (default:
        the earliest prompted frame, or the latest in reverse); yields a result per frame."""
        if not state.prompts:
            raise RuntimeError('no object has prompts yet: call add_new_points_or_box or add_new_mask first')
        self._commit_prompts(state)
        num_frames = state.source.num_frames
        step = -1 if reverse else 1
        start = (max(state.prompts) if reverse else min(state.prompts)) if start_frame_idx is None else start_frame_idx
        count = num_frames if max_frame_num_to_track is None else max_frame_num_to_track + 1
        stop = max(-1, start - count) if reverse else min(num_frames, start + count)
        state.stream.memory.clear_recent()
        objects = state.object_ids
        for frame_idx in range(start, stop, step):
            features, meta = self._frame(state, frame_idx)
            prompted = state.prompt_outputs.get(frame_idx, {})
            others = [i for i in objects if i not in prompted]
            outputs = dict(prompted)
            if others:
                with torch.no_grad():
                    tracked = track(self.network, state.stream, features, frame_idx, others, direction=step)
                    remember(self.network, state.stream, features, frame_idx, tracked, prompted=False)
                outputs.update(tracked)
            yield self._result(frame_idx, outputs, meta, state.original_size)

    def _commit_prompts(self, state: _Video) -> None:
        # prompts enter memory (pinned) once, when tracking starts: several clicks on a frame
        # leave only their final answer in memory, as in the official predictor
        for frame_idx in sorted(state.pending):
            features, _ = self._frame(state, frame_idx)
            with torch.no_grad():
                remember(self.network, state.stream, features, frame_idx, state.prompt_outputs[frame_idx],
                         prompted=True)
        state.pending.clear()

    def remove_object(self, state: _Video, obj_id: int) -> None:
        if obj_id not in state.object_ids:
            raise KeyError(f'object id {obj_id} does not exist; objects: {state.object_ids}')
        for frame in list(state.prompts):
            state.prompts[frame].pop(obj_id, None)
            state.prompt_outputs[frame].pop(obj_id, None)
            if not state.prompts[frame]:
                del state.prompts[frame], state.prompt_outputs[frame]
                state.pending.discard(frame)
        state.stream.memory.remove(obj_id)

    def reset_state(self, state: _Video) -> None:
        """Forget every prompt and all memory (the video stays open)."""
        state.prompts.clear()
        state.prompt_outputs.clear()
        state.pending.clear()
        state.stream.memory = ObjectMemory(**self.model.memory_cfg)
        state.stream.frames_done.clear()
        state.stream.last_logits.clear()
        state.stream.filters.clear()


def _merge(old: Prompt, new: Prompt) -> Prompt:
    points = [p for p in (old.points, new.points) if p is not None]
    labels = [p for p in (old.labels, new.labels) if p is not None]
    return Prompt(points=torch.cat(points) if points else None, labels=torch.cat(labels) if labels else None,
                  box=new.box if new.box is not None else old.box)


class StreamingTracker(_Tracking):
    """Online tracking for cameras and the demo: call ``track(frame, ...)`` for each new
    frame in order; objects start on the frame where they are first prompted."""

    def __init__(self, model, *, memory: Optional[dict] = None) -> None:
        super().__init__(model)
        self.memory_cfg = dict(self.model.memory_cfg, **(memory or {}))
        self.reset()

    def reset(self) -> None:
        self.frame_idx = 0
        self.state: Optional[StreamState] = None
        self.size: Optional[Tuple[int, int]] = None

    @property
    def object_ids(self) -> List[int]:
        return [] if self.state is None else self.state.memory.object_ids

    def track(self, frame: np.ndarray, *, boxes: Optional[Dict[int, Sequence[float]]] = None,
              points: Optional[Dict[int, Tuple]] = None, masks: Optional[Dict[int, np.ndarray]] = None
              ) -> TrackResult:
        """Results for ``frame`` (RGB uint8 [H, W, 3]). ``boxes`` {id: xyxy}, ``points``
        {id: (points [P, 2], labels [P])} and ``masks`` {id: bool [H, W]} start (or re-prompt)
        objects on this frame."""
        size = tuple(frame.shape[:2])
        if self.size is not None and size != self.size:
            raise ValueError(f'frame {self.frame_idx} is {list(size)} but the stream started at {list(self.size)}; '
                             'call reset() to start a new stream at another size')
        features, meta = self._encode(frame, self.frame_idx)
        if self.state is None:
            self.size = size
            self.state = StreamState(memory=ObjectMemory(**self.memory_cfg),
                                     image_size=tuple(meta['batch_input_shape']), motion_weight=self.model.motion_weight)
        prompts: Dict[int, Prompt] = {}
        for object_id, box in (boxes or {}).items():
            prompts[object_id] = self._prompt(meta, size, object_id=object_id, box=box)
        for object_id, (coords, labels) in (points or {}).items():
            prompts[object_id] = self._prompt(meta, size, object_id=object_id, points=coords, labels=labels)
        for object_id, mask in (masks or {}).items():
            prompts[object_id] = self._prompt(meta, size, object_id=object_id, mask=mask)
        outputs: Dict[int, FrameOutput] = {}
        with torch.no_grad():
            others = [i for i in self.state.memory.object_ids if i not in prompts]
            if others:
                outputs.update(track(self.network, self.state, features, self.frame_idx, others))
                remember(self.network, self.state, features, self.frame_idx, {i: outputs[i] for i in others},
                         prompted=False)
            if prompts:
                answered = segment_prompted(self.network, self.state, features, self.frame_idx, prompts)
                remember(self.network, self.state, features, self.frame_idx, answered, prompted=True)
                outputs.update(answered)
        result = self._result(self.frame_idx, outputs, meta, size)
        self.frame_idx += 1
        return result

    def remove_object(self, object_id: int) -> None:
        if object_id not in self.object_ids:
            raise KeyError(f'object id {object_id} does not exist; objects: {self.object_ids}')
        self.state.memory.remove(object_id)
