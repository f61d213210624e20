"""MoCo v2 (He et al. 2020; Chen et al. 2020): contrastive learning with a queue of keys."""
from __future__ import annotations

import warnings
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from torch import Tensor

from vmem.memory import MemoryBank
from vmem.registry import MODELS
from vmem.structures import DetDataSample

from .distributed import gather_from_all_ranks, shuffle_across_ranks, unshuffle_across_ranks
from .momentum_encoder import MomentumEncoder

# norm_eval=False: contrastive training must update BatchNorm, unlike detection fine-tuning
DEFAULT_BACKBONE = dict(type='TimmBackbone', model_name='resnet50', out_indices=(4,), norm_eval=False)
QUEUE_PREFIX = 'queue.'


@MODELS.register_module()
class MoCo(BaseModel):
    """Momentum Contrast: a query encoder trained with InfoNCE against one positive (the
    momentum encoder's key of another view of the same image) and a queue of negatives
    (the keys of past batches).

    The queue is a `vmem.memory.MemoryBank` with the FIFO policy, filled with random unit
    vectors at the start (as in MoCo) so every step sees ``queue_size`` negatives. Each step
    the global batch's keys are enqueued *after* the loss is computed (gathered from all
    ranks under DDP, so all ranks hold the same queue); the queue size need not divide the
    batch size. The queue and the momentum encoder are state of the model: checkpoints
    carry them, and resuming continues from them.

    With ``hard_negative_mixer`` (a `HardNegativeMixer` config) this is MoCHi: synthetic
    hard negatives are appended to the logits of each step.

    Loading a checkpoint that lacks the queue (or a queue of another size) keeps this
    model's queue, i.e. random unit vectors, and warns; one that lacks the momentum
    encoder (e.g. a plain backbone + head) starts it as a copy of the query encoder.

    Args:
        backbone: a backbone config returning feature maps (``TimmBackbone``); the last
            one is average-pooled. Keep ``norm_eval=False``.
        projection_head: ``ProjectionHead`` arguments (``hidden_dim``, ``out_dim``) or a
            full config with ``type``; ``in_dim`` is the backbone's last channel count.
        queue_size: number of negatives kept (65536 in MoCo).
        queue_dim: the queue's entry size; must equal the head's output (defaults to it).
        momentum: m of the key encoder's moving average (0.999).
        temperature: tau of InfoNCE (0.2 for MoCo v2).
        hard_negative_mixer: MoCHi's mixer config, e.g. ``dict(type='HardNegativeMixer',
            num_hardest=1024, num_mixed=1024, num_query_mixed=512)``; None: plain MoCo.
        shuffle_bn: shuffle the key encoder's global batch across ranks under DDP (MoCo's
            shuffling BN), and across ``bn_splits`` groups within a process. Turn off when
            the config converts BN to SyncBN (``sync_bn``).
        bn_splits: BatchNorm groups per process in training: the batch is encoded as this
            many sub-batches, each normalised with its own statistics, as if on that many
            GPUs; with ``shuffle_bn`` the keys are shuffled before the split, so a query
            and its key are mostly normalised with different samples. On one process with
            one group, a batch's keys share their BN statistics with its queries, a cue
            that tells them from the queue's older keys without learning anything (the
            leak MoCo's shuffling BN removes; its CIFAR demo splits BN for this reason).
            The batch size must be divisible by it. 1: the whole batch is one group.
    """

    def __init__(self, *, backbone: dict = DEFAULT_BACKBONE, projection_head: Optional[dict] = None,
                 queue_size: int = 65536, queue_dim: Optional[int] = None, momentum: float = 0.999,
                 temperature: float = 0.2, hard_negative_mixer: Optional[dict] = None,
                 shuffle_bn: bool = True, bn_splits: int = 1, data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        preprocessor = MODELS.build(data_preprocessor or dict(type='DetDataPreprocessor', pad_size_divisor=1))
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size <= 0:
            raise ValueError(f'MoCo: queue_size must be a positive int, got {queue_size!r}')
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f'MoCo: momentum must be in [0, 1), got {momentum}')
        if temperature <= 0:
            raise ValueError(f'MoCo: temperature must be positive, got {temperature}')
        self.backbone = MODELS.build(backbone)
        head = dict(projection_head or {})
        head.setdefault('type', 'ProjectionHead')
        head.setdefault('in_dim', self.backbone.out_channels[-1])
        self.head = MODELS.build(head)
        out_dim = self.head.out_dim
        if queue_dim is not None and queue_dim != out_dim:
            raise ValueError(f'MoCo: queue_dim={queue_dim} but the projection head outputs {out_dim}-d '
                             'embeddings; the queue stores those, so the two must be equal')
        if isinstance(bn_splits, bool) or not isinstance(bn_splits, int) or bn_splits < 1:
            raise ValueError(f'MoCo: bn_splits must be a positive int, got {bn_splits!r}')
        self.momentum, self.temperature, self.shuffle_bn = momentum, temperature, shuffle_bn
        self.bn_splits = bn_splits
        self.momentum_backbone = MomentumEncoder(self.backbone)
        self.momentum_head = MomentumEncoder(self.head)
        self.hard_negative_mixer = MODELS.build(hard_negative_mixer) if hard_negative_mixer else None
        self.queue = MemoryBank(capacity=queue_size, dim=out_dim, write_policy='FIFO', persistent=True)
        self.queue.write(F.normalize(torch.randn(queue_size, out_dim), dim=1))
        self._register_load_state_dict_pre_hook(self._adapt_before_load)

    # -- encoders ---------------------------------------------------------------------------
    def init_weights(self) -> None:
        super().init_weights()
        # the key encoder starts from the query encoder's (possibly pretrained) weights
        self.momentum_backbone.copy_from(self.backbone)
        self.momentum_head.copy_from(self.head)

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """Normalised images [B, 3, H, W] -> the query backbone's pooled features [B, C]:
        what k-NN, linear probes and downstream detectors use."""
        return self._pooled_features(self.backbone, inputs)

    def embed(self, inputs: Tensor) -> Tensor:
        """Query embeddings [B, out_dim], L2-normalised."""
        return F.normalize(self.head(self.extract_feat(inputs)), dim=1)

    @torch.no_grad()
    def embed_keys(self, inputs: Tensor) -> Tensor:
        """Key embeddings [B, out_dim] from the momentum encoder (BN shuffled across ranks
        and ``bn_splits`` groups)."""
        local_order = None
        if self.shuffle_bn:
            inputs, restore = shuffle_across_ranks(inputs)
            if self.bn_splits > 1 and self.training:
                local_order = torch.randperm(inputs.shape[0], device=inputs.device)
                inputs = inputs[local_order]
        keys = F.normalize(self.momentum_head(self._pooled_features(self.momentum_backbone, inputs)), dim=1)
        if local_order is not None:
            keys = keys[local_order.argsort()]
        return unshuffle_across_ranks(keys, restore) if self.shuffle_bn else keys

    def _pooled_features(self, backbone, inputs: Tensor) -> Tensor:
        if self.bn_splits == 1 or not self.training:
            return backbone(inputs)[-1].mean(dim=(2, 3))
        if inputs.shape[0] % self.bn_splits:
            raise ValueError(f'MoCo: a batch of {inputs.shape[0]} cannot be split into bn_splits={self.bn_splits} '
                             'equal BatchNorm groups; use a divisible batch size (and drop_last=True)')
        return torch.cat([backbone(group)[-1].mean(dim=(2, 3)) for group in inputs.chunk(self.bn_splits)])

    # -- forward ----------------------------------------------------------------------------
    def forward(self, inputs: Tensor, data_samples: Optional[Sequence[DetDataSample]] = None,
                mode: str = 'tensor', ref_inputs: Optional[Tensor] = None):
        if mode == 'loss':
            return self.loss(inputs, ref_inputs)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def loss(self, inputs: Tensor, ref_inputs: Optional[Tensor]) -> Dict[str, Tensor]:
        """InfoNCE of view 1's queries against view 2's keys and the queue; then enqueue."""
        if ref_inputs is None or ref_inputs.ndim != 5 or ref_inputs.shape[1] != 1:
            got = None if ref_inputs is None else tuple(ref_inputs.shape)
            raise ValueError('MoCo needs two views of each image: pack [2, 3, H, W] per sample '
                             f'(PackContrastiveInputs) so the preprocessor gives ref_inputs [B, 1, 3, H, W]; got {got}')
        queries = self.embed(inputs)
        with torch.no_grad():
            self.momentum_backbone.update(self.backbone, self.momentum)
            self.momentum_head.update(self.head, self.momentum)
            keys = self.embed_keys(ref_inputs[:, 0])
        # a copy: the write below changes the bank in place, and autograd still needs it
        negatives = self.queue.read(columns=('keys',)).keys
        logits = [(queries * keys).sum(dim=1, keepdim=True), queries @ negatives.T]
        if self.hard_negative_mixer is not None:
            mixed = self.hard_negative_mixer(queries, self.queue)
            logits.append(torch.einsum('bd,bmd->bm', queries, mixed))
        logits = torch.cat(logits, dim=1) / self.temperature
        targets = torch.zeros(len(logits), dtype=torch.long, device=logits.device)
        loss = F.cross_entropy(logits, targets)
        self.queue.write(gather_from_all_ranks(keys))
        accuracy = (logits.argmax(dim=1) == 0).float().mean().detach()
        return {'loss_contrastive': loss, 'contrastive_acc': accuracy}

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: Optional[Sequence[DetDataSample]] = None) -> List[DetDataSample]:
        """Each sample gets ``pred_features`` (pooled backbone features [C])."""
        features = self.extract_feat(inputs)
        samples = list(data_samples) if data_samples is not None else [DetDataSample() for _ in features]
        for sample, feature in zip(samples, features):
            sample.pred_features = feature
        return samples

    # -- checkpoints ------------------------------------------------------------------------
    def adapt_to_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        """Fill in what a checkpoint may lack before it is loaded (see the class docstring);
        raise if its queue holds entries of another size."""
        queue_keys = state_dict.get(f'{prefix}{QUEUE_PREFIX}keys')
        own_queue = self.queue.state_dict(prefix=f'{prefix}{QUEUE_PREFIX}')
        if queue_keys is not None and (queue_keys.ndim != 2 or queue_keys.shape[1] != self.queue.dim):
            raise ValueError(f'the checkpoint key {prefix}{QUEUE_PREFIX}keys holds {tuple(queue_keys.shape)} '
                             f'entries but this MoCo queue stores {self.queue.dim}-d keys (projection_head.out_dim)')
        if queue_keys is None or queue_keys.shape[0] != self.queue.capacity:
            why = ('has no queue' if queue_keys is None else
                   f'has a queue of {queue_keys.shape[0]} entries, this model {self.queue.capacity}')
            warnings.warn(f'MoCo: the checkpoint {why}; the queue is re-initialised with random unit '
                          'vectors, as at the start of training', stacklevel=3)
            state_dict.update(own_queue)
        for query, key in (('backbone.', 'momentum_backbone.encoder.'), ('head.', 'momentum_head.encoder.')):
            query_state = {name[len(prefix + query):]: value for name, value in state_dict.items()
                           if name.startswith(prefix + query)}
            if query_state and not any(name.startswith(prefix + key) for name in state_dict):
                warnings.warn(f'MoCo: the checkpoint has no {key[:-len(".encoder.")]}; it starts as a '
                              f'copy of the loaded {query[:-1]}', stacklevel=3)
                state_dict.update({prefix + key + name: value for name, value in query_state.items()})

    def _adapt_before_load(self, state_dict, prefix, *args) -> None:
        self.adapt_to_state_dict(state_dict, prefix)
