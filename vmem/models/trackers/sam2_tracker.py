"""`SAM2Tracker`: the SAM 2-style tracker as an mmengine model.

- ``mode='loss'``: a clip (frame 0 prompted with a mask, a box or a click taken from its
  ground truth; frames 1..T-1 tracked from memory, with gradient through the memory) and
  SAM 2's losses: 20 x focal + dice on the best of the candidate masks, L1 on the
  predicted IoU, and a presence BCE.
- ``mode='predict'``: semi-supervised video object segmentation, one frame per call in
  order (``tools/test.py``): a frame's ``gt_instances`` are the prompts (masks) of the
  objects that first appear on it; every object seen before is tracked from memory.
  ``pred_track_instances`` gets masks (original image size), boxes (from the masks),
  presence scores and ids.
"""
from __future__ import annotations

import dataclasses
import random
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import InstanceData
from torchvision.ops import masks_to_boxes, sigmoid_focal_loss

from vmem.registry import MODELS
from vmem.structures import DetDataSample, TrackDataSample

from .sam2.checkpoint import load_official_weights, read_official_checkpoint
from .sam2.frame_step import Prompt, StreamState, remember, segment_prompted, track
from .sam2.network import MASK_INPUT_BIAS, MASK_INPUT_SCALE, FrameFeatures, FrameOutput, SAM2Network
from .sam2.object_memory import ClipMemory, ObjectMemory

LOSS_WEIGHTS = dict(mask=20.0, dice=1.0, iou=1.0, presence=1.0)   # SAM 2's training weights


@MODELS.register_module()
class SAM2Tracker(BaseModel):
    """Args:
        network: `SAM2Network` kwargs.
        memory: `ObjectMemory` kwargs for inference (num_recent_maps, num_recent_pointers,
            max_prompted, storage_device, dtype).
        prompt_probs: training prompt mix on frame 0 (SAM 2: half masks, a quarter boxes,
            a quarter clicks).
        loss_weights: weights of the mask (focal), dice, iou and presence losses (SAM 2's
            20 / 1 / 1 / 1 by default).
        memory_from_truth: in training, the probability that a tracked frame is remembered
            from its ground-truth masks instead of the predicted ones (teacher forcing the
            memory; 0 = SAM 2's training, which always remembers predictions).
        motion_weight: SAMURAI-style candidate choice at inference: a Kalman filter on
            each object's box; a tracked frame keeps the candidate mask maximising
            ``w * IoU(its box, predicted box) + (1 - w) * predicted IoU`` (SAMURAI: 0.15).
            None keeps SAM 2's best predicted IoU. Pair it with
            ``memory=dict(min_quality=...)`` to also gate what enters memory.
        data_preprocessor: normalises and pads frames (ImageNet mean/std, as SAM 2).
    """

    def __init__(self, *, network: dict, memory: Optional[dict] = None,
                 prompt_probs: Optional[Dict[str, float]] = None, loss_weights: Optional[Dict[str, float]] = None,
                 motion_weight: Optional[float] = None, memory_from_truth: float = 0.0,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor or dict(type='DetDataPreprocessor'),
                         init_cfg=init_cfg)
        self.network = SAM2Network(**network)
        self.memory_cfg = dict(memory or {})
        ObjectMemory(**self.memory_cfg)   # a bad memory config fails when the model is built
        self.prompt_probs = dict(prompt_probs or dict(mask=0.5, box=0.25, click=0.25))
        if set(self.prompt_probs) - {'mask', 'box', 'click'} or not abs(sum(self.prompt_probs.values()) - 1) < 1e-6:
            raise ValueError(f'prompt_probs must give probabilities of mask/box/click summing to 1, '
                             f'got {self.prompt_probs}')
        self.loss_weights = dict(LOSS_WEIGHTS, **(loss_weights or {}))
        if set(self.loss_weights) != set(LOSS_WEIGHTS):
            raise ValueError(f'loss_weights takes {sorted(LOSS_WEIGHTS)}, got {sorted(loss_weights)}')
        if motion_weight is not None and not 0.0 <= motion_weight <= 1.0:
            raise ValueError(f'motion_weight must be in [0, 1] or None, got {motion_weight!r}')
        self.motion_weight = motion_weight
        if not 0.0 <= memory_from_truth <= 1.0:
            raise ValueError(f'memory_from_truth must be a probability, got {memory_from_truth!r}')
        self.memory_from_truth = memory_from_truth
        self._stream: Optional[StreamState] = None
        self._video = None
        self._labels: Dict[int, int] = {}

    # ----------------------------------------------------------------- weights
    def load_official(self, path: str) -> None:
        """Load an official ``sam2*_hiera_*.pt`` (strict; see `sam2.checkpoint`)."""
        load_official_weights(self.network, read_official_checkpoint(path), source=str(path))

    # ----------------------------------------------------------------- modes
    def forward(self, inputs: torch.Tensor, data_samples=None, mode: str = 'tensor',
                ref_inputs: Optional[torch.Tensor] = None):
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 4:
            raise TypeError('SAM2Tracker expects inputs as one [N, 3, H, W] tensor (run the data through '
                            f'DetDataPreprocessor), got {getattr(inputs, "shape", type(inputs).__name__)}')
        if mode == 'loss':
            return self.loss(inputs, data_samples, ref_inputs)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.network.encode_image(inputs).features
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    # ----------------------------------------------------------------- training
    def loss(self, inputs: torch.Tensor, data_samples: Sequence[TrackDataSample],
             ref_inputs: Optional[torch.Tensor]) -> Dict[str, torch.Tensor]:
        if data_samples is None or not all(isinstance(s, TrackDataSample) for s in data_samples):
            raise ValueError("mode='loss' needs clips: TrackDataSample per item (PackVideoInputs)")
        clips = inputs[:, None] if ref_inputs is None else torch.cat([inputs[:, None], ref_inputs], 1)
        num_clips, num_frames = clips.shape[:2]
        size = tuple(inputs.shape[-2:])
        frames = self.network.encode_image(clips.flatten(0, 1))
        totals = {name: inputs.new_zeros(()) for name in LOSS_WEIGHTS}
        terms = 0
        for c in range(num_clips):
            truths = [pad_masks(s.gt_instances.masks, size) for s in data_samples[c].video_data_samples]
            if num_frames != len(truths):
                raise ValueError(f'clip {c} has {num_frames} frames but {len(truths)} data samples')
            ids = list(range(truths[0].shape[0]))
            if not ids:
                continue
            state = StreamState(memory=ClipMemory(), image_size=size, num_frames=num_frames)
            for t in range(num_frames):
                frame = select_frame(frames, c * num_frames + t)
                if t == 0:
                    prompts = {i: self._training_prompt(truths[0][i]) for i in ids}
                    outputs = segment_prompted(self.network, state, frame, 0, prompts)
                    scored = [i for i in ids if prompts[i].mask is None]   # a mask prompt is its own output
                else:
                    outputs = track(self.network, state, frame, t, ids)
                    scored = ids
                remembered = outputs
                if t > 0 and random.random() < self.memory_from_truth:
                    remembered = {i: truth_as_memory(outputs[i], truths[t][i]) for i in ids}
                remember(self.network, state, frame, t, remembered, prompted=t == 0)
                for i in scored:
                    for name, value in frame_losses(outputs[i], truths[t][i],
                                                    mask_weight=self.loss_weights['mask']).items():
                        totals[name] = totals[name] + value
                    terms += 1
        return {f'loss_{name}': self.loss_weights[name] * value / max(terms, 1) for name, value in totals.items()}

    def _training_prompt(self, mask: torch.Tensor) -> Prompt:
        kind = random.choices(list(self.prompt_probs), weights=list(self.prompt_probs.values()))[0]
        if kind == 'mask' or not mask.any():
            return Prompt(mask=mask.bool())
        if kind == 'box':
            return Prompt(box=masks_to_boxes(mask[None].bool())[0])
        ys, xs = mask.nonzero(as_tuple=True)
        pick = random.randrange(len(xs))
        return Prompt(points=torch.stack([xs[pick], ys[pick]]).float()[None],
                      labels=torch.ones(1, dtype=torch.int32, device=mask.device))

    # ----------------------------------------------------------------- inference
    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: Optional[Sequence[DetDataSample]] = None
                ) -> List[DetDataSample]:
        if len(inputs) != 1:
            raise ValueError('SAM2Tracker predicts one frame per call (batch_size=1, the frames of a video '
                             f'in order) because its memory is per-video state; got a batch of {len(inputs)}')
        sample = data_samples[0] if data_samples else DetDataSample(metainfo=dict(img_shape=tuple(inputs.shape[-2:])))
        if isinstance(sample, TrackDataSample):
            sample = sample.video_data_samples[sample.key_frames_inds[0]]
        meta = sample.metainfo
        video = meta.get('video_id')
        if self._stream is None or video != self._video or meta.get('frame_id', 0) == 0:
            self._stream = StreamState(memory=ObjectMemory(**self.memory_cfg), image_size=tuple(inputs.shape[-2:]),
                                       num_frames=meta.get('video_length'), motion_weight=self.motion_weight)
            self._video, self._labels = video, {}
        state = self._stream
        frame_idx = int(meta.get('frame_id', 0))
        frame = self.network.encode_image(inputs)
        prompts = self._prompts_of(sample, tuple(inputs.shape[-2:]))
        tracked = [i for i in state.memory.object_ids if i not in prompts]
        outputs: Dict[int, FrameOutput] = {}
        if tracked:
            outputs.update(track(self.network, state, frame, frame_idx, tracked))
            remember(self.network, state, frame, frame_idx, {i: outputs[i] for i in tracked}, prompted=False)
        if prompts:
            prompted = segment_prompted(self.network, state, frame, frame_idx, prompts)
            remember(self.network, state, frame, frame_idx, prompted, prompted=True)
            outputs.update(prompted)
        sample.pred_track_instances = self._instances(outputs, meta)
        return [sample]

    def _prompts_of(self, sample: DetDataSample, size) -> Dict[int, Prompt]:
        gt = sample.get('gt_instances')
        if gt is None or len(gt) == 0 or 'masks' not in gt:
            return {}
        masks = pad_masks(gt.masks, size).to(self.network.no_mem_embed.device)
        ids = gt.instance_ids.tolist() if 'instance_ids' in gt else list(range(1, len(gt) + 1))
        if 'labels' in gt:
            self._labels.update(zip(ids, gt.labels.tolist()))
        return {int(i): Prompt(mask=masks[k].bool()) for k, i in enumerate(ids)}

    def _instances(self, outputs: Dict[int, FrameOutput], meta: dict) -> InstanceData:
        height, width = meta.get('img_shape', self._stream.image_size)[:2]
        ids, masks, boxes, scores = results_at_original_size(
            outputs, img_shape=(height, width), original_size=meta.get('ori_shape', (height, width))[:2])
        return InstanceData(masks=masks, bboxes=boxes, scores=scores, instance_ids=torch.tensor(ids, dtype=torch.long),
                            labels=torch.tensor([self._labels.get(i, 0) for i in ids], dtype=torch.long))


def results_at_original_size(outputs: Dict[int, FrameOutput], *, img_shape, original_size):
    """(ids, masks bool [n, H, W], boxes [n, 4], presence scores [n]) at the original
    image size, from outputs on the padded input whose image part is ``img_shape``."""
    ids = sorted(outputs)
    if not ids:
        return ids, torch.zeros(0, *original_size, dtype=torch.bool), torch.zeros(0, 4), torch.zeros(0)
    height, width = img_shape
    logits = torch.cat([outputs[i].masks for i in ids])[:, :, :height, :width]
    logits = F.interpolate(logits, size=tuple(original_size), mode='bilinear', align_corners=False)
    masks = (logits[:, 0] > 0).cpu()
    scores = torch.sigmoid(torch.cat([outputs[i].object_logits for i in ids])[:, 0]).cpu()
    return ids, masks, boxes_of(masks), scores


def truth_as_memory(output: FrameOutput, truth: torch.Tensor) -> FrameOutput:
    """``output`` with its mask and presence replaced by the ground truth [H, W] (as logits),
    for remembering; its pointer is kept."""
    logits = (truth.float() * MASK_INPUT_SCALE + MASK_INPUT_BIAS)[None, None]
    present = output.object_logits.new_full((1, 1), MASK_INPUT_SCALE + MASK_INPUT_BIAS if truth.any()
                                            else MASK_INPUT_BIAS)
    return dataclasses.replace(output, masks=logits, object_logits=present)


def select_frame(frames: FrameFeatures, index: int) -> FrameFeatures:
    return FrameFeatures(features=frames.features[index:index + 1], pos=frames.pos[index:index + 1],
                         high_res=[x[index:index + 1] for x in frames.high_res])


def pad_masks(masks, size) -> torch.Tensor:
    """[n, h, w] masks (tensor or array) zero-padded at the bottom/right to ``size``."""
    masks = torch.as_tensor(masks)
    height, width = size
    if masks.shape[-2] > height or masks.shape[-1] > width:
        raise ValueError(f'masks of size {list(masks.shape[-2:])} are larger than the input {list(size)}')
    return F.pad(masks.float(), (0, width - masks.shape[-1], 0, height - masks.shape[-2]))


def boxes_of(masks: torch.Tensor) -> torch.Tensor:
    """xyxy boxes [n, 4] of boolean masks [n, H, W]; an empty mask gets zeros."""
    boxes = torch.zeros(len(masks), 4)
    filled = masks.flatten(1).any(1)
    if filled.any():
        boxes[filled] = masks_to_boxes(masks[filled]).float()
        boxes[filled, 2:] += 1   # masks_to_boxes gives the last pixel; boxes end past it
    return boxes


def frame_losses(output: FrameOutput, truth: torch.Tensor, *, mask_weight: float = LOSS_WEIGHTS['mask']
                 ) -> Dict[str, torch.Tensor]:
    """SAM 2's per-object losses on one frame. Mask, dice and IoU terms only when the
    object is present; the mask terms use the candidate closest to the truth."""
    present = truth.any()
    presence = F.binary_cross_entropy_with_logits(output.object_logits.reshape(()), present.float())
    zero = presence.new_zeros(())
    if not present:
        return dict(mask=zero, dice=zero, iou=zero, presence=presence)
    candidates = output.candidates[0]                                    # [M, H, W] logits
    target = truth[None].expand_as(candidates).float()
    focal = sigmoid_focal_loss(candidates, target, alpha=0.25, gamma=2.0, reduction='none').flatten(1).mean(1)
    probs = candidates.sigmoid().flatten(1)
    dice = 1 - (2 * (probs * target.flatten(1)).sum(1) + 1) / (probs.sum(1) + target.flatten(1).sum(1) + 1)
    best = int((mask_weight * focal + dice).argmin())
    predicted = candidates.detach() > 0
    intersection = (predicted & truth.bool()).flatten(1).sum(1).float()
    union = (predicted | truth.bool()).flatten(1).sum(1).float()
    actual_iou = torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))
    iou = F.l1_loss(output.ious[0], actual_iou)
    return dict(mask=focal[best], dice=dice[best], iou=iou, presence=presence)
