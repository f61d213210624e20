"""Faster R-CNN as an mmengine model: backbone (+ neck), RPN, RoI head."""
from __future__ import annotations

from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from vmem.registry import MODELS
from vmem.structures import DetDataSample, TrackDataSample

Sample = Union[DetDataSample, TrackDataSample]


@MODELS.register_module()
class FasterRCNN(BaseModel):
    """Two-stage detector; the base that memory-based video detectors extend.

    ``forward(inputs, data_samples, mode)`` with ``inputs`` [N, 3, H, W] from
    ``DetDataPreprocessor``: ``'loss'`` returns named losses, ``'predict'`` the key frames'
    ``DetDataSample`` with ``pred_instances`` (bboxes xyxy in original-image coordinates,
    scores, 0-based labels), ``'tensor'`` the raw head outputs. Clip samples
    (``TrackDataSample``) are reduced to their key frame; ``ref_inputs`` (reference
    frames) are accepted and ignored here, for subclasses that use them.
    """

    def __init__(self, *, backbone: dict, rpn_head: dict, roi_head: dict, neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg=None):
        # built here with vmem's registry so that no default scope is needed
        preprocessor = MODELS.build(data_preprocessor or dict(type='DetDataPreprocessor'))
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.rpn_head = MODELS.build(rpn_head)
        self.roi_head = MODELS.build(roi_head)

    # -- features ---------------------------------------------------------------------------
    def extract_feat(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Feature maps keyed '0', '1', ... (finest first), as torchvision's heads expect."""
        features = self.backbone(inputs)
        if self.neck is not None:
            features = self.neck(features)
        return OrderedDict((str(i), feature) for i, feature in enumerate(features))

    @staticmethod
    def key_samples(data_samples: Sequence[Sample]) -> List[DetDataSample]:
        keys = []
        for index, sample in enumerate(data_samples):
            if isinstance(sample, TrackDataSample):
                sample = sample.key_frames[0]
            if not isinstance(sample, DetDataSample):
                raise TypeError(f'data_samples[{index}] must be a DetDataSample or TrackDataSample, '
                                f'got {type(sample).__name__}')
            keys.append(sample)
        return keys

    @staticmethod
    def _shapes(inputs: torch.Tensor, samples: Optional[List[DetDataSample]]
                ) -> Tuple[Tuple[int, int], List[Tuple[int, int]]]:
        batch_shape = tuple(inputs.shape[-2:])
        if samples is None:
            return batch_shape, [batch_shape] * len(inputs)
        return batch_shape, [tuple(s.metainfo.get('img_shape', batch_shape))[:2] for s in samples]

    # -- modes ------------------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, data_samples: Optional[Sequence[Sample]] = None,
                mode: str = 'tensor', ref_inputs: Optional[torch.Tensor] = None):
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != 4:
            raise TypeError('FasterRCNN expects inputs as one [N, 3, H, W] tensor (run the data through '
                            f'DetDataPreprocessor), got {getattr(inputs, "shape", type(inputs).__name__)}')
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: torch.Tensor, data_samples: Sequence[Sample]) -> Dict[str, torch.Tensor]:
        if data_samples is None:
            raise ValueError("mode='loss' needs data_samples with gt_instances")
        samples = self.key_samples(data_samples)
        batch_shape, image_sizes = self._shapes(inputs, samples)
        gt_boxes, gt_labels = ground_truth(samples, inputs.device)
        features = self.extract_feat(inputs)
        proposals, losses = self.rpn_head(features, inputs, image_sizes, gt_boxes)
        losses.update(self.roi_head.loss(features, proposals, batch_shape, gt_boxes, gt_labels))
        return losses

    def predict(self, inputs: torch.Tensor, data_samples: Optional[Sequence[Sample]] = None
                ) -> List[DetDataSample]:
        samples = self.key_samples(data_samples) if data_samples is not None else \
            [DetDataSample(metainfo={'img_shape': tuple(inputs.shape[-2:])}) for _ in range(len(inputs))]
        features, proposals, batch_shape, image_sizes = self.propose(inputs, samples)
        detections = self._detect(features, proposals, batch_shape, image_sizes, samples)
        for sample, (boxes, scores, labels) in zip(samples, detections):
            sample.pred_instances = InstanceData(bboxes=to_original_image(boxes, sample.metainfo),
                                                 scores=scores, labels=labels)
        return samples

    def propose(self, inputs: torch.Tensor, samples: Optional[List[DetDataSample]] = None
                ) -> Tuple[Dict[str, torch.Tensor], List[torch.Tensor], Tuple[int, int], List[Tuple[int, int]]]:
        """Feature maps, RPN proposals per image (xyxy in input coordinates), the padded
        batch shape and each image's size, without training targets: inference's first
        half, for tools that read the RoI head's input."""
        batch_shape, image_sizes = self._shapes(inputs, samples)
        features = self.extract_feat(inputs)
        proposals, _ = self.rpn_head(features, inputs, image_sizes)
        return features, proposals, batch_shape, image_sizes

    def _detect(self, features, proposals, batch_shape, image_sizes, samples: List[DetDataSample]):
        """The RoI head's detections per image; where subclasses add what the frames' memory says."""
        return self.roi_head.predict(features, proposals, batch_shape, image_sizes)

    @torch.no_grad()
    def detections_with_features(self, inputs: torch.Tensor, data_samples: Optional[Sequence[Sample]] = None
                                 ) -> List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Single-frame detections per image (boxes xyxy in input coordinates, scores,
        labels) with the box-head features of each detected box, pooled again at the box
        itself: what Context R-CNN stores about a frame."""
        samples = self.key_samples(data_samples) if data_samples is not None else None
        features, proposals, batch_shape, image_sizes = self.propose(inputs, samples)
        detections = self.roi_head.predict(features, proposals, batch_shape, image_sizes)
        return [(boxes, scores, labels, feats) for (boxes, scores, labels), feats in
                zip(detections, self.box_features(features, [d[0] for d in detections], batch_shape))]

    def box_features(self, features: Dict[str, torch.Tensor], boxes: List[torch.Tensor],
                     batch_shape: Tuple[int, int]) -> List[torch.Tensor]:
        """Box-head output [n, fc_channels] for given boxes per image (no memory context)."""
        if sum(len(b) for b in boxes) == 0:
            width = self.roi_head.box_head.out_channels
            return [features['0'].new_zeros(0, width) for _ in boxes]
        roi_features, rois = self.roi_head.pool(features, boxes, batch_shape)
        return list(self.roi_head.box_head(roi_features, rois, None).split([len(b) for b in boxes]))

    def _forward(self, inputs: torch.Tensor, data_samples: Optional[Sequence[Sample]] = None) -> dict:
        samples = self.key_samples(data_samples) if data_samples is not None else None
        batch_shape, image_sizes = self._shapes(inputs, samples)
        features = self.extract_feat(inputs)
        was_training = self.rpn_head.training
        self.rpn_head.eval()  # proposals only: no targets, test-time top-n
        try:
            proposals, _ = self.rpn_head(features, inputs, image_sizes)
        finally:
            self.rpn_head.train(was_training)
        cls_scores, bbox_deltas = self.roi_head(features, proposals, batch_shape)
        return {'features': tuple(features.values()), 'proposals': proposals,
                'cls_scores': cls_scores, 'bbox_deltas': bbox_deltas}


def to_original_image(boxes: torch.Tensor, metainfo: dict) -> torch.Tensor:
    """Undo test-time flip (in the transformed image) and resize; clip to ``ori_shape``."""
    boxes = boxes.clone()
    if metainfo.get('flip'):
        height, width = metainfo['img_shape'][:2]
        direction = metainfo.get('flip_direction') or 'horizontal'
        if direction not in ('horizontal', 'vertical', 'diagonal'):
            raise ValueError(f'unknown flip_direction {direction!r} in metainfo')
        if direction in ('horizontal', 'diagonal'):
            boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
        if direction in ('vertical', 'diagonal'):
            boxes[:, [1, 3]] = height - boxes[:, [3, 1]]
    w_scale, h_scale = metainfo.get('scale_factor', (1.0, 1.0))
    boxes[:, 0::2] /= w_scale
    boxes[:, 1::2] /= h_scale
    if 'ori_shape' in metainfo:
        height, width = metainfo['ori_shape'][:2]
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    return boxes


def ground_truth(samples: Sequence[DetDataSample], device: torch.device, what: str = 'data_samples'
                 ) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
    """Ground-truth boxes [n, 4] and labels [n] per sample, on ``device``."""
    boxes, labels = [], []
    for index, sample in enumerate(samples):
        gt = sample.get('gt_instances')
        if gt is None or 'bboxes' not in gt or 'labels' not in gt:
            raise ValueError(f'{what}[{index}] has no gt_instances with bboxes and labels')
        boxes.append(gt.bboxes.to(device, torch.float32).reshape(-1, 4))
        labels.append(gt.labels.to(device, torch.int64).reshape(-1))
    return boxes, labels
