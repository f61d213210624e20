"""PatchCore (Roth et al., "Towards Total Recall in Industrial Anomaly Detection", CVPR 2022)."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model import BaseModel
from torch import Tensor

from vmem.memory import MemoryBank, greedy_coreset
from vmem.registry import MODELS
from vmem.structures import DetDataSample

from .anomaly_scoring import MAP_UPSAMPLING, anomaly_maps, nearest_neighbour_scores
from .patch_features import PatchFeatureExtractor
from .support_augmentation import SUPPORT_AUGMENTATIONS, augment_support

DEFAULT_BACKBONE = dict(type='TimmBackbone', model_name='wide_resnet50_2', out_indices=(2, 3))


@MODELS.register_module()
class PatchCore(BaseModel):
    """Anomaly detection by nearest-neighbour search in a coreset of normal patch features.

    Building the memory is not gradient descent: ``MemoryBankBuildLoop`` (the config's
    ``train_cfg``) feeds every normal training image once to `collect`, then calls
    `build_memory`, which keeps a greedy k-center coreset of the collected patches in a
    `vmem.memory.MemoryBank`. The bank is a persistent buffer, so it goes into the
    checkpoint as plain tensors (loadable with ``weights_only=True``) and a model of any
    bank size loads it (see `adapt_to_state_dict`).

    At test time (``mode='predict'``) each patch is scored by its L2 distance to the
    bank; the pixel map is the patch scores upsampled to the input size and smoothed
    (Gaussian, ``sigma`` pixels); the image score is the largest patch score, optionally
    reweighted as in the paper. ``mode='tensor'`` returns the maps [B, H, W].

    Args:
        backbone: ``TimmBackbone`` config (default WideResNet-50-2, layer2 + layer3).
        neighbourhood: local aggregation window (3).
        target_dim: patch feature dimension after channel pooling (1024; None keeps all).
        coreset_ratio: fraction of the collected patches kept, in (0, 1]; 1 keeps all.
        coreset_projection_dim: random projection used by the coreset search (128).
        num_neighbours: bank neighbours averaged into a patch score (1 in the paper).
        reweight_neighbours: b of the paper's image-score reweighting (None: plain max;
            the paper and anomalib use 9).
        sigma: Gaussian smoothing of the pixel map, in input pixels (4).
        map_upsampling: how patch scores are brought to the input size before smoothing:
            ``'bilinear'`` (the authors' code) or ``'nearest'`` (anomalib).
        support_augmentations: few-shot mode: augmented copies of every training image
            whose patches also go into the memory, from ``'hflip'``, ``'vflip'``,
            ``'rot90'``, ``'rot180'``, ``'rot270'``, ``'shift'``.
        chunk_elements: most query-to-bank distances held at once at inference (None:
            the retrieval default, 2^23): memory is bounded by it, whatever the bank size.
        seed: seed of the coreset's random start and projection.
    """

    def __init__(self, *, backbone: dict = DEFAULT_BACKBONE, neighbourhood: int = 3,
                 target_dim: Optional[int] = 1024, coreset_ratio: float = 0.1,
                 coreset_projection_dim: Optional[int] = 128, num_neighbours: int = 1,
                 reweight_neighbours: Optional[int] = None, sigma: float = 4.0,
                 map_upsampling: str = 'bilinear', support_augmentations: Sequence[str] = (), chunk_elements: Optional[int] = None,
                 seed: int = 0, data_preprocessor: Optional[dict] = None, init_cfg=None) -> None:
        preprocessor = MODELS.build(data_preprocessor or dict(type='DetDataPreprocessor', pad_size_divisor=1))
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        if isinstance(coreset_ratio, bool) or not isinstance(coreset_ratio, (int, float)) \
                or not 0 < coreset_ratio <= 1:
            raise ValueError(f'coreset_ratio must be a number in (0, 1] (1 keeps every patch), got {coreset_ratio!r}')
        if num_neighbours < 1:
            raise ValueError(f'num_neighbours must be >= 1, got {num_neighbours}')
        if reweight_neighbours is not None and reweight_neighbours < 1:
            raise ValueError(f'reweight_neighbours must be >= 1 or None, got {reweight_neighbours}')
        if map_upsampling not in MAP_UPSAMPLING:
            raise ValueError(f'map_upsampling must be one of {MAP_UPSAMPLING}, got {map_upsampling!r}')
        unknown = [name for name in support_augmentations if name not in SUPPORT_AUGMENTATIONS]
        if unknown:
            raise ValueError(f'unknown support_augmentations {unknown}; choose from {list(SUPPORT_AUGMENTATIONS)}')
        self.features = PatchFeatureExtractor(backbone=backbone, neighbourhood=neighbourhood, target_dim=target_dim)
        self.coreset_ratio = float(coreset_ratio)
        self.coreset_projection_dim = coreset_projection_dim
        self.num_neighbours = num_neighbours
        self.reweight_neighbours = reweight_neighbours
        self.sigma = sigma
        self.map_upsampling = map_upsampling
        self.support_augmentations = tuple(support_augmentations)
        self.chunk_elements = chunk_elements
        self.seed = seed
        # Empty until build_memory (or a checkpoint) fills it; its capacity follows the data.
        self.memory = self._new_bank(1)
        # Largest distance of a sampled training patch to the bank: a scale for displays.
        self.register_buffer('normal_patch_distance', torch.zeros(()))
        self._collected: List[Tensor] = []
        self._register_load_state_dict_pre_hook(self._resize_bank_for_state)

    def _new_bank(self, capacity: int, device: torch.device | str = 'cpu') -> MemoryBank:
        return MemoryBank(capacity=capacity, dim=self.features.out_dim, write_policy='FIFO',
                          persistent=True).to(device)

    # -- memory ---------------------------------------------------------------------------
    @property
    def has_memory(self) -> bool:
        return len(self.memory) > 0

    def train(self, mode: bool = True) -> 'PatchCore':
        super().train(mode)
        self.features.train(mode)  # stays in eval mode: see PatchFeatureExtractor.train
        return self

    @torch.no_grad()
    def collect(self, data: dict) -> Dict[str, Tensor]:
        """Extract and keep the patch features of a batch of normal images (one step of
        ``MemoryBankBuildLoop``); returns log values."""
        data = self.data_preprocessor(data, False)
        images = data['inputs']
        if self.support_augmentations:
            images = augment_support(images, self.support_augmentations)
        patches = self.features(images)
        self._collected.append(patches.permute(0, 2, 3, 1).reshape(-1, patches.shape[1]).float().cpu())
        return {'patches': torch.tensor(float(sum(len(part) for part in self._collected)))}

    @torch.no_grad()
    def build_memory(self, features: Optional[Tensor] = None) -> MemoryBank:
        """Fill the bank from the collected patches (or ``features`` [N, D]) with a greedy
        k-center coreset of ``coreset_ratio * N`` of them; forget the collected ones."""
        if features is None:
            if not self._collected:
                raise ValueError('PatchCore.build_memory: no patch features were collected; '
                                 'the training dataloader gave no normal images')
            features = torch.cat(self._collected)
        self._collected = []
        if features.ndim != 2 or features.shape[1] != self.features.out_dim:
            raise ValueError(f'features must be [N, {self.features.out_dim}], got {tuple(features.shape)}')
        total = features.shape[0]
        num = max(1, round(self.coreset_ratio * total))
        generator = torch.Generator().manual_seed(self.seed)
        device = self.memory.device
        if num < total:
            keep = greedy_coreset(features.to(device), num, projection_dim=self.coreset_projection_dim,
                                  generator=generator)
            kept = features[keep.cpu()]
        else:
            kept = features
        bank = self._new_bank(num, device)
        bank.write(kept.to(device=device, dtype=bank.keys.dtype))
        self.memory = bank
        sample = features[torch.randperm(total, generator=generator)[:4096]].to(device)
        self.normal_patch_distance.fill_(
            float(bank.topk(sample, 1, metric='l2', chunk_elements=self.chunk_elements).scores.max()))
        return bank

    def adapt_to_state_dict(self, state_dict: dict, prefix: str = '') -> None:
        """Resize the (empty or differently sized) bank to the checkpoint's before loading:
        a bank's size comes from the training data, not from the config."""
        keys = state_dict.get(f'{prefix}memory.keys')
        if keys is None:
            return
        if keys.ndim != 2 or keys.shape[1] != self.features.out_dim:
            raise ValueError(f'the checkpoint bank holds {tuple(keys.shape[1:])}-d features but this PatchCore '
                             f'makes {self.features.out_dim}-d ones (check backbone and target_dim)')
        if keys.shape[0] != self.memory.capacity:
            self.memory = self._new_bank(int(keys.shape[0]), self.memory.device)

    def _resize_bank_for_state(self, state_dict, prefix, *args) -> None:
        self.adapt_to_state_dict(state_dict, prefix)

    # -- inference ------------------------------------------------------------------------
    def forward(self, inputs: Tensor, data_samples: Optional[Sequence[DetDataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            raise ValueError("PatchCore has no loss: its memory is built by one pass over normal images. "
                             "Set train_cfg = dict(type='MemoryBankBuildLoop') in the config")
        if mode == 'tensor':
            return self.score(inputs)[0]
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    @torch.no_grad()
    def score(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised images [B, 3, H, W] -> (pixel anomaly maps [B, H, W], image scores [B])."""
        if not self.has_memory:
            raise ValueError('PatchCore has an empty memory bank: build it with tools/train.py (one pass '
                             'over normal images) or load a checkpoint that has one')
        patches = self.features(inputs)
        scores = nearest_neighbour_scores(
            patches, self.memory, num_neighbours=self.num_neighbours,
            reweight_neighbours=self.reweight_neighbours, chunk_elements=self.chunk_elements)
        maps = anomaly_maps(scores.patch_scores, tuple(inputs.shape[-2:]), sigma=self.sigma,
                            upsampling=self.map_upsampling)
        return maps, scores.image_scores

    def predict(self, inputs: Tensor, data_samples: Optional[Sequence[DetDataSample]] = None
                ) -> List[DetDataSample]:
        """Data samples with ``pred_anomaly_map`` (float [h, w], the sample's ``img_shape``,
        i.e. the transformed image, padding removed) and ``pred_anomaly_score`` (float)."""
        maps, image_scores = self.score(inputs)
        if data_samples is None:
            data_samples = [DetDataSample(metainfo=dict(img_shape=tuple(inputs.shape[-2:])))
                            for _ in range(len(inputs))]
        for sample, anomaly_map, image_score in zip(data_samples, maps, image_scores):
            height, width = sample.metainfo.get('img_shape', anomaly_map.shape)
            sample.pred_anomaly_map = anomaly_map[:height, :width].cpu()
            sample.pred_anomaly_score = float(image_score)
        return list(data_samples)

    def train_step(self, data, optim_wrapper):
        raise ValueError("PatchCore is not trained by gradient descent; set train_cfg = "
                         "dict(type='MemoryBankBuildLoop') in the config")

