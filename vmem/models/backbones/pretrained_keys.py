"""Classification checkpoints users already have, renamed to timm's parameter names.

``TimmBackbone`` builds timm models, so a timm checkpoint (``.pth`` or ``.safetensors``)
loads as it is. torchvision's ImageNet files name some families differently:

- ResNet-18/34/50/101/152, Wide ResNet-50-2/101-2, ResNeXt: the same names in both libraries
  (``conv1``, ``bn1``, ``layer1..4``, ``fc``); nothing to rename.
- MobileNetV2 (torchvision ``features.N``): the stem conv and BN become ``conv_stem`` /
  ``bn1``; inverted-residual block N becomes ``blocks.S.I`` (stage S of timm's seven, I its
  index there) with ``conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3`` (``conv_dw, bn1, conv_pw,
  bn2`` for the first block, which has no expansion); ``features.18`` becomes ``conv_head``
  / ``bn2`` and ``classifier.1`` ``classifier``.
- ConvNeXt (torchvision ``features.N``): the stem becomes ``stem.0`` / ``stem.1``, the even
  ``features`` the downsampling layers ``stages.S.downsample``, the odd ones the stages'
  blocks (``block.0`` dw conv, ``block.2`` norm, ``block.3`` / ``block.5`` the MLP), whose
  ``layer_scale`` [C, 1, 1] becomes timm's ``gamma`` [C]; ``classifier.0`` / ``.2`` become
  ``head.norm`` / ``head.fc``.

:func:`timm_state_dict` applies the renaming when the file has torchvision's layout (keys
``features.*``) and the model is of these families; other files pass unchanged.
"""
from __future__ import annotations

import re
from typing import Dict, Mapping

import torch

# torchvision MobileNetV2's features.1..17, as (timm stage, index in stage)
_MOBILENET_V2_BLOCKS = [(stage, index) for stage, repeats in enumerate((1, 2, 3, 4, 3, 3, 1))
                        for index in range(repeats)]
_MOBILENET_V2_LAYERS = {  # torchvision's path inside a block -> timm's
    'expanding': {'conv.0.0': 'conv_pw', 'conv.0.1': 'bn1', 'conv.1.0': 'conv_dw', 'conv.1.1': 'bn2',
                  'conv.2': 'conv_pwl', 'conv.3': 'bn3'},
    'first': {'conv.0.0': 'conv_dw', 'conv.0.1': 'bn1', 'conv.1': 'conv_pw', 'conv.2': 'bn2'},
}
_CONVNEXT_BLOCK_LAYERS = {'block.0': 'conv_dw', 'block.2': 'norm', 'block.3': 'mlp.fc1', 'block.5': 'mlp.fc2'}


def is_torchvision_layout(state: Mapping[str, torch.Tensor]) -> bool:
    """torchvision's MobileNet / ConvNeXt / EfficientNet files keep the body in ``features``."""
    return any(key.startswith('features.') for key in state)


def timm_state_dict(state: Mapping[str, torch.Tensor], *, model_name: str) -> Dict[str, torch.Tensor]:
    """``state`` with timm's names for ``model_name``. Raises ``ValueError`` naming the keys
    of a torchvision-layout file that no rule of that family knows."""
    if not is_torchvision_layout(state):
        return dict(state)
    if model_name.startswith('mobilenetv2'):
        rename = _mobilenet_v2_name
    elif model_name.startswith('convnext'):
        rename = _convnext_name
    else:
        raise ValueError(f'a torchvision checkpoint with features.* keys cannot be renamed for timm '
                         f'{model_name!r}: vmem knows MobileNetV2 (mobilenetv2_*) and ConvNeXt (convnext_*)')
    converted, unknown = {}, []
    for key, value in state.items():
        name = rename(key)
        if name is None:
            unknown.append(key)
            continue
        if name.endswith('.gamma'):  # ConvNeXt's layer scale: [C, 1, 1] -> [C]
            value = value.reshape(-1)
        converted[name] = value
    if unknown:
        shown = ', '.join(unknown[:10]) + (f' ... and {len(unknown) - 10} more' if len(unknown) > 10 else '')
        raise ValueError(f'{len(unknown)} keys of the torchvision file are not part of {model_name}: {shown}')
    return converted


def _mobilenet_v2_name(key: str):
    if key.startswith('classifier.1.'):
        return 'classifier.' + key[len('classifier.1.'):]
    match = re.fullmatch(r'features\.(\d+)\.(.+)', key)
    if not match:
        return None
    block, rest = int(match.group(1)), match.group(2)
    if block in (0, 18):  # Conv2dNormActivation: 0 = conv, 1 = BN
        stem = {'0': 'conv_stem', '1': 'bn1'} if block == 0 else {'0': 'conv_head', '1': 'bn2'}
        layer, _, param = rest.partition('.')
        return f'{stem[layer]}.{param}' if layer in stem else None
    if not 1 <= block <= len(_MOBILENET_V2_BLOCKS):
        return None
    stage, index = _MOBILENET_V2_BLOCKS[block - 1]
    layers = _MOBILENET_V2_LAYERS['first' if block == 1 else 'expanding']
    for path, name in layers.items():
        if rest.startswith(path + '.'):
            return f'blocks.{stage}.{index}.{name}.{rest[len(path) + 1:]}'
    return None


def _convnext_name(key: str):
    head = {'classifier.0.': 'head.norm.', 'classifier.2.': 'head.fc.'}
    for prefix, name in head.items():
        if key.startswith(prefix):
            return name + key[len(prefix):]
    match = re.fullmatch(r'features\.(\d+)\.(.+)', key)
    if not match:
        return None
    index, rest = int(match.group(1)), match.group(2)
    if index == 0:
        return f'stem.{rest}'
    if index % 2 == 0:  # features.2/4/6: LayerNorm2d + 2x2 conv before stages 1/2/3
        return f'stages.{index // 2}.downsample.{rest}'
    stage = (index - 1) // 2
    block_match = re.fullmatch(r'(\d+)\.(.+)', rest)
    if not block_match:
        return None
    block, inner = block_match.groups()
    if inner == 'layer_scale':
        return f'stages.{stage}.blocks.{block}.gamma'
    for path, name in _CONVNEXT_BLOCK_LAYERS.items():
        if inner.startswith(path + '.'):
            return f'stages.{stage}.blocks.{block}.{name}.{inner[len(path) + 1:]}'
    return None


def features_only_names(state: Mapping[str, torch.Tensor], body_keys) -> Dict[str, torch.Tensor]:
    """Full-model timm names -> the names of timm's ``features_only`` wrapper of it, which
    flattens top-level Sequentials (``stem.0`` -> ``stem_0``, ``stages.1`` -> ``stages_1``)."""
    body_keys = set(body_keys)
    renamed = {}
    for key, value in state.items():
        if key not in body_keys:
            flat = re.sub(r'^([A-Za-z_]+)\.(\d+)\.', r'\1_\2.', key)
            if flat in body_keys:
                key = flat
        renamed[key] = value
    return renamed
