"""The SAM 2 network: its modules (with the official parameter names) and the four
per-frame operations a tracker composes. It holds no state between frames: what
to remember, and for how long, is the tracker's business (`tracker.py`).

A batch is a set of objects on one frame (the image features repeat per object).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from vmem.models.layers.position_encoding import sine_encoding_1d
from vmem.models.layers.token_attention import MLP

from .image_encoder import ImageEncoder
from .mask_decoder import MaskDecoder
from .memory_attention import MemoryAttention
from .memory_encoder import MemoryEncoder
from .prompt_encoder import PromptEncoder

NO_OBJECT_LOGIT = -1024.0       # mask logits of an object judged absent (official value)
MASK_INPUT_SCALE, MASK_INPUT_BIAS = 20.0, -10.0   # a binary mask as logits: sigmoid(-10) ~ 4.5e-5


@dataclass
class FrameFeatures:
    """One frame's encoder output: the stride-16 map [B, C, h, w] and its sine encoding,
    and the decoder's stride-4 / stride-8 maps (after conv_s0 / conv_s1)."""
    features: torch.Tensor
    pos: torch.Tensor
    high_res: List[torch.Tensor]

    @property
    def size(self) -> Tuple[int, int]:
        return tuple(self.features.shape[-2:])

    def repeat(self, count: int) -> 'FrameFeatures':
        """The features of one frame for ``count`` objects."""
        if self.features.shape[0] == count:
            return self
        return FrameFeatures(self.features.expand(count, -1, -1, -1), self.pos.expand(count, -1, -1, -1),
                             [x.expand(count, -1, -1, -1) for x in self.high_res])


@dataclass
class FrameOutput:
    """Per object: mask logits at stride 4 [B, 1, 4h, 4w] and at input size [B, 1, H, W],
    the candidates' IoU predictions [B, M], the object pointer [B, C] and the object
    presence logit [B, 1]."""
    low_res_masks: torch.Tensor
    masks: torch.Tensor
    ious: torch.Tensor
    pointer: torch.Tensor
    object_logits: torch.Tensor
    quality: Optional[torch.Tensor] = None      # [B, 1] the chosen mask's predicted IoU
    candidates: Optional[torch.Tensor] = None   # training: every candidate [B, M, H, W], not gated by presence


@dataclass
class MemoryFrames:
    """What memory attention reads for a batch of objects: memory maps of F past
    frames [B, F, Cm, h, w] with their ages (0 = a prompted frame, k = the k-th most recent
    other frame, 1 <= k < num_maskmem), and P object pointers [B, P, C] with their signed frame
    distance. ``pointer_horizon`` is the distance that encodes as 1 (official: min(video
    length, 16) - 1)."""
    maps: torch.Tensor
    map_ages: Sequence[int]
    pointers: torch.Tensor
    pointer_distances: Sequence[int]
    pointer_horizon: int


class SAM2Network(nn.Module):
    """SAM 2 / 2.1 (``sam21=True`` adds the no-object spatial embedding and the projected,
    signed temporal encoding of object pointers), any Hiera size.

    Args:
        image_encoder: ``ImageEncoder`` kwargs (``trunk=dict(model_name=...)``).
        dim: transformer width (256 in every official model).
        memory_dim: memory map width (64).
        num_maskmem: memory slots: the prompted frames' slot + ``num_maskmem - 1`` recent frames.
        memory_attention, memory_encoder, mask_decoder: kwargs of those modules.
    """

    def __init__(self, *, image_encoder: dict, dim: int = 256, memory_dim: int = 64, num_maskmem: int = 7,
                 sam21: bool = True, memory_attention: Optional[dict] = None,
                 memory_encoder: Optional[dict] = None, mask_decoder: Optional[dict] = None):
        super().__init__()
        self.dim, self.memory_dim, self.num_maskmem, self.sam21 = dim, memory_dim, num_maskmem, sam21
        self.trunk_name = image_encoder['trunk'].get('model_name', 'sam2_hiera_tiny')
        self.image_encoder = ImageEncoder(dim=dim, **image_encoder)
        self.memory_attention = MemoryAttention(dim=dim, memory_dim=memory_dim, **(memory_attention or {}))
        self.memory_encoder = MemoryEncoder(in_dim=dim, out_dim=memory_dim, **(memory_encoder or {}))
        self.sam_prompt_encoder = PromptEncoder(dim=dim)
        self.sam_mask_decoder = MaskDecoder(dim=dim, **(mask_decoder or {}))
        # a mask prompt at stride 4 (as SAM's logits) for the pointer of a mask-prompted frame
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(num_maskmem, 1, 1, memory_dim))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, dim))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, dim))
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, dim))
        self.obj_ptr_proj = MLP(in_dim=dim, hidden_dim=dim, out_dim=dim, num_layers=3)
        if sam21:
            self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, memory_dim))
            self.obj_ptr_tpos_proj = nn.Linear(dim, memory_dim)
        for param in (self.maskmem_tpos_enc, self.no_mem_embed, self.no_mem_pos_enc, self.no_obj_ptr,
                      getattr(self, 'no_obj_embed_spatial', None)):
            if param is not None:
                nn.init.trunc_normal_(param, std=0.02)

    # ----------------------------------------------------------------- encoder
    def encode_image(self, images: torch.Tensor) -> FrameFeatures:
        """[B, 3, H, W] normalised images (H, W divisible by 32) -> features."""
        out = self.image_encoder(images)
        stride4, stride8, stride16 = out['fpn']
        high_res = [self.sam_mask_decoder.conv_s0(stride4), self.sam_mask_decoder.conv_s1(stride8)]
        return FrameFeatures(features=stride16, pos=out['pos'][-1], high_res=high_res)

    # ----------------------------------------------------------------- memory
    def condition(self, frame: FrameFeatures, memory: Optional[MemoryFrames]) -> torch.Tensor:
        """The stride-16 map conditioned on memory; without memory (a video's first
        prompted frame) the learned no-memory embedding is added instead."""
        features = frame.features
        if memory is None:
            return features + self.no_mem_embed.reshape(1, -1, 1, 1)
        batch, channels, height, width = features.shape
        tokens = features.flatten(2).transpose(1, 2)
        pos = frame.pos.flatten(2).transpose(1, 2)

        maps = memory.maps.flatten(3).transpose(2, 3)                        # [B, F, hw, Cm]
        map_pos = self.memory_encoder.position_encoding.encode_size(height, width, features.device)
        map_pos = map_pos.flatten(1).t().to(maps.dtype)                       # [hw, Cm]
        # temporal codes: the last one for prompted frames, code k - 1 for the k-th most recent
        ages = [self.num_maskmem - 1 if age == 0 else age - 1 for age in memory.map_ages]
        if min(ages) < 0 or max(ages) >= self.num_maskmem:
            raise ValueError(f'memory ages must be in [0, {self.num_maskmem}), got {list(memory.map_ages)}')
        map_pos = map_pos[None] + self.maskmem_tpos_enc[ages].reshape(len(ages), 1, -1)   # [F, hw, Cm]
        keys = [maps.flatten(1, 2)]
        key_pos = [map_pos.flatten(0, 1)[None].expand(batch, -1, -1)]

        num_pointer_tokens = 0
        if memory.pointers.shape[1]:
            pointers, pointer_pos = self._pointer_tokens(memory)
            keys.append(pointers)
            key_pos.append(pointer_pos)
            num_pointer_tokens = pointers.shape[1]
        conditioned = self.memory_attention(tokens, pos, torch.cat(keys, 1), torch.cat(key_pos, 1),
                                            size=(height, width), num_pointer_tokens=num_pointer_tokens)
        return conditioned.transpose(1, 2).reshape(batch, channels, height, width)

    def _pointer_tokens(self, memory: MemoryFrames) -> Tuple[torch.Tensor, torch.Tensor]:
        """Object pointers [B, P, C] as P * C / Cm memory tokens of width Cm, each with the
        temporal encoding of its frame distance."""
        pointers = memory.pointers
        batch, count, _ = pointers.shape
        if self.sam21:
            distances = torch.tensor(memory.pointer_distances, dtype=torch.float32, device=pointers.device)
            codes = sine_encoding_1d(distances / max(memory.pointer_horizon, 1), self.dim)
            codes = self.obj_ptr_tpos_proj(codes.to(pointers.dtype))              # [P, Cm]
        else:
            codes = pointers.new_zeros(count, self.memory_dim)
        split = self.dim // self.memory_dim
        tokens = pointers.reshape(batch, count * split, self.memory_dim)
        return tokens, codes.repeat_interleave(split, dim=0)[None].expand(batch, -1, -1)

    def encode_memory(self, frame: FrameFeatures, masks: torch.Tensor, object_logits: torch.Tensor, *,
                      binarize: bool) -> torch.Tensor:
        """[B, Cm, h, w] memory of a frame from its *unconditioned* features and its
        output mask logits [B, 1, H, W] (binarised for frames prompted with clicks)."""
        probs = (masks > 0).to(masks.dtype) if binarize else torch.sigmoid(masks)
        probs = probs * MASK_INPUT_SCALE + MASK_INPUT_BIAS
        memory, _ = self.memory_encoder(frame.features, probs)
        if self.sam21:
            absent = (object_logits <= 0).to(memory.dtype)[..., None, None]       # [B, 1, 1, 1]
            memory = memory + absent * self.no_obj_embed_spatial.reshape(1, -1, 1, 1)
        return memory

    # ----------------------------------------------------------------- heads
    def decode(self, features: torch.Tensor, frame: FrameFeatures, *, image_size: Tuple[int, int],
               points: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
               mask_logits: Optional[torch.Tensor] = None, multimask: bool = False,
               choose: Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = None) -> FrameOutput:
        """SAM heads on (conditioned) features [B, C, h, w]: clicks (boxes come as two
        corner clicks with labels 2 and 3), optionally a previous mask's logits. Of several
        candidates the best predicted IoU is kept, or ``choose(masks [B, M, H, W], ious [B, M])
        -> [B]`` picks (e.g. a motion prior)."""
        batch = features.shape[0]
        if points is None:
            points = (features.new_zeros(batch, 1, 2), -torch.ones(batch, 1, dtype=torch.int32,
                                                                     device=features.device))
        embedding_size = frame.size
        if mask_logits is not None:
            mask_size = (4 * embedding_size[0], 4 * embedding_size[1])
            if tuple(mask_logits.shape[-2:]) != mask_size:
                mask_logits = F.interpolate(mask_logits.float(), size=mask_size, mode='bilinear',
                                            align_corners=False, antialias=True)
        sparse, dense = self.sam_prompt_encoder(image_size=image_size, embedding_size=embedding_size,
                                                points=points, masks=mask_logits)
        out = self.sam_mask_decoder(image=features, image_pe=self.sam_prompt_encoder.dense_pe(embedding_size),
                                    sparse=sparse, dense=dense, high_res=frame.high_res, multimask=multimask)
        present = out.object_logits > 0                                            # [B, 1]
        low_res = torch.where(present[..., None, None], out.masks, NO_OBJECT_LOGIT).float()
        upsample = lambda logits: F.interpolate(logits, size=image_size, mode='bilinear',   # noqa: E731
                                                align_corners=False)
        token = out.tokens[:, 0]
        if multimask:
            # Bilinear upsampling works channel by channel, so upsampling only the chosen
            # candidate gives the same mask at 1/M of the cost (per object: it matters with
            # many objects); a chooser that looks at the masks gets them all.
            full = None if choose is None else upsample(low_res)
            best = out.ious.argmax(dim=-1) if choose is None else choose(full, out.ious)
            rows = torch.arange(batch, device=features.device)
            chosen_low = low_res[rows, best][:, None]
            chosen_full = upsample(chosen_low) if full is None else full[rows, best][:, None]
            if out.tokens.shape[1] > 1:
                token = out.tokens[rows, best]
            quality = out.ious[rows, best][:, None]
        else:
            chosen_low, quality = low_res, out.ious[:, :1]
            chosen_full = upsample(chosen_low)
        pointer = self.obj_ptr_proj(token)
        presence = present.to(pointer.dtype)
        pointer = presence * pointer + (1 - presence) * self.no_obj_ptr
        candidates = None
        if self.training:   # the losses need the masks also where the object is judged absent
            candidates = upsample(out.masks.float())
        return FrameOutput(low_res_masks=chosen_low, masks=chosen_full, ious=out.ious, pointer=pointer,
                           object_logits=out.object_logits, quality=quality, candidates=candidates)

    def mask_as_output(self, frame: FrameFeatures, masks: torch.Tensor, *,
                       image_size: Tuple[int, int]) -> FrameOutput:
        """A frame prompted with masks [B, 1, H, W] outputs them as they are (official
        ``use_mask_input_as_output_without_sam``); only the pointer comes from the heads, run
        on the unconditioned features with the mask as a prompt."""
        masks = masks.float()
        full = masks * MASK_INPUT_SCALE + MASK_INPUT_BIAS
        low_res = F.interpolate(full, size=(full.shape[-2] // 4, full.shape[-1] // 4), mode='bilinear',
                                align_corners=False, antialias=True)
        pointer = self.decode(frame.features, frame, image_size=image_size,
                              mask_logits=self.mask_downsample(masks)).pointer
        present = (masks.flatten(1) > 0).any(dim=1, keepdim=True).to(masks.dtype)     # [B, 1]
        pointer = present * pointer + (1 - present) * self.no_obj_ptr
        return FrameOutput(low_res_masks=low_res, masks=full, ious=masks.new_ones(masks.shape[0], 1),
                           pointer=pointer, object_logits=present * MASK_INPUT_SCALE + MASK_INPUT_BIAS,
                           quality=masks.new_ones(masks.shape[0], 1))
