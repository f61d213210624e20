"""One frame of SAM 2-style tracking, for all objects of a stream at once.

`segment_prompted` answers the prompts given on a frame, `track` segments the other
objects from memory (batched through memory attention), `remember` writes a frame's
results to the stream's `ObjectMemory`. The video predictor and the streaming tracker
are thin drivers around these three.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torchvision.ops import masks_to_boxes

from .motion_prior import BoxKalmanFilter, choose_candidate
from .network import FrameFeatures, FrameOutput, SAM2Network
from .object_memory import ObjectMemory
from .prompt_encoder import BOX_BOTTOM_RIGHT, BOX_TOP_LEFT


@dataclass
class Prompt:
    """Prompts for one object on one frame, in model-input pixels: clicks ``points``
    [P, 2] (x, y) with ``labels`` [P] (1 positive, 0 negative), an optional ``box``
    [4] xyxy, or a ``mask`` [H, W] (bool)."""
    points: Optional[torch.Tensor] = None
    labels: Optional[torch.Tensor] = None
    box: Optional[torch.Tensor] = None
    mask: Optional[torch.Tensor] = None

    def clicks(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Points with SAM's box encoding: a box is two clicks labelled 2 and 3, first."""
        coords, labels = [], []
        if self.box is not None:
            coords.append(self.box.reshape(2, 2).float())
            labels.append(torch.tensor([BOX_TOP_LEFT, BOX_BOTTOM_RIGHT], dtype=torch.int32,
                                       device=self.box.device))
        if self.points is not None:
            coords.append(self.points.reshape(-1, 2).float())
            labels.append(self.labels.reshape(-1).to(torch.int32))
        return torch.cat(coords), torch.cat(labels)

    @property
    def num_clicks(self) -> int:
        return (0 if self.points is None else self.points.reshape(-1, 2).shape[0]) + (0 if self.box is None else 2)


@dataclass
class StreamState:
    """Per-stream tracking state: the memory and, per object, the frames it was
    segmented on, its last mask logits (to refine with further clicks) and, with a
    ``motion_weight``, a Kalman filter on its box (SAMURAI-style candidate choice)."""
    memory: ObjectMemory
    image_size: Tuple[int, int]
    num_frames: Optional[int] = None
    motion_weight: Optional[float] = None
    frames_done: Dict[int, set] = field(default_factory=dict)
    last_logits: Dict[int, Dict[int, torch.Tensor]] = field(default_factory=dict)
    filters: Dict[int, BoxKalmanFilter] = field(default_factory=dict)

    @property
    def pointer_horizon(self) -> int:
        """Distance encoded as 1 for object pointers (official: min(frames, 16) - 1)."""
        return (min(self.num_frames, 16) if self.num_frames else 16) - 1


def _split(output: FrameOutput, positions: Sequence[int]) -> Dict[int, FrameOutput]:
    """A batched output as one output per object (keyed by ``positions``)."""
    def row(value, i):
        return None if value is None else value[i:i + 1]
    return {p: FrameOutput(**{name: row(getattr(output, name), i) for name in FrameOutput.__dataclass_fields__})
            for i, p in enumerate(positions)}


def segment_prompted(network: SAM2Network, state: StreamState, frame: FrameFeatures, frame_idx: int,
                     prompts: Dict[int, Prompt], *, direction: int = 1) -> Dict[int, FrameOutput]:
    """Outputs for the objects prompted on this frame. Masks are output as given. Clicks
    on a frame the object was not yet segmented on are answered without memory (SAM 2's
    'initial conditioning frame'); on a segmented frame they refine the previous mask with
    memory. One click gives SAM's best of three candidates."""
    outputs: Dict[int, FrameOutput] = {}
    mask_ids = [i for i, p in prompts.items() if p.mask is not None]
    if mask_ids:
        masks = torch.stack([prompts[i].mask for i in mask_ids])[:, None]
        out = network.mask_as_output(frame.repeat(len(mask_ids)), masks, image_size=state.image_size)
        outputs.update({mask_ids[p]: o for p, o in _split(out, range(len(mask_ids))).items()})
    for object_id, prompt in prompts.items():
        if prompt.mask is not None:
            continue
        coords, labels = prompt.clicks()
        seen = frame_idx in state.frames_done.get(object_id, ())
        single = frame.repeat(1)
        if seen:
            memory = state.memory.read([object_id], frame_idx=frame_idx, direction=direction,
                                       pointer_horizon=state.pointer_horizon, device=frame.features.device)
            features = network.condition(single, next(iter(memory.values()))[1] if memory else None)
        else:
            features = network.condition(single, None)
        previous = state.last_logits.get(object_id, {}).get(frame_idx) if seen else None
        multimask = prompt.num_clicks <= 1   # official: 0-1 clicks give 3 candidates
        outputs[object_id] = network.decode(features, single, image_size=state.image_size,
                                            points=(coords[None], labels[None]), mask_logits=previous,
                                            multimask=multimask)
    return outputs


def track(network: SAM2Network, state: StreamState, frame: FrameFeatures, frame_idx: int,
          object_ids: Sequence[int], *, direction: int = 1) -> Dict[int, FrameOutput]:
    """Outputs for objects without prompts on this frame, from their memory. Objects
    whose memories have the same layout go through memory attention as one batch."""
    outputs: Dict[int, FrameOutput] = {}
    batches = state.memory.read(list(object_ids), frame_idx=frame_idx, direction=direction,
                                pointer_horizon=state.pointer_horizon, device=frame.features.device,
                                dtype=frame.features.dtype)
    for positions, memory in batches.values():
        features = network.condition(frame.repeat(len(positions)), memory)
        choose = _motion_chooser(state, [object_ids[p] for p in positions])
        out = network.decode(features, frame.repeat(len(positions)), image_size=state.image_size, multimask=True,
                             choose=choose)
        outputs.update({object_ids[p]: o for p, o in _split(out, positions).items()})
    missing = [i for i in object_ids if i not in outputs]
    if missing:
        raise KeyError(f'objects {missing} have no memory yet: prompt them on a frame first')
    return outputs


def remember(network: SAM2Network, state: StreamState, frame: FrameFeatures, frame_idx: int,
             outputs: Dict[int, FrameOutput], *, prompted: bool) -> None:
    """Encode this frame's results into memory. Prompted frames (pinned) are encoded from
    their binarised stride-4 masks upsampled to the input, as the official predictor does
    when it consolidates prompts; tracked frames from the sigmoid of their masks."""
    if not outputs:
        return
    ids = list(outputs)
    gather = lambda name: torch.cat([getattr(outputs[i], name) for i in ids])   # noqa: E731
    object_logits = gather('object_logits')
    if prompted:
        masks = F.interpolate(gather('low_res_masks'), size=state.image_size, mode='bilinear', align_corners=False)
    else:
        masks = gather('masks')
    maps = network.encode_memory(frame.repeat(len(ids)), masks, object_logits, binarize=prompted)
    # quality: the chosen mask's predicted IoU, -1 where the object is judged absent
    quality = torch.where(object_logits > 0, gather('quality'), torch.full_like(object_logits, -1.0))
    state.memory.write(ids, frame_idx=frame_idx, maps=maps, pointers=gather('pointer'),
                       object_logits=object_logits, prompted=prompted, quality=quality)
    for object_id in ids:
        if state.num_frames is None:   # a stream: only its newest frame can still be re-prompted
            state.frames_done[object_id] = {frame_idx}
        else:                          # a video: bounded by its length
            state.frames_done.setdefault(object_id, set()).add(frame_idx)
        if state.motion_weight is not None:
            _follow_motion(state, object_id, outputs[object_id], prompted=prompted)
        # keep only the newest frame's logits per object: enough to refine with clicks,
        # and bounded for long streams
        state.last_logits[object_id] = {frame_idx: outputs[object_id].low_res_masks}


def tracked_ids(state: StreamState) -> List[int]:
    return state.memory.object_ids


def _motion_chooser(state: StreamState, object_ids: Sequence[int]):
    """With a motion prior: a ``choose(masks, ious)`` for `SAM2Network.decode` that picks
    each object's candidate against its predicted box (SAMURAI); else None."""
    if state.motion_weight is None:
        return None
    predicted = [_predict_box(state, object_id) for object_id in object_ids]

    def choose(masks: torch.Tensor, ious: torch.Tensor) -> torch.Tensor:
        return torch.tensor([choose_candidate(masks[i], ious[i], predicted[i], motion_weight=state.motion_weight)
                             for i in range(len(masks))], device=masks.device)
    return choose


def _predict_box(state: StreamState, object_id: int) -> Optional[torch.Tensor]:
    motion = state.filters.get(object_id)
    return None if motion is None else motion.predict()


def _follow_motion(state: StreamState, object_id: int, output: FrameOutput, *, prompted: bool) -> None:
    """Start (on a prompt) or correct an object's box filter with the box of its mask."""
    mask = output.masks[0, 0] > 0
    if float(output.object_logits.reshape(-1)[0]) <= 0 or not mask.any():
        return
    box = masks_to_boxes(mask[None].cpu())[0]
    if prompted or object_id not in state.filters:
        state.filters[object_id] = BoxKalmanFilter(box)
    else:
        state.filters[object_id].update(box)
