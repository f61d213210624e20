"""MAMBA: Faster R-CNN enhanced by pixel- and instance-level memory banks of the video."""
from __future__ import annotations

import copy
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData

from vmem.models.memory import STEP_KEY, MemoryStep, StreamMemory
from vmem.registry import MODELS
from vmem.structures import DetDataSample, TrackDataSample

from .faster_rcnn import FasterRCNN, Sample, ground_truth, to_original_image

INFERENCE_MODES = ('online', 'offline')
TRAIN_PIXEL_WRITES = ('ground_truth', 'detections')


@MODELS.register_module()
class MAMBA(FasterRCNN):
    """Multi-level aggregation via memory banks (Sun et al., AAAI 2021) on `FasterRCNN`.

    - ``pixel_memory`` (a `PixelMemory` config, ``dim`` defaults to the RPN's input
      channels): the feature map is enhanced by GEO over a bank of cells before the RPN and
      the RoI head; cells of confident detections are written after each frame.
    - ``instance_memory`` (an `InstanceMemory` config, ``dim`` defaults to the box head's
      ``fc_channels``): one memory after each fc layer of the box head, reading a key set
      of stored proposal features and storing each frame's top proposals.

    Either may be None (instance-only, pixel-only; neither gives the single-frame detector).
    ``score_memory`` (a `ScoreMemory` config; not in the paper, default None) keeps the
    last frames' detections and smooths each new detection's score with those of the
    same class at the same place; it works with or without the other two memories.
    A SELSA-style baseline is an ``instance_memory`` with ``write_policy='FIFO'``,
    ``key_set='all'`` and a capacity of (references x proposals per frame).

    Training (``mode='loss'`` on clips: key frame + reference frames): each clip of the
    batch gets its own, emptied memory stream; the reference frames go through the
    detector in temporal order under ``torch.no_grad`` and fill it, then the key frames are
    enhanced by it and supervised as in Faster R-CNN.

    Prediction takes one frame per call, the frames of a video in order. Memory is the
    state of the current video: it is emptied when ``video_id`` changes, at ``frame_id``
    0 and for images that are not video frames (``is_video_data=False``); frames without
    a ``video_id`` (a webcam) form one stream until ``reset_memory()``. ``'online'``:
    a frame reads memory built from past frames only, then its own features are written
    (reference frames in the input are ignored). ``'offline'``: reference frames given
    with a frame (``test_with_adaptive_stride`` gives frame 0 frames spread over the whole
    video) are written first; processed frames are written too unless
    ``write_frames_offline=False`` (SELSA's protocol: memory = the references only).
    ``mode='tensor'`` runs without memory. Memory never goes into ``state_dict``.

    ``train_pixel_writes``: what the references write to the pixel memory in training.
    ``'ground_truth'``: the cells of their ground-truth boxes (score 1), so the pixel GEO
    learns from the first iteration; ``'detections'``: their detections, thresholded as
    at inference, so training reads the memory that testing will (empty until the
    detector is confident).
    """

    def __init__(self, *, backbone: dict, rpn_head: dict, roi_head: dict, neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, instance_memory: Optional[dict] = None,
                 pixel_memory: Optional[dict] = None, inference_mode: str = 'online',
                 write_frames_offline: bool = True, train_pixel_writes: str = 'ground_truth',
                 score_memory: Optional[dict] = None, init_cfg=None):
        if inference_mode not in INFERENCE_MODES:
            raise ValueError(f'inference_mode must be one of {INFERENCE_MODES}, got {inference_mode!r}')
        if train_pixel_writes not in TRAIN_PIXEL_WRITES:
            raise ValueError(f'train_pixel_writes must be one of {TRAIN_PIXEL_WRITES}, got {train_pixel_writes!r}')
        super().__init__(backbone=backbone, neck=neck, rpn_head=rpn_head,
                         roi_head=with_instance_memory(roi_head, instance_memory),
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.pixel_memory = None
        if pixel_memory is not None:
            config = dict(pixel_memory)
            config.setdefault('type', 'PixelMemory')
            config.setdefault('dim', rpn_head['in_channels'])
            self.pixel_memory = MODELS.build(config)
        self.score_memory = None
        if score_memory is not None:
            self.score_memory = MODELS.build({'type': 'ScoreMemory', **score_memory})
        self.inference_mode = inference_mode
        self.write_frames_offline = write_frames_offline
        self.train_pixel_writes = train_pixel_writes
        self._video: Optional[tuple] = None  # (video_id,) of the frames in memory; None: nothing valid

    # -- memory state ---------------------------------------------------------------------
    @property
    def memories(self) -> List[StreamMemory]:
        return [module for module in self.modules() if isinstance(module, StreamMemory)]

    def reset_memory(self, num_streams: int = 1) -> None:
        """Empty every memory and prepare ``num_streams`` streams (one per frame of a batch)."""
        for memory in self.memories:
            memory.reset(num_streams)
        self._video = None

    def _follow_video(self, metainfo: dict) -> None:
        video = (metainfo.get('video_id'),)
        if (self._video != video or metainfo.get('frame_id') == 0
                or metainfo.get('is_video_data', True) is False):
            self.reset_memory(1)
        self._video = video

    # -- modes ----------------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, data_samples: Optional[Sequence[Sample]] = None,
                mode: str = 'tensor', ref_inputs: Optional[torch.Tensor] = None):
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 4:
            raise TypeError('MAMBA expects inputs as one [N, 3, H, W] tensor (run the data through '
                            f'DetDataPreprocessor), got {getattr(inputs, "shape", type(inputs).__name__)}')
        if ref_inputs is not None:
            check_reference_frames(inputs, ref_inputs, data_samples)
        if mode == 'loss':
            return self.loss(inputs, data_samples, ref_inputs)
        if mode == 'predict':
            return self.predict(inputs, data_samples, ref_inputs)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: torch.Tensor, data_samples: Sequence[Sample],
             ref_inputs: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        if data_samples is None:
            raise ValueError("mode='loss' needs data_samples with gt_instances")
        samples = self.key_samples(data_samples)
        gt_boxes, gt_labels = ground_truth(samples, inputs.device)
        self.reset_memory(len(inputs))
        if ref_inputs is not None and ref_inputs.shape[1]:
            with torch.no_grad():
                self._remember(ref_inputs, reference_samples(data_samples, ref_inputs),
                               use_gt=self.train_pixel_writes == 'ground_truth')
        batch_shape, image_sizes = self._shapes(inputs, samples)
        _, features = self._features(inputs)
        proposals, losses = self.rpn_head(features, inputs, image_sizes, gt_boxes)
        step = MemoryStep(write=False, frame_ids=frame_ids(samples))
        losses.update(self.roi_head.loss(features, proposals, batch_shape, gt_boxes, gt_labels,
                                         context={STEP_KEY: step}))
        self._video = None  # what training left in memory is no video's
        return losses

    def predict(self, inputs: torch.Tensor, data_samples: Optional[Sequence[Sample]] = None,
                ref_inputs: Optional[torch.Tensor] = None) -> List[DetDataSample]:
        if len(inputs) != 1:
            raise ValueError(f'MAMBA predicts one frame per call (batch_size=1, the frames of a video in '
                             f'order) because memory is per-video state; got a batch of {len(inputs)}')
        samples = self.key_samples(data_samples) if data_samples is not None else \
            [DetDataSample(metainfo={'img_shape': tuple(inputs.shape[-2:])})]
        self._follow_video(samples[0].metainfo)
        offline = self.inference_mode == 'offline'
        if offline and ref_inputs is not None and ref_inputs.shape[1]:
            self._remember(ref_inputs, reference_samples(data_samples or samples, ref_inputs), use_gt=False)
        write = not offline or self.write_frames_offline
        (boxes, scores, labels), = self._observe(inputs, samples, write=write)
        sample = samples[0]
        if self.score_memory is not None:
            scores = self._rescore(boxes, scores, labels, sample.metainfo)
        sample.pred_instances = InstanceData(bboxes=to_original_image(boxes, sample.metainfo),
                                             scores=scores, labels=labels)
        return samples

    def _rescore(self, boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                 metainfo: dict) -> torch.Tensor:
        if metainfo.get('frame_id') is None:
            raise ValueError('score_memory needs each frame\'s frame_id in its metainfo (the frames of a video '
                             'in order); got a frame without one')
        frame_id = int(metainfo['frame_id'])
        rescored = self.score_memory.rescore(boxes, scores, labels, frame_id=frame_id)
        self.score_memory.write(boxes, scores, labels, frame_id=frame_id)
        return rescored

    # -- one batch of frames through the detector ----------------------------------------
    def _features(self, inputs: torch.Tensor) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """The feature maps before and after pixel-memory enhancement."""
        raw = self.extract_feat(inputs)
        if self.pixel_memory is None:
            return raw, raw
        if len(raw) != 1:
            raise ValueError(f'pixel_memory works on one feature map (a DC5-style detector), got {len(raw)} '
                             'levels; use instance_memory only with FPN')
        return raw, {'0': self.pixel_memory.enhance(raw['0'])}

    def _proposals(self, features, inputs, image_sizes) -> List[torch.Tensor]:
        was_training = self.rpn_head.training
        if not was_training:  # inference: nothing to switch (saves a walk over its modules per frame)
            return self.rpn_head(features, inputs, image_sizes)[0]
        self.rpn_head.eval()  # test-time proposals, no targets needed
        try:
            proposals, _ = self.rpn_head(features, inputs, image_sizes)
        finally:
            self.rpn_head.train(was_training)
        return proposals

    def _observe(self, inputs: torch.Tensor, samples: List[DetDataSample], *, write: bool,
                 gt_boxes: Optional[List[torch.Tensor]] = None) -> Optional[list]:
        """Detect in frame b of ``inputs`` with stream b's memory, then (``write``) store the
        frame. Returns the detections, or None when ``gt_boxes`` replace them for writing."""
        batch_shape, image_sizes = self._shapes(inputs, samples)
        raw, features = self._features(inputs)
        proposals = self._proposals(features, inputs, image_sizes)
        step = MemoryStep(write=write, frame_ids=frame_ids(samples))
        cls_scores, bbox_deltas = self.roi_head(features, proposals, batch_shape, {STEP_KEY: step})
        detections = None
        if gt_boxes is None:
            detections = self.roi_head.postprocess(cls_scores, bbox_deltas, proposals, image_sizes)
        if not write:
            return detections
        # a proposal's score is its best foreground class probability
        step.commit(F.softmax(cls_scores.float(), dim=-1)[:, :self.roi_head.num_classes].max(dim=1).values)
        if self.pixel_memory is not None:
            if gt_boxes is not None:
                boxes, scores = gt_boxes, [torch.ones(len(b), device=inputs.device) for b in gt_boxes]
            else:
                boxes, scores = [d[0] for d in detections], [d[1] for d in detections]
            feature_map = raw['0']
            stride = (batch_shape[0] / feature_map.shape[-2], batch_shape[1] / feature_map.shape[-1])
            self.pixel_memory.write(feature_map, boxes, scores, stride=stride, frame_ids=step.frame_ids)
        return detections

    def _remember(self, ref_inputs: torch.Tensor, refs: List[List[DetDataSample]], *, use_gt: bool) -> None:
        """Write reference frames [N, R, 3, H, W] into the N streams, in temporal order.

        With ``use_gt`` (training), the pixel memory stores cells of the references'
        ground-truth boxes (score 1) instead of detections: early in training the detector
        finds nothing above the write threshold, so the pixel memory would stay empty and
        the pixel GEO would never learn to use it.
        """
        for position in range(ref_inputs.shape[1]):
            frames = [clip_refs[position] for clip_refs in refs]
            gt_boxes = None
            if use_gt:
                gt_boxes, _ = ground_truth(frames, ref_inputs.device, what='reference frame')
            self._observe(ref_inputs[:, position], frames, write=True, gt_boxes=gt_boxes)


# -- helpers --------------------------------------------------------------------------------
def with_instance_memory(roi_head: dict, instance_memory: Optional[dict]) -> dict:
    """The RoI head config with one `InstanceMemory` after each fc of its box head."""
    if instance_memory is None:
        return roi_head
    roi_head = copy.deepcopy(roi_head)
    box_head = roi_head['box_head']
    if box_head.get('aggregators') is not None:
        raise ValueError('give either instance_memory or roi_head.box_head.aggregators, not both')
    memory = dict(instance_memory)
    memory.setdefault('type', 'InstanceMemory')
    memory.setdefault('dim', box_head.get('fc_channels', 1024))
    box_head['aggregators'] = [dict(memory), dict(memory)]
    return roi_head


def frame_ids(samples: Sequence[DetDataSample]) -> List[int]:
    return [int(sample.metainfo.get('frame_id', -1)) for sample in samples]


def reference_samples(data_samples: Sequence[Sample], ref_inputs: torch.Tensor) -> List[List[DetDataSample]]:
    """Per clip, the data samples of its reference frames (the order of ``ref_inputs``).

    A plain ``DetDataSample`` with reference frames (a caller without a clip pipeline) gets
    references described by its own meta info and no ground truth."""
    refs = []
    num_refs = ref_inputs.shape[1]
    for index, sample in enumerate(data_samples):
        if isinstance(sample, TrackDataSample):
            if len(sample.ref_frames) != num_refs:
                raise ValueError(f'data_samples[{index}] has {len(sample.ref_frames)} reference frames but '
                                 f'ref_inputs has {num_refs}')
            refs.append(sample.ref_frames)
        else:
            refs.append([DetDataSample(metainfo=dict(sample.metainfo)) for _ in range(num_refs)])
    return refs


def check_reference_frames(inputs: torch.Tensor, ref_inputs: torch.Tensor,
                           data_samples: Optional[Sequence[Sample]]) -> None:
    """Reference frames must match their key frames in number of clips and size."""
    if not isinstance(ref_inputs, torch.Tensor) or ref_inputs.dim() != 5 or ref_inputs.shape[0] != len(inputs) \
            or ref_inputs.shape[2] != inputs.shape[1]:
        raise ValueError(f'ref_inputs must be [N, R, {inputs.shape[1]}, H, W] with N = {len(inputs)} clips, '
                         f'got {getattr(ref_inputs, "shape", type(ref_inputs).__name__)}')
    if ref_inputs.shape[-2:] != inputs.shape[-2:]:
        raise ValueError(f'reference frames are {tuple(ref_inputs.shape[-2:])} but the key frames are '
                         f'{tuple(inputs.shape[-2:])}: resize and pad them to one size')
    for index, sample in enumerate(data_samples or ()):
        if not isinstance(sample, TrackDataSample):
            continue
        key_shape = tuple(sample.key_frames[0].metainfo.get('img_shape', ()))[:2]
        for ref in sample.ref_frames:
            ref_shape = tuple(ref.metainfo.get('img_shape', key_shape))[:2]
            if ref_shape != key_shape:
                raise ValueError(f'clip {index}: reference frame {ref.metainfo.get("frame_id")} has img_shape '
                                 f'{ref_shape} but the key frame has {key_shape}; reference frames must be '
                                 'resized like the key frame')
