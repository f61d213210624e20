"""Faster R-CNN's second stage: RoIAlign, a box head, classification and box regression."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn
from torchvision.models.detection._utils import BalancedPositiveNegativeSampler, BoxCoder, Matcher
from torchvision.ops import MultiScaleRoIAlign, batched_nms, box_iou, clip_boxes_to_image, remove_small_boxes

from vmem.registry import MODELS

Detections = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # boxes xyxy, scores, labels


@MODELS.register_module()
class StandardRoIHead(BaseModule):
    """Pools proposals, runs ``box_head`` (e.g. ``TwoFCBoxHead``) and a box predictor.

    Labels are 0-based; class ``num_classes`` is background (mmdet's convention). The
    predictor gives ``num_classes + 1`` logits and class-specific deltas for the
    ``num_classes`` foreground classes. ``context`` (any dict) is handed to the box head's
    ``enhance`` hook untouched, so memory models can pass reference frames or banks.

    Args:
        featmap_names: feature levels to pool from ('0' for a single DC5 map; '0'..'3' for
            FPN without its pool level).
        fg_iou_thresh/bg_iou_thresh: IoU with a ground-truth box above/below which a
            proposal is foreground/background; ``batch_size_per_image`` proposals are
            sampled per image with ``positive_fraction`` foreground.
        score_thr, nms_thresh, max_per_img: test-time post-processing per image.
        extra_class_logits: logits after the background one, for classes that are never
            reported. They take part in the softmax, so the scores equal those of a predictor
            trained with them (torchvision's COCO predictor keeps 10 logits for unused 'N/A'
            category ids); training pushes them down like any wrong class.
    """

    def __init__(self, *, num_classes: int, box_head: dict, featmap_names: Sequence[str] = ('0',),
                 roi_size: int = 7, sampling_ratio: int = 2, fg_iou_thresh: float = 0.5,
                 bg_iou_thresh: float = 0.5, batch_size_per_image: int = 512, positive_fraction: float = 0.25,
                 bbox_reg_weights: Sequence[float] = (10.0, 10.0, 5.0, 5.0), loss_bbox_beta: float = 1.0,
                 score_thr: float = 0.05, nms_thresh: float = 0.5, max_per_img: int = 100,
                 min_box_size: float = 1e-2, extra_class_logits: int = 0, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        if extra_class_logits < 0:
            raise ValueError(f'extra_class_logits must be >= 0, got {extra_class_logits}')
        self.num_classes = num_classes
        self.extra_class_logits = extra_class_logits
        self.roi_align = MultiScaleRoIAlign(list(featmap_names), roi_size, sampling_ratio)
        box_head = dict(box_head)
        box_head.setdefault('roi_size', roi_size)
        self.box_head = MODELS.build(box_head)
        if not hasattr(self.box_head, 'out_channels'):
            raise TypeError(f'box_head {type(self.box_head).__name__} must expose out_channels')
        self.fc_cls = nn.Linear(self.box_head.out_channels, num_classes + 1 + extra_class_logits)
        self.fc_reg = nn.Linear(self.box_head.out_channels, num_classes * 4)
        nn.init.normal_(self.fc_cls.weight, std=0.01)
        nn.init.normal_(self.fc_reg.weight, std=0.001)
        nn.init.zeros_(self.fc_cls.bias)
        nn.init.zeros_(self.fc_reg.bias)
        self.matcher = Matcher(fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=False)
        self.sampler = BalancedPositiveNegativeSampler(batch_size_per_image, positive_fraction)
        self.box_coder = BoxCoder(tuple(bbox_reg_weights))
        self.loss_bbox_beta = loss_bbox_beta
        self.score_thr, self.nms_thresh, self.max_per_img = score_thr, nms_thresh, max_per_img
        self.min_box_size = min_box_size

    # -- shared by training and testing ---------------------------------------------------
    def pool(self, features: Dict[str, torch.Tensor], proposals: List[torch.Tensor],
             batch_shape: Tuple[int, int]) -> Tuple[torch.Tensor, torch.Tensor]:
        """RoIAlign features [K, C, S, S] and the rois [K, 5] (batch index, xyxy) they came from."""
        # the padded batch shape makes the feature strides exact powers of two
        roi_features = self.roi_align(features, proposals, [tuple(batch_shape)] * len(proposals))
        batch_index = torch.cat([torch.full((len(p), 1), float(i), device=p.device, dtype=p.dtype)
                                 for i, p in enumerate(proposals)])
        return roi_features, torch.cat([batch_index, torch.cat(proposals)], dim=1)

    def forward(self, features: Dict[str, torch.Tensor], proposals: List[torch.Tensor],
                batch_shape: Tuple[int, int], context: Optional[dict] = None
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Class logits [K, num_classes + 1 (+ extra_class_logits)] and box deltas [K, num_classes * 4]."""
        roi_features, rois = self.pool(features, proposals, batch_shape)
        x = self.box_head(roi_features, rois, context)
        return self.fc_cls(x), self.fc_reg(x)

    # -- training -------------------------------------------------------------------------
    def sample_proposals(self, proposals: List[torch.Tensor], gt_boxes: List[torch.Tensor],
                         gt_labels: List[torch.Tensor]
                         ) -> Tuple[List[torch.Tensor], List[torch.Tensor], List[torch.Tensor]]:
        """Per image: sampled proposals (ground truth included), their labels, box targets."""
        sampled, labels, targets = [], [], []
        for boxes, gt, gt_cls in zip(proposals, gt_boxes, gt_labels):
            boxes = torch.cat([boxes, gt.to(boxes.dtype)])  # gt boxes are perfect positives
            if len(gt) == 0:
                matched = torch.full((len(boxes),), Matcher.BELOW_LOW_THRESHOLD, device=boxes.device)
            else:
                matched = self.matcher(box_iou(gt, boxes))
            gt_index = matched.clamp(min=0)
            image_labels = gt_cls[gt_index] if len(gt) else torch.zeros_like(matched)
            image_labels = torch.where(matched >= 0, image_labels, torch.full_like(image_labels, self.num_classes))
            # sampler convention: >=1 positive, 0 negative, -1 ignored
            indicator = torch.where(matched >= 0, 1, 0)
            indicator[matched == Matcher.BETWEEN_THRESHOLDS] = -1
            positive, negative = self.sampler([indicator])
            keep = torch.where(positive[0] | negative[0])[0]
            matched_gt = gt[gt_index[keep]] if len(gt) else torch.zeros_like(boxes[keep])
            sampled.append(boxes[keep])
            labels.append(image_labels[keep])
            targets.append(self.box_coder.encode_single(matched_gt, boxes[keep]))
        return sampled, labels, targets

    def loss(self, features: Dict[str, torch.Tensor], proposals: List[torch.Tensor],
             batch_shape: Tuple[int, int], gt_boxes: List[torch.Tensor], gt_labels: List[torch.Tensor],
             context: Optional[dict] = None) -> Dict[str, torch.Tensor]:
        for index, labels in enumerate(gt_labels):
            if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
                raise ValueError(f'image {index} of the batch has gt labels outside 0..{self.num_classes - 1}: '
                                 f'{labels.unique().tolist()} (num_classes={self.num_classes})')
        sampled, labels, targets = self.sample_proposals(proposals, gt_boxes, gt_labels)
        cls_scores, bbox_deltas = self(features, sampled, batch_shape, context)
        labels, targets = torch.cat(labels), torch.cat(targets)
        positive = torch.where(labels < self.num_classes)[0]
        deltas = bbox_deltas.view(len(labels), self.num_classes, 4)[positive, labels[positive]]
        loss_bbox = F.smooth_l1_loss(deltas, targets[positive], beta=self.loss_bbox_beta, reduction='sum')
        with torch.no_grad():
            accuracy = (cls_scores.argmax(1) == labels).float().mean() * 100
        return {'loss_cls': F.cross_entropy(cls_scores, labels),
                'loss_bbox': loss_bbox / max(len(labels), 1), 'acc': accuracy}

    # -- testing --------------------------------------------------------------------------
    def predict(self, features: Dict[str, torch.Tensor], proposals: List[torch.Tensor],
                batch_shape: Tuple[int, int], image_sizes: List[Tuple[int, int]],
                context: Optional[dict] = None) -> List[Detections]:
        """Per image (boxes xyxy in input coordinates, scores, 0-based labels), best first."""
        cls_scores, bbox_deltas = self(features, proposals, batch_shape, context)
        return self.postprocess(cls_scores, bbox_deltas, proposals, image_sizes)

    def postprocess(self, cls_scores: torch.Tensor, bbox_deltas: torch.Tensor, proposals: List[torch.Tensor],
                    image_sizes: List[Tuple[int, int]]) -> List[Detections]:
        probs = F.softmax(cls_scores, dim=-1)[:, :self.num_classes]
        boxes = self.box_coder.decode(bbox_deltas, proposals)  # [K, num_classes, 4]
        results = []
        for image_probs, image_boxes, size in zip(probs.split([len(p) for p in proposals]),
                                                  boxes.split([len(p) for p in proposals]), image_sizes):
            image_boxes = clip_boxes_to_image(image_boxes, tuple(size)).reshape(-1, 4)
            scores = image_probs.reshape(-1)
            labels = torch.arange(self.num_classes, device=scores.device).repeat(len(image_probs))
            keep = torch.where(scores > self.score_thr)[0]
            keep = keep[remove_small_boxes(image_boxes[keep], self.min_box_size)]
            keep = keep[batched_nms(image_boxes[keep], scores[keep], labels[keep], self.nms_thresh)]
            keep = keep[:self.max_per_img]  # batched_nms sorts by score
            results.append((image_boxes[keep], scores[keep], labels[keep]))
        return results
