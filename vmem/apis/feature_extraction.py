"""Frozen features of labelled data, for the k-NN and linear-probe evaluation of
self-supervised models (`vmem.models.selfsup.knn_accuracy`, `train_linear_probe`).

    model = init_model('configs/...py', 'epoch_200.pth')
    bank = extract_config_features(model, model.cfg, key='eval_train_dataloader')
    test = extract_config_features(model, model.cfg, key='eval_test_dataloader')
    knn_accuracy(bank.features, bank.labels, test.features, test.labels, num_classes=bank.num_classes)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import torch
from mmengine.config import Config
from torch import Tensor

EVAL_DATALOADER_KEYS = ('eval_train_dataloader', 'eval_test_dataloader')


@dataclass
class LabelledFeatures:
    """``features`` float32 [N, C] and ``labels`` int64 [N] of one split (on the CPU), and
    the dataset's class names (empty when its metainfo has none)."""
    features: Tensor
    labels: Tensor
    classes: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        """The number of class names, else one more than the largest label."""
        if self.classes:
            return len(self.classes)
        return int(self.labels.max()) + 1 if self.labels.numel() else 0


def _sample_label(sample, index: int) -> int:
    meta = sample.metainfo if hasattr(sample, 'metainfo') else {}
    if meta.get('gt_label') is None:
        where = f" ({meta['img_path']})" if meta.get('img_path') else ''
        raise ValueError(f"sample {index}{where} has no 'gt_label' in its metainfo: feature "
                         'evaluation needs labelled data (a classification pipeline)')
    return int(meta['gt_label'])


@torch.no_grad()
def extract_features(model: torch.nn.Module, dataloader: Iterable[dict], *, device: str = 'cpu',
                     progress: Optional[Callable[[int], None]] = None) -> tuple[Tensor, Tensor]:
    """Features and labels of every sample of ``dataloader``, in its order.

    ``model`` needs ``data_preprocessor`` and ``extract_feat(inputs) -> [B, C]`` (e.g.
    `MoCo`'s pooled backbone features); each sample's class index is read from
    ``data_samples.metainfo['gt_label']``. The model is moved to ``device`` and run in eval
    mode (BatchNorm uses its running statistics, so a sample's feature does not depend on
    its batch); its training mode is restored afterwards. ``progress`` is called with the
    number of samples done after each batch.

    Returns ``(features float32 [N, C], labels int64 [N])`` on the CPU, where a large bank
    of one split fits more easily than on the accelerator.
    """
    if not callable(getattr(model, 'extract_feat', None)):
        raise TypeError(f'{type(model).__name__} has no extract_feat(inputs) method: feature '
                        'evaluation needs a model that maps images to [B, C] features')
    if getattr(model, 'data_preprocessor', None) is None:
        raise TypeError(f'{type(model).__name__} has no data_preprocessor')
    was_training = model.training
    model.to(device).eval()
    features, labels = [], []
    try:
        for batch in dataloader:
            data = model.data_preprocessor(batch, False)
            samples = data.get('data_samples') or []
            if len(samples) != len(data['inputs']):
                raise ValueError(f"a batch has {len(data['inputs'])} inputs but {len(samples)} "
                                 'data_samples: every sample needs a gt_label')
            labels.extend(_sample_label(sample, len(labels)) for sample in samples)
            batch_features = model.extract_feat(data['inputs'])
            if not isinstance(batch_features, Tensor) or batch_features.shape[:1] != (len(samples),) \
                    or batch_features.ndim != 2:
                shape = tuple(batch_features.shape) if isinstance(batch_features, Tensor) else type(batch_features)
                raise ValueError(f'{type(model).__name__}.extract_feat must return [B={len(samples)}, C] '
                                 f'features, got {shape}')
            features.append(batch_features.float().cpu())
            if progress is not None:
                progress(len(labels))
    finally:
        model.train(was_training)
    if not features:
        raise ValueError('the dataloader yielded no samples')
    return torch.cat(features), torch.tensor(labels, dtype=torch.long)


def build_eval_dataloader(cfg: Config, key: str, *, config_name: str = 'the config'):
    """The dataloader of the config's ``key`` (``eval_train_dataloader`` or
    ``eval_test_dataloader``), built in the config's default scope."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from vmem.utils.config_check import ConfigError

    if cfg.get(key) is None:
        raise ConfigError(f'{config_name}: feature evaluation needs the top-level key `{key}` '
                          f'(a labelled dataloader; both of {EVAL_DATALOADER_KEYS} are needed), '
                          'which the config (and its _base_ files) does not set')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'vmem')):
        return Runner.build_dataloader(cfg[key])


def extract_config_features(model: torch.nn.Module, cfg: Config, *, key: str, device: str = 'cpu',
                            config_name: str = 'the config',
                            progress: Optional[Callable[[int], None]] = None) -> LabelledFeatures:
    """`extract_features` over the dataloader of the config's ``key``, with the dataset's
    ``metainfo['classes']``."""
    loader = build_eval_dataloader(cfg, key, config_name=config_name)
    features, labels = extract_features(model, loader, device=device, progress=progress)
    classes = tuple((getattr(loader.dataset, 'metainfo', None) or {}).get('classes') or ())
    if classes and int(labels.max()) >= len(classes):
        raise ValueError(f'{config_name}: `{key}` has a gt_label {int(labels.max())} but its dataset '
                         f'names only {len(classes)} classes')
    return LabelledFeatures(features, labels, classes)


@dataclass
class EvalSplits:
    """Both labelled splits of a feature evaluation: the bank / probe training set and the
    held-out set, with the class names they share."""
    train: LabelledFeatures
    test: LabelledFeatures
    classes: tuple[str, ...]
    num_classes: int


def extract_eval_splits(cfg: Config, checkpoint: Optional[str] = None, *, device: str = 'cpu',
                        config_name: str = 'the config', init_seed: int = 0,
                        progress: Optional[Callable[[str, int], None]] = None) -> EvalSplits:
    """Build ``cfg``'s model (`init_model`: ``checkpoint``'s weights, or random init when
    None) and extract the features of its ``eval_train_dataloader`` and
    ``eval_test_dataloader``. The keys are checked before the model is built, so a config
    without them fails at once. ``progress(key, samples_done)`` reports each batch.
    The random init is drawn from torch's generator seeded with ``init_seed``, so a
    random-init baseline gives the same numbers in every run."""
    from vmem.utils.config_check import ConfigError

    from .model_init import init_model

    missing = [key for key in EVAL_DATALOADER_KEYS if cfg.get(key) is None]
    if missing:
        raise ConfigError(f'{config_name}: feature evaluation needs the top-level key(s) {missing} '
                          '(labelled dataloaders: the k-NN bank / probe training split and the held-out '
                          'split), which the config (and its _base_ files) does not set')
    torch.manual_seed(init_seed)
    model = init_model(cfg, checkpoint, device=device)
    splits = {}
    for key in EVAL_DATALOADER_KEYS:
        report = None if progress is None else (lambda done, key=key: progress(key, done))
        splits[key] = extract_config_features(model, cfg, key=key, device=device,
                                              config_name=config_name, progress=report)
    train, test = splits['eval_train_dataloader'], splits['eval_test_dataloader']
    if train.classes and test.classes and train.classes != test.classes:
        raise ValueError(f'{config_name}: eval_train_dataloader and eval_test_dataloader name different '
                         f'classes ({len(train.classes)}: {train.classes[:5]}... vs '
                         f'{len(test.classes)}: {test.classes[:5]}...); labels would not match')
    classes = train.classes or test.classes
    num_classes = len(classes) if classes else max(train.num_classes, test.num_classes)
    return EvalSplits(train=train, test=test, classes=classes, num_classes=num_classes)
