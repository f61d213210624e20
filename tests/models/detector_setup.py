"""A tiny ResNet-18 Faster R-CNN config and SynthVID batches for the model tests."""
import copy
from pathlib import Path

from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

DATA_CONFIG = str(Path(__file__).resolve().parents[2] / 'configs/_base_/datasets/synthvid.py')


def tiny_detector_config(**overrides) -> dict:
    """ResNet-18 (up to C4, stride 16) Faster R-CNN for 8 classes, sized for CPU tests."""
    config = dict(
        type='FasterRCNN',
        data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=32),
        backbone=dict(type='TimmBackbone', model_name='resnet18', out_indices=(3,), frozen_stages=1,
                      norm_eval=True),
        rpn_head=dict(type='RPNHead', in_channels=256, anchor_sizes=((16, 32, 64, 128),),
                      aspect_ratios=((0.5, 1.0, 2.0),), pre_nms_top_n_train=600, post_nms_top_n_train=100,
                      pre_nms_top_n_test=600, post_nms_top_n_test=50, batch_size_per_image=64),
        roi_head=dict(type='StandardRoIHead', num_classes=8, batch_size_per_image=64,
                      box_head=dict(type='TwoFCBoxHead', in_channels=256, fc_channels=64),
                      score_thr=0.0, max_per_img=20))
    config.update(overrides)
    return config


def first_batch(root: str, loader_name: str, *, batch_size: int, pipeline=None) -> dict:
    """One collated batch from the shipped SynthVID dataset config (pipeline optionally replaced)."""
    cfg = Config.fromfile(DATA_CONFIG)
    loader = copy.deepcopy(cfg[loader_name])
    loader.update(num_workers=0, persistent_workers=False, batch_size=batch_size)
    loader['dataset']['data_root'] = root
    if loader_name != 'train_dataloader':
        loader['sampler'] = dict(type='DefaultSampler', shuffle=False)
    if pipeline is not None:
        loader['dataset']['pipeline'] = pipeline
    with DefaultScope.overwrite_default_scope('vmem'):
        return next(iter(Runner.build_dataloader(loader, seed=0)))
