"""torchvision's COCO Faster R-CNN weights as vmem ``FasterRCNN`` weights.

``fasterrcnn_resnet50_fpn`` and ``fasterrcnn_resnet50_fpn_v2`` map onto the configs
``configs/faster_rcnn/faster_rcnn_r50_fpn_coco.py`` and ``..._v2_coco.py``:

- ``backbone.body.*`` -> ``backbone.body.*``: timm's ResNet-50 names its layers as
  torchvision's does. torchvision's v1 file holds ``FrozenBatchNorm2d`` buffers (weight,
  bias, running mean and variance; eps 1e-5 in its forward, as BatchNorm2d's default),
  which vmem's BatchNorm layers in eval mode compute the same way; the missing
  ``num_batches_tracked`` counters are added as 0 (eval mode never reads them).
- ``backbone.fpn.*`` -> ``neck.fpn.*`` and ``rpn.head.*`` -> ``rpn_head.rpn.head.*``: vmem
  wraps the same torchvision modules. Files saved before torchvision 0.13 name the FPN and
  RPN convs without the ``Conv2dNormActivation`` index (``inner_blocks.0.weight``,
  ``conv.weight``); torchvision renames them on loading, and so does this.
- ``roi_heads.box_head.*`` -> ``roi_head.box_head.*`` (v1: fc6, fc7 -> fc1, fc2; v2: the
  four conv blocks and the fc of ``FastRCNNConvFCHead`` -> ``ConvFCBoxHead``).
- ``roi_heads.box_predictor.*`` -> ``roi_head.fc_cls`` / ``fc_reg``. torchvision's predictor
  has 91 classes: background first, then COCO category ids 1..90, 10 of which are unused
  ('N/A'). vmem reports COCO's 80 classes (labels 0..79 in category-id order, as
  ``CocoMetric`` reads them) with background after them; the 10 'N/A' logits follow as
  ``extra_class_logits`` so the softmax, and so every score, stays torchvision's. Their
  box deltas, and the background's, are dropped: nothing reads them.
"""
from __future__ import annotations

import re
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from torch import nn

ARCHS = ('fasterrcnn_resnet50_fpn', 'fasterrcnn_resnet50_fpn_v2')

# torchvision's COCO label k is COCO category id k; these ids have no category
NA_CATEGORY_IDS = (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)
NUM_TORCHVISION_CLASSES = 91  # background + ids 1..90
COCO_CATEGORY_IDS = tuple(i for i in range(1, NUM_TORCHVISION_CLASSES) if i not in NA_CATEGORY_IDS)
COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
    'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush')

# (pattern, replacement) tried in order; the first match renames a key
_Rule = Tuple[str, str]
_COMMON_RULES: List[_Rule] = [
    (r'backbone\.body\.(.+)', r'backbone.body.\1'),
    (r'backbone\.fpn\.(inner_blocks|layer_blocks)\.(\d+)\.(weight|bias)', r'neck.fpn.\1.\2.0.\3'),  # < 0.13
    (r'backbone\.fpn\.(.+)', r'neck.fpn.\1'),
    (r'rpn\.head\.conv\.(weight|bias)', r'rpn_head.rpn.head.conv.0.0.\1'),  # < 0.13
    (r'rpn\.head\.(.+)', r'rpn_head.rpn.head.\1'),
]
_BOX_HEAD_RULES: Dict[str, List[_Rule]] = {
    'fasterrcnn_resnet50_fpn': [
        (r'roi_heads\.box_head\.fc6\.(weight|bias)', r'roi_head.box_head.fc1.\1'),
        (r'roi_heads\.box_head\.fc7\.(weight|bias)', r'roi_head.box_head.fc2.\1')],
    # FastRCNNConvFCHead is a Sequential: 4 Conv2dNormActivation blocks, Flatten, Linear, ReLU
    'fasterrcnn_resnet50_fpn_v2': [
        (r'roi_heads\.box_head\.([0-3])\.([01])\.(.+)', r'roi_head.box_head.convs.\1.\2.\3'),
        (r'roi_heads\.box_head\.5\.(weight|bias)', r'roi_head.box_head.fcs.0.\1')],
}
_PREDICTOR = {'roi_heads.box_predictor.cls_score.weight': 'roi_head.fc_cls.weight',
              'roi_heads.box_predictor.cls_score.bias': 'roi_head.fc_cls.bias',
              'roi_heads.box_predictor.bbox_pred.weight': 'roi_head.fc_reg.weight',
              'roi_heads.box_predictor.bbox_pred.bias': 'roi_head.fc_reg.bias'}


def convert_state_dict(state: Mapping[str, torch.Tensor], *, arch: str) -> Dict[str, torch.Tensor]:
    """vmem ``FasterRCNN`` weights from a torchvision detector's ``state_dict``.

    Raises ``ValueError`` listing every key no rule knows (another architecture, a model
    with other heads) and when the predictor is not torchvision's 91-way COCO one.
    """
    if arch not in ARCHS:
        raise ValueError(f'arch must be one of {ARCHS}, got {arch!r}')
    rules = [(re.compile(pattern), replacement) for pattern, replacement in
             _COMMON_RULES + _BOX_HEAD_RULES[arch]]
    converted, unknown = {}, []
    for key, value in state.items():
        if key in _PREDICTOR:
            converted[_PREDICTOR[key]] = _predictor_rows(key, value)
            continue
        for pattern, replacement in rules:
            if pattern.fullmatch(key):
                converted[pattern.sub(replacement, key)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f'{len(unknown)} keys of the file are not part of torchvision\'s {arch}: '
                         f'{", ".join(sorted(unknown))}')
    _add_batch_counters(converted)
    return converted


def _predictor_rows(key: str, value: torch.Tensor) -> torch.Tensor:
    per_class = 4 if 'bbox_pred' in key else 1
    if value.shape[0] != NUM_TORCHVISION_CLASSES * per_class:
        raise ValueError(f'{key} has {value.shape[0]} rows; torchvision\'s COCO predictor has '
                         f'{NUM_TORCHVISION_CLASSES * per_class} ({NUM_TORCHVISION_CLASSES} classes with '
                         'background): a model fine-tuned to other classes is not a COCO detector')
    if per_class == 1:  # vmem: the 80 classes, background, then the 'N/A' logits
        rows = list(COCO_CATEGORY_IDS) + [0] + list(NA_CATEGORY_IDS)
    else:
        rows = [4 * label + i for label in COCO_CATEGORY_IDS for i in range(4)]
    return value[rows].clone()


def _add_batch_counters(state: Dict[str, torch.Tensor]) -> None:
    # FrozenBatchNorm2d has no counter; BatchNorm2d's (only used with momentum=None) must exist
    for key in [k for k in state if k.endswith('.running_mean')]:
        counter = key[:-len('running_mean')] + 'num_batches_tracked'
        state.setdefault(counter, torch.tensor(0, dtype=torch.long))


def check_against_model(converted: Mapping[str, torch.Tensor], model: nn.Module, *, arch: str) -> None:
    """Raise ``ValueError`` listing the keys of ``model`` the converted file lacks, those it
    has and the model does not, and shape differences (a config of another architecture)."""
    from vmem.utils.weights_loading import compare_state_dicts
    mismatch = compare_state_dicts(model.state_dict(), dict(converted))
    if mismatch:
        raise ValueError(f'torchvision {arch} weights do not fit the model:\n{mismatch.describe()}')


def torchvision_to_vmem(state: Mapping[str, torch.Tensor], *, arch: str,
                        model: Optional[nn.Module] = None) -> dict:
    """An mmengine-style checkpoint ``{'state_dict': ..., 'meta': {'dataset_meta': {'classes':
    COCO's 80}}}`` from torchvision weights, checked against ``model`` when given."""
    converted = convert_state_dict(state, arch=arch)
    if model is not None:
        check_against_model(converted, model, arch=arch)
    return {'state_dict': converted,
            'meta': {'dataset_meta': {'classes': COCO_CLASSES}, 'converted_from': f'torchvision {arch}'}}


def torchvision_state_dict(checkpoint: Mapping, *, where: str = 'the file') -> Dict[str, torch.Tensor]:
    """The weights of a torchvision file: a plain ``state_dict`` (what torchvision's URLs
    hold) or one under ``model`` / ``state_dict`` (torchvision's training references)."""
    for key in ('model', 'state_dict'):
        if isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
            break
    not_tensors = [key for key, value in checkpoint.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise ValueError(f'{where} is not a state dict: {", ".join(sorted(map(str, not_tensors))[:10])} '
                         'are not tensors')
    return dict(checkpoint)
