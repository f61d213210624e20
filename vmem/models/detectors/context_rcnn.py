"""Context R-CNN: Faster R-CNN whose box features attend to a per-camera long-term memory."""
from __future__ import annotations

import copy
from typing import Dict, List, Optional, Sequence

import torch

from vmem.models.memory.camera_memory import CameraMemory, CameraRead
from vmem.models.memory.context_aggregator import CONTEXT_READS_KEY, SHORT_READS_KEY
from vmem.registry import MODELS
from vmem.structures import DetDataSample

from .faster_rcnn import FasterRCNN, Sample, ground_truth

INFERENCE_MODES = ('offline', 'online')
TRAIN_EXCLUDES = ('image', 'video')
VALUES_FROM = ('entry', 'features', 'class_votes')


@MODELS.register_module()
class ContextRCNN(FasterRCNN):
    """Context R-CNN (Beery et al., CVPR 2020) on `FasterRCNN`.

    After the second fc layer of the box head, each RoI's features attend to the memory
    of its frame's camera (`ContextAttention` inside a `ContextAggregator`): entries made
    of a frozen detector's box features for the top detections of that camera's other
    frames, their boxes and times (`CameraMemory`). A frame reads its camera's entries
    within ``horizon`` of its own ``timestamp``, never its own; a camera without memory
    (an unknown one included) leaves the detector single-frame.

    - ``memory_file``: a bank built by ``tools/context_rcnn/build_memory.py`` (with the
      frozen detector, over the split being trained or tested); loaded when the model is
      built, subsampled to ``camera_memory['capacity']`` per camera.
    - ``freeze_detector=True``: only the attention and the box predictor train; backbone,
      neck, RPN and box head keep the weights they were loaded with. The memory is then
      made by the model's own (frozen) box head, so ``inference_mode='online'`` needs no
      second network: after each frame, its detections are written to its camera's bank,
      which grows as frames arrive, bounded by capacity and horizon. False trains the
      whole detector, as the paper does, against a bank from a separate frozen detector.
    - ``inference_mode='offline'``: the paper's protocol, memory = the loaded bank.
    - ``train_exclude``: what a training frame may not read besides itself: 'image' (its
      own entries only) or 'video' (every frame of its own video/sequence, so that the
      attention learns to use other visits of the camera, not the frames next to it).
      At inference a frame leaves out only its own entries.
    - ``values_from``: 'entry' (features, box and time, as in the paper), 'features'
      (values from the features only; box and time still shape the attention weights) or
      'class_votes' (values from what the frozen detector called each entry: its score at
      its label; needs ``camera_memory=dict(num_classes=...)``, the detector's classes).
    - ``short_term=dict(window=seconds, **attention settings)``: a second attention, in
      parallel, over the same camera's entries of nearby frames only (the paper's
      short-term memory, here from the same bank); the long-term one still reads everything
      within the horizon.
    - ``memory_dropout``: the chance that a training frame reads no memory at all, so the
      box predictor also learns to work without it (inference always reads memory).
    - ``rpn_attention``: None, or `ContextAttention` settings for a second block "after the
      RPN" (the paper's other position): on each proposal's pooled RoI map, before the box
      head's first fc layer, with queries from the map's spatial mean (`ContextAggregator`
      with ``on='roi_maps'``). It reads the same long-term memory, with its own weights;
      its values follow ``values_from``. Its queries live in the maps' space, not the
      entries', so ``matched_init`` cannot start it.

    Frames need ``camera`` and ``timestamp`` in their metainfo (`CocoVideoDataset` gives
    them for SynthVID and COCO Camera Traps files). A frame without a timestamp reads its
    camera's whole bank and, online, is not written.
    """

    def __init__(self, *, backbone: dict, rpn_head: dict, roi_head: dict, neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, camera_memory: Optional[dict] = None,
                 attention: Optional[dict] = None, memory_file: Optional[str] = None,
                 inference_mode: str = 'offline', freeze_detector: bool = True, train_exclude: str = 'image',
                 values_from: str = 'entry', short_term: Optional[dict] = None, memory_dropout: float = 0.0,
                 rpn_attention: Optional[dict] = None, init_cfg=None):
        for name, value, allowed in (('inference_mode', inference_mode, INFERENCE_MODES),
                                     ('train_exclude', train_exclude, TRAIN_EXCLUDES),
                                     ('values_from', values_from, VALUES_FROM)):
            if value not in allowed:
                raise ValueError(f'{name} must be one of {allowed}, got {value!r}')
        if isinstance(memory_dropout, bool) or not isinstance(memory_dropout, (int, float)) \
                or not 0 <= memory_dropout < 1:
            raise ValueError(f'memory_dropout must be a number in [0, 1), got {memory_dropout!r}')
        feature_dim = roi_head.get('box_head', {}).get('fc_channels', 1024)
        memory = CameraMemory(feature_dim=feature_dim, **(camera_memory or {}))
        if memory.num_classes not in (0, roi_head.get('num_classes')):
            raise ValueError(f"camera_memory num_classes={memory.num_classes} must be 0 (no class votes) or the "
                             f"detector's num_classes={roi_head.get('num_classes')}")
        if values_from == 'class_votes' and not memory.num_classes:
            raise ValueError("values_from='class_votes' needs a memory that stores them: "
                             "camera_memory=dict(num_classes=<the detector's classes>)")
        values = dict(entry=dict(value_dim=None), features=dict(value_dim=feature_dim),
                      class_votes=dict(value_dim=memory.num_classes, value_start=memory.votes_start))
        roi_head = copy.deepcopy(roi_head)
        short_term = None if short_term is None else dict(short_term)
        short_window = None if short_term is None else short_term.pop('window', None)
        if short_term is not None and not (isinstance(short_window, (int, float)) and short_window > 0):
            raise ValueError(f"short_term needs window=seconds > 0, got {short_window!r}")
        aggregator = dict(type='ContextAggregator', dim=feature_dim, entry_dim=memory.entry_dim,
                          short_term=short_term, **values[values_from], **(attention or {}))
        roi_head['box_head']['aggregators'] = [None, aggregator]
        if rpn_attention is not None:
            roi_head['box_head']['roi_aggregator'] = self._rpn_aggregator(
                rpn_attention, box_head=roi_head['box_head'], entry_dim=memory.entry_dim, values=values[values_from])
        super().__init__(backbone=backbone, neck=neck, rpn_head=rpn_head, roi_head=roi_head,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        # a plain attribute, not a child module: the bank is data, kept out of checkpoints
        self.__dict__['camera_memory'] = memory
        self.inference_mode = inference_mode
        self.freeze_detector = freeze_detector
        self.train_exclude = train_exclude
        self.short_term_window = short_window
        self.memory_dropout = float(memory_dropout)
        self.memory_file = memory_file
        if memory_file:
            memory.load(memory_file)
        if freeze_detector:
            trained = {'roi_head.fc_cls', 'roi_head.fc_reg', 'roi_head.box_head.aggregators',
                       'roi_head.box_head.roi_aggregator'}
            for name, param in self.named_parameters():   # (what the attention itself fixes stays fixed)
                if not any(name.startswith(prefix + '.') for prefix in trained):
                    param.requires_grad_(False)

    @staticmethod
    def _rpn_aggregator(settings: dict, *, box_head: dict, entry_dim: int, values: dict) -> dict:
        if not isinstance(settings, dict):
            raise TypeError(f'rpn_attention must be a dict of ContextAttention settings or None, '
                            f'got {type(settings).__name__}')
        if settings.get('matched_init'):
            raise ValueError('rpn_attention cannot use matched_init: its queries are pooled RoI maps, '
                             'not box-head features like the memory entries')
        if 'in_channels' not in box_head:
            raise ValueError('rpn_attention needs roi_head.box_head.in_channels (the pooled maps\' channels)')
        return dict(type='ContextAggregator', dim=box_head['in_channels'], entry_dim=entry_dim, on='roi_maps',
                    **values, **settings)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.freeze_detector:   # frozen normalisation statistics too
            for module in (self.backbone, self.neck):
                if module is not None:
                    module.eval()
        return self

    # -- memory -----------------------------------------------------------------------------
    def forget_cameras(self) -> None:
        """Forget every camera (e.g. before an online run over new data). Not called
        ``reset_memory``: a camera's memory outlives a video, so stream drivers that reset
        per-video memory leave it alone."""
        self.camera_memory.reset()

    def _reads(self, samples: Sequence[DetDataSample]) -> Dict[str, List[Optional[CameraRead]]]:
        windows = {CONTEXT_READS_KEY: None}
        if self.short_term_window is not None:
            windows[SHORT_READS_KEY] = self.short_term_window
        reads = {key: [] for key in windows}
        for sample in samples:
            meta = sample.metainfo
            whole_video = self.training and self.train_exclude == 'video'
            for key, window in windows.items():
                reads[key].append(self.camera_memory.read(
                    meta.get('camera'), timestamp=meta.get('timestamp'), exclude_image=meta.get('img_id'),
                    exclude_video=meta.get('video_id') if whole_video and window is None else None, window=window))
        return reads

    @torch.no_grad()
    def remember(self, features: Dict[str, torch.Tensor], detections, samples: Sequence[DetDataSample],
                 batch_shape) -> None:
        """Write each frame's detections (input coordinates) to its camera's memory."""
        boxes = [d[0] for d in detections]
        for sample, (found, scores, labels), feats in zip(samples, detections,
                                                          self.box_features(features, boxes, batch_shape)):
            meta = sample.metainfo
            if meta.get('camera') is None or meta.get('timestamp') is None or len(found) == 0:
                continue
            self.camera_memory.write(meta['camera'], features=feats, boxes=normalised_cxcywh(found, meta, batch_shape),
                                     scores=scores, labels=labels, timestamp=meta['timestamp'],
                                     image_id=meta.get('img_id', -1), video_id=meta.get('video_id'))

    # -- modes ------------------------------------------------------------------------------
    def loss(self, inputs: torch.Tensor, data_samples: Sequence[Sample]) -> Dict[str, torch.Tensor]:
        if data_samples is None:
            raise ValueError("mode='loss' needs data_samples with gt_instances")
        samples = self.key_samples(data_samples)
        batch_shape, image_sizes = self._shapes(inputs, samples)
        gt_boxes, gt_labels = ground_truth(samples, inputs.device)
        losses: Dict[str, torch.Tensor] = {}
        if self.freeze_detector:
            with torch.no_grad():   # frozen: its training-time proposals, no RPN losses
                features = self.extract_feat(inputs)
                proposals, _ = self.rpn_head(features, inputs, image_sizes, gt_boxes)
        else:
            features = self.extract_feat(inputs)
            proposals, losses = self.rpn_head(features, inputs, image_sizes, gt_boxes)
        context = self._reads(samples)
        if self.memory_dropout:
            dropped = (torch.rand(len(samples)) < self.memory_dropout).tolist()
            context = {key: [None if drop else read for drop, read in zip(dropped, reads)]
                       for key, reads in context.items()}
        losses.update(self.roi_head.loss(features, proposals, batch_shape, gt_boxes, gt_labels, context=context))
        return losses

    def _detect(self, features, proposals, batch_shape, image_sizes, samples: List[DetDataSample]):
        context = self._reads(samples)
        detections = self.roi_head.predict(features, proposals, batch_shape, image_sizes, context=context)
        if self.inference_mode == 'online':
            # the bank holds what the detector finds without memory, as when a bank is built
            plain = detections if all(r is None for reads in context.values() for r in reads) else \
                self.roi_head.predict(features, proposals, batch_shape, image_sizes)
            self.remember(features, plain, samples, batch_shape)
        return detections


def normalised_cxcywh(boxes: torch.Tensor, metainfo: dict, batch_shape) -> torch.Tensor:
    """xyxy boxes in input pixels -> [cx, cy, w, h] as fractions of the image."""
    height, width = metainfo.get('img_shape', batch_shape)[:2]
    scale = boxes.new_tensor([width, height, width, height])
    xyxy = boxes / scale
    return torch.cat([(xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]], dim=1)
