"""Region proposal network: torchvision's RPN with mmdet-style config and loss names."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.rpn import RegionProposalNetwork
from torchvision.models.detection.rpn import RPNHead as TorchvisionRPNConvHead

from vmem.registry import MODELS


@MODELS.register_module()
class RPNHead(BaseModule):
    """Anchors, objectness/box-delta convs, proposal selection and RPN losses.

    Args:
        in_channels: channels of every input feature map.
        anchor_sizes: per feature level, anchor sizes in input pixels, e.g. ``((64, 128, 256,
            512),)`` for one stride-16 map or ``((32,), (64,), (128,), (256,), (512,))`` for FPN.
        aspect_ratios: per level (or one tuple reused for every level), height / width.
        pre_nms_top_n_*/post_nms_top_n_*: proposals kept per level before NMS and per image
            after it, in training and in testing (the VID papers test with 300).
    """

    def __init__(self, *, in_channels: int, anchor_sizes: Sequence[Sequence[int]] = ((64, 128, 256, 512),),
                 aspect_ratios: Sequence[Sequence[float]] = ((0.5, 1.0, 2.0),), num_convs: int = 1,
                 pre_nms_top_n_train: int = 6000, post_nms_top_n_train: int = 600,
                 pre_nms_top_n_test: int = 6000, post_nms_top_n_test: int = 300, nms_thresh: float = 0.7,
                 fg_iou_thresh: float = 0.7, bg_iou_thresh: float = 0.3, batch_size_per_image: int = 256,
                 positive_fraction: float = 0.5, min_score: float = 0.0, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        anchor_sizes = tuple(tuple(int(s) for s in level) for level in anchor_sizes)
        aspect_ratios = tuple(tuple(float(r) for r in level) for level in aspect_ratios)
        if len(aspect_ratios) == 1 and len(anchor_sizes) > 1:
            aspect_ratios = aspect_ratios * len(anchor_sizes)
        if len(aspect_ratios) != len(anchor_sizes):
            raise ValueError(f'aspect_ratios has {len(aspect_ratios)} levels but anchor_sizes has '
                             f'{len(anchor_sizes)}; give one per level or a single one for all')
        num_anchors = {len(s) * len(r) for s, r in zip(anchor_sizes, aspect_ratios)}
        if len(num_anchors) != 1:
            raise ValueError('every level needs the same number of anchors (sizes x ratios) because '
                             f'the conv head is shared, got sizes={anchor_sizes}, ratios={aspect_ratios}')
        self.num_levels = len(anchor_sizes)
        self.rpn = RegionProposalNetwork(
            AnchorGenerator(anchor_sizes, aspect_ratios),
            TorchvisionRPNConvHead(in_channels, num_anchors.pop(), conv_depth=num_convs),
            fg_iou_thresh=fg_iou_thresh, bg_iou_thresh=bg_iou_thresh,
            batch_size_per_image=batch_size_per_image, positive_fraction=positive_fraction,
            pre_nms_top_n=dict(training=pre_nms_top_n_train, testing=pre_nms_top_n_test),
            post_nms_top_n=dict(training=post_nms_top_n_train, testing=post_nms_top_n_test),
            nms_thresh=nms_thresh, score_thresh=min_score)

    def forward(self, features: Dict[str, torch.Tensor], batch_inputs: torch.Tensor,
                image_sizes: List[Tuple[int, int]], gt_boxes: Optional[List[torch.Tensor]] = None
                ) -> Tuple[List[torch.Tensor], Dict[str, torch.Tensor]]:
        """Proposals (xyxy, input coordinates, one tensor per image) and, in training, losses.

        ``image_sizes`` are the unpadded (h, w) of each image; proposals are clipped to them.
        """
        if len(features) != self.num_levels:
            raise ValueError(f'RPNHead has anchors for {self.num_levels} feature levels but got '
                             f'{len(features)}; set anchor_sizes to one tuple per level')
        targets = None
        if self.training:
            if gt_boxes is None:
                raise ValueError('RPNHead needs gt_boxes in training mode')
            targets = [{'boxes': boxes} for boxes in gt_boxes]
        proposals, losses = self.rpn(ImageList(batch_inputs, list(image_sizes)), features, targets)
        renamed = {}
        if losses:
            renamed = {'loss_rpn_cls': losses['loss_objectness'], 'loss_rpn_bbox': losses['loss_rpn_box_reg']}
        return proposals, renamed
