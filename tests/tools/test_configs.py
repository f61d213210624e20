"""The shipped configs load, inherit at most two _base_ levels, and name registered types."""
import ast
from pathlib import Path

import pytest

from tool_runner import ROOT
from vmem.registry import MODELS
from vmem.utils.config_check import check_registered_types
from vmem.utils.runner_args import load_config

CONFIGS = sorted((ROOT / 'configs').rglob('*.py'))


def base_depth(path: Path) -> int:
    tree = ast.parse(path.read_text())
    bases = [node.value for node in tree.body if isinstance(node, ast.Assign)
             and any(getattr(target, 'id', None) == '_base_' for target in node.targets)]
    if not bases:
        return 0
    names = ast.literal_eval(bases[0])
    names = [names] if isinstance(names, str) else names
    return 1 + max(base_depth((path.parent / name).resolve()) for name in names)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_config_loads_with_shallow_inheritance(path):
    assert base_depth(path) <= 2
    cfg = load_config(str(path))
    check_registered_types(cfg, config_path=str(path))


def test_faster_rcnn_configs_facts():
    vid = load_config(str(ROOT / 'configs/faster_rcnn/faster_rcnn_r101_dc5_imagenetvid.py'))
    assert vid.model.backbone.model_name == 'resnet101' and vid.model.roi_head.num_classes == 30
    assert vid.test_dataloader.dataset.pipeline[2]['scale'] == (1000, 600)
    assert vid.param_scheduler[1]['milestones'] == [2, 5] and vid.train_cfg.max_epochs == 7
    tiny = load_config(str(ROOT / 'configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py'))
    assert tiny.model.backbone.model_name == 'resnet10t' and tiny.model.roi_head.num_classes == 8
    assert tiny.train_cfg.type == 'IterBasedTrainLoop' and tiny.log_processor.by_epoch is False
    assert tiny.val_evaluator.type == 'VIDMetric' and tiny.default_scope == 'vmem'
    assert {'RandomStateHook'} == {hook['type'] for hook in tiny.custom_hooks}


@pytest.mark.parametrize('name', ['faster_rcnn_r10t_synthvid_tiny', 'faster_rcnn_r101_dc5_imagenetvid'])
def test_faster_rcnn_configs_build(name):
    from mmengine.registry import DefaultScope
    cfg = load_config(str(ROOT / f'configs/faster_rcnn/{name}.py'))
    with DefaultScope.overwrite_default_scope('vmem'):
        model = MODELS.build(cfg.model)
    assert model.roi_head.num_classes == cfg.model.roi_head.num_classes
