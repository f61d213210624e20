"""A timm model's feature maps as a detection backbone."""
from __future__ import annotations

import logging
from typing import Optional, Sequence, Tuple

import timm
import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import nn

from vmem.registry import MODELS
from vmem.utils.weights_loading import WeightsMismatch, compare_state_dicts, read_state_dict

from .pretrained_keys import features_only_names, timm_state_dict


@MODELS.register_module()
class TimmBackbone(BaseModule):
    """``timm.create_model(model_name, features_only=True)`` with detection conventions.

    Args:
        model_name: a timm model, e.g. ``'resnet50'``, ``'resnet101'``.
        out_indices: timm feature indices to return (for ResNets 0 = stem, 1..4 = C2..C5).
        dilate_last_stage: DC5: the last stage keeps stride 16 and every 3x3 conv in it
            is dilated by 2 (as in R-FCN, FGFA, SELSA, MAMBA and mmdet/detectron2 DC5).
        output_stride: timm's ``output_stride`` (8, 16 or 32; None: the model's own): stages
            past it keep that stride and dilate their convs instead, in timm's pattern (the
            first block of a stage keeps the previous stage's dilation).
        frozen_stages: stem and stages up to this feature index get no gradients and keep
            eval mode (-1: nothing frozen; 1: stem + first stage, mmdet's default).
        norm_eval: keep every BatchNorm in eval mode while training (batch statistics of
            1-2 detection images per GPU are too noisy to update them).
        pretrained: let timm download weights (impossible offline; use ``init_cfg``).
        cpu_channels_last: at inference on CPU, feed the body channels-last input. oneDNN's
            NCHW max pooling is slow (14 ms for ResNet's stem pool on a 256x192 frame, one
            thread, torch 2.15; 1 ms channels-last), and the whole tiny SynthVID detector
            runs ~15% faster with the same outputs (to 1e-5). Training keeps NCHW, whose
            speed was not measured either way; outputs are returned NCHW.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, prefix='', strict=True)`` loads
            a local timm checkpoint (``.pth`` or ``.safetensors``) or a torchvision ImageNet
            file (ResNet, Wide ResNet, MobileNetV2 and ConvNeXt names are renamed to timm's,
            see ``pretrained_keys``), optionally wrapped in ``state_dict``/``model``. With
            ``prefix`` only keys starting with it are taken, with it stripped. Strict: any
            missing, unexpected or wrongly shaped key is an error listing them; with
            ``strict=False`` the matching weights load and a one-line report is logged.
    """

    def __init__(self, *, model_name: str = 'resnet50', out_indices: Sequence[int] = (4,),
                 dilate_last_stage: bool = False, output_stride: Optional[int] = None, frozen_stages: int = -1,
                 norm_eval: bool = True, pretrained: bool = False, cpu_channels_last: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.cpu_channels_last = cpu_channels_last
        if output_stride not in (None, 8, 16, 32):
            raise ValueError(f'TimmBackbone: output_stride must be 8, 16, 32 or None, got {output_stride!r}')
        if dilate_last_stage and output_stride not in (None, 16):
            raise ValueError(f'TimmBackbone: dilate_last_stage means output_stride=16, got {output_stride}')
        kwargs = {'output_stride': 16} if dilate_last_stage else {}
        if output_stride is not None:
            kwargs['output_stride'] = output_stride
        try:
            self.body = timm.create_model(model_name, features_only=True, out_indices=tuple(out_indices),
                                          pretrained=pretrained, **kwargs)
        except RuntimeError as error:
            raise ValueError(f'TimmBackbone: timm cannot build {model_name!r} with out_indices='
                             f'{tuple(out_indices)}: {error}') from error
        self.model_name = model_name
        self.out_indices = tuple(out_indices)
        self.out_channels: Tuple[int, ...] = tuple(self.body.feature_info.channels())
        self.strides: Tuple[int, ...] = tuple(self.body.feature_info.reduction())
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        if dilate_last_stage:
            self._dilate_all_convs(self._stage_module(len(self.body.feature_info) - 1))
        self._freeze_stages()

    def _stage_module(self, feature_position: int) -> nn.Module:
        name = self.body.feature_info[feature_position]['module']
        return self.body.get_submodule(name)

    @staticmethod
    def _dilate_all_convs(stage: nn.Module) -> None:
        # timm (like torchvision) leaves the first block's 3x3 conv undilated; the DC5
        # detectors of the VID papers dilate all of them, which keeps the same weights.
        for module in stage.modules():
            if isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3) and module.stride == (1, 1):
                module.dilation, module.padding = (2, 2), (2, 2)

    def _frozen_children(self):
        if self.frozen_stages < 0:
            return []
        all_infos = self.body.feature_info.info  # every stage, not only out_indices
        if self.frozen_stages >= len(all_infos):
            raise ValueError(f'frozen_stages={self.frozen_stages} but {self.model_name} has '
                             f'{len(all_infos)} feature stages')
        last = all_infos[self.frozen_stages]['module'].split('.')[0]
        frozen = []
        for name, child in self.body.named_children():
            frozen.append(child)
            if name == last:
                return frozen
        raise ValueError(f'cannot find stage {last!r} among the children of {self.model_name}')

    def _freeze_stages(self) -> None:
        for child in self._frozen_children():
            child.eval()
            for parameter in child.parameters():
                parameter.requires_grad = False

    def train(self, mode: bool = True) -> 'TimmBackbone':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def forward(self, images: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.cpu_channels_last and not self.training and images.device.type == 'cpu':
            features = self.body(images.contiguous(memory_format=torch.channels_last))
            return tuple(feature.contiguous() for feature in features)
        return tuple(self.body(images))

    def init_weights(self) -> None:
        if self.init_cfg and self.init_cfg.get('type') == 'Pretrained':
            self.load_pretrained(self.init_cfg['checkpoint'], prefix=self.init_cfg.get('prefix', ''),
                                 strict=self.init_cfg.get('strict', True))
            self._is_init = True
        else:
            super().init_weights()

    def load_pretrained(self, path: str, *, prefix: str = '', strict: bool = True) -> WeightsMismatch:
        """Load a local timm or torchvision checkpoint (see ``init_cfg``); strict: raise a
        ``ValueError`` listing mismatched keys, else load what matches and log one line."""
        state = read_state_dict(path)
        if 'model' in state and isinstance(state['model'], dict):
            state = state['model']
        if prefix:
            state = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
        try:
            state = timm_state_dict(state, model_name=self.model_name)
        except ValueError as error:
            raise ValueError(f'TimmBackbone({self.model_name}): checkpoint {path}: {error}') from None
        body_state = self.body.state_dict()
        state = features_only_names(state, body_state)
        # the classifier, and stages after the last of out_indices, are in the file but not in
        # a features_only model; keys under a module the model does have must all match
        kept_modules = {name for name, _ in self.body.named_children()}
        state = {key: value for key, value in state.items() if key.split('.')[0] in kept_modules}
        mismatch = compare_state_dicts(body_state, state)
        if mismatch and strict:
            raise ValueError(f'TimmBackbone({self.model_name}): checkpoint {path} does not match:\n'
                             f'{mismatch.describe()}\n(init_cfg strict=False loads the matching weights only)')
        if mismatch:
            bad_shapes = {entry.split(' ')[0] for entry in mismatch.wrong_shape}
            state = {key: value for key, value in state.items() if key in body_state and key not in bad_shapes}
            print_log(f'TimmBackbone({self.model_name}): {path} loaded non-strictly: '
                      f'{len(mismatch.missing)} missing, {len(mismatch.unexpected)} unexpected, '
                      f'{len(mismatch.wrong_shape)} wrongly shaped keys '
                      f'({", ".join((mismatch.missing + mismatch.unexpected + mismatch.wrong_shape)[:5])}...)',
                      logger='current', level=logging.WARNING)
        self.body.load_state_dict(state, strict=not mismatch)
        return mismatch
