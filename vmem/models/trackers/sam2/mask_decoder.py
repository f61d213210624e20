"""SAM 2's mask decoder: output tokens (object score, IoU, 1 + 3 masks) and the prompt
tokens run through the two-way transformer with the image embedding; hypernetwork MLPs
turn mask tokens into masks on the upscaled embedding (with SAM 2's stride-4 and -8
high-resolution features)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import nn

from vmem.models.layers.token_attention import MLP, LayerNorm2d

from .two_way_transformer import TwoWayTransformer


@dataclass
class DecoderOutput:
    masks: torch.Tensor          # [B, M, 4h, 4w] logits (M = 3 multimask, else 1)
    ious: torch.Tensor           # [B, M] predicted IoU
    tokens: torch.Tensor         # [B, M', C] the mask tokens used for object pointers
    object_logits: torch.Tensor  # [B, 1] object presence logit


class MaskDecoder(nn.Module):
    def __init__(self, *, dim: int = 256, num_multimask_outputs: int = 3, iou_head_depth: int = 3,
                 iou_head_hidden_dim: int = 256, iou_prediction_use_sigmoid: bool = True,
                 use_multimask_token_for_obj_ptr: bool = True,
                 dynamic_multimask_via_stability: bool = True, stability_delta: float = 0.05,
                 stability_thresh: float = 0.98, transformer: Optional[dict] = None):
        super().__init__()
        self.transformer = TwoWayTransformer(dim=dim, **(transformer or {}))
        self.num_mask_tokens = num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, dim)
        self.obj_score_token = nn.Embedding(1, dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2), LayerNorm2d(dim // 4), nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2), nn.GELU())
        # 1x1 convs applied to the encoder's stride-4 and -8 maps once per frame
        self.conv_s0 = nn.Conv2d(dim, dim // 8, kernel_size=1)
        self.conv_s1 = nn.Conv2d(dim, dim // 4, kernel_size=1)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(in_dim=dim, hidden_dim=dim, out_dim=dim // 8, num_layers=3) for _ in range(self.num_mask_tokens))
        self.iou_prediction_head = MLP(in_dim=dim, hidden_dim=iou_head_hidden_dim, out_dim=self.num_mask_tokens,
                                       num_layers=iou_head_depth, sigmoid_output=iou_prediction_use_sigmoid)
        self.pred_obj_score_head = MLP(in_dim=dim, hidden_dim=dim, out_dim=1, num_layers=3)
        self.use_multimask_token_for_obj_ptr = use_multimask_token_for_obj_ptr
        self.dynamic_multimask_via_stability = dynamic_multimask_via_stability
        self.stability_delta, self.stability_thresh = stability_delta, stability_thresh

    def forward(self, *, image: torch.Tensor, image_pe: torch.Tensor, sparse: torch.Tensor,
                dense: torch.Tensor, high_res: Sequence[torch.Tensor], multimask: bool) -> DecoderOutput:
        """image [B, C, h, w] (one per prompt), image_pe [1, C, h, w], sparse [B, N, C],
        dense [B, C, h, w], high_res: the conv_s0/conv_s1 maps [B, C/8, 4h, 4w], [B, C/4, 2h, 2w]."""
        batch = sparse.shape[0]
        output_tokens = torch.cat([self.obj_score_token.weight, self.iou_token.weight, self.mask_tokens.weight])
        tokens = torch.cat([output_tokens[None].expand(batch, -1, -1), sparse], dim=1)
        src = image + dense
        pos = image_pe.expand(batch, -1, -1, -1)
        _, channels, height, width = src.shape
        hs, src = self.transformer(src, pos, tokens)
        iou_token_out = hs[:, 1]
        mask_tokens_out = hs[:, 2:2 + self.num_mask_tokens]

        src = src.transpose(1, 2).reshape(batch, channels, height, width)
        deconv1, norm1, act1, deconv2, act2 = self.output_upscaling
        stride4, stride8 = high_res
        upscaled = act1(norm1(deconv1(src) + stride8))
        upscaled = act2(deconv2(upscaled) + stride4)
        hyper = torch.stack([mlp(mask_tokens_out[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
                            dim=1)
        b, c, h, w = upscaled.shape
        masks = (hyper @ upscaled.flatten(2)).view(b, -1, h, w)
        ious = self.iou_prediction_head(iou_token_out)
        object_logits = self.pred_obj_score_head(hs[:, 0])

        if multimask:
            masks, ious = masks[:, 1:], ious[:, 1:]
        elif self.dynamic_multimask_via_stability and not self.training:
            masks, ious = self._stable_single_mask(masks, ious)
        else:
            masks, ious = masks[:, :1], ious[:, :1]
        tokens_out = (mask_tokens_out[:, 1:] if multimask and self.use_multimask_token_for_obj_ptr
                      else mask_tokens_out[:, :1])
        return DecoderOutput(masks=masks, ious=ious, tokens=tokens_out, object_logits=object_logits)

    def _stable_single_mask(self, masks: torch.Tensor, ious: torch.Tensor):
        """The single-mask output, unless its logits are unstable around 0 (area at
        +delta / area at -delta below the threshold): then the best multimask output."""
        rows = torch.arange(masks.shape[0], device=masks.device)
        best = ious[:, 1:].argmax(dim=-1)
        best_mask, best_iou = masks[:, 1:][rows, best][:, None], ious[:, 1:][rows, best][:, None]
        single = masks[:, :1].flatten(-2)
        inner = (single > self.stability_delta).sum(-1).float()
        outer = (single > -self.stability_delta).sum(-1).float()
        stability = torch.where(outer > 0, inner / outer, torch.ones_like(inner))
        stable = stability >= self.stability_thresh                  # [B, 1]
        return (torch.where(stable[..., None, None], masks[:, :1], best_mask),
                torch.where(stable, ious[:, :1], best_iou))
