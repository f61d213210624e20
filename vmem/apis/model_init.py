"""`init_model`: a model ready for inference from a config file and a checkpoint.

The model comes back in eval mode on the requested device, with two attributes that
inference needs and ``state_dict`` does not carry: ``cfg`` (the config, for the test
pipeline) and ``dataset_meta`` (class names: from the checkpoint's ``meta``, which
mmengine fills from the training dataset, else from the config's test dataset).
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Union

import torch
from mmengine.config import Config

DEVICES = ('cpu', 'cuda')


def init_model(config: Union[str, os.PathLike, Config], checkpoint: Optional[str] = None, *,
               device: str = 'cpu', cfg_options: Optional[Mapping[str, Any]] = None):
    """Build ``config``'s model, load ``checkpoint`` strictly (``weights_only``: no code
    runs), move it to ``device`` and set it to eval mode.

    Without a checkpoint the layers keep their construction-time random weights; the
    config's ``init_cfg`` is not applied, as it may name pretrained files absent here.
    A checkpoint trained with another config raises ``ValueError`` listing the keys that
    do not match.
    """
    from mmengine.registry import DefaultScope

    from vmem.registry import MODELS
    from vmem.utils.config_check import check_registered_types
    from vmem.utils.runner_args import load_config
    from vmem.utils.weights_loading import load_model_weights, read_checkpoint

    check_device(device)
    if isinstance(config, Config):
        cfg, config_name = config.copy(), config.filename or 'the config'
        if cfg_options:
            cfg.merge_from_dict(dict(cfg_options))
    else:
        config_name = os.fspath(config)
        cfg = load_config(config_name, cfg_options)
    if cfg.get('model') is None:
        raise ValueError(f'{config_name}: the config has no `model`')
    check_registered_types({'model': cfg.model}, config_path=config_name)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'vmem')):
        model = MODELS.build(cfg.model)
    checkpoint_meta = {}
    if checkpoint is not None:
        loaded = read_checkpoint(os.fspath(checkpoint))
        load_model_weights(model, os.fspath(checkpoint), strict=True, checkpoint=loaded)
        checkpoint_meta = loaded.get('meta') or {}
    model.cfg = cfg
    model.dataset_meta = dict(checkpoint_meta.get('dataset_meta') or config_dataset_meta(cfg))
    return model.to(device).eval()


def config_dataset_meta(cfg: Config) -> dict:
    """``metainfo`` of the config's test (else val) dataset, e.g. ``{'classes': (...)}``;
    empty when the config names none (the classes then come from the annotation file)."""
    for key in ('test_dataloader', 'val_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset') or {}
        if dataset.get('metainfo'):
            return dict(dataset['metainfo'])
    return {}


def check_device(device: str) -> None:
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == 'cuda' and not torch.cuda.is_available():
        raise ValueError('device cuda: no CUDA device is visible to torch')
