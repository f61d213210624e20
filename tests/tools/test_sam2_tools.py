"""The SAM 2-style tracker through tools/train.py and tools/test.py on a miniature SynthVID:
training on clips with masks, then semi-supervised VOS (J&F and box metrics)."""
import re

import pytest

from tool_runner import run_tool
from vmem.datasets.synthetic import generate_synthvid

CONFIG = 'configs/sam2/sam2_tiny_synthvid.py'


@pytest.fixture(scope='module')
def synthvid_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthvid_vos')
    for split in ('train', 'val'):
        generate_synthvid(root, split=split, num_videos=2, num_frames=6, width=96, height=64, write_videos=False)
    return root


def data_options(root, split='val'):
    ann = f'{root}/annotations/synthvid_{split}.json'
    return [f'train_dataloader.dataset.data_root={root}/', f'val_dataloader.dataset.data_root={root}/',
            f'test_dataloader.dataset.data_root={root}/', f'val_evaluator.ann_file={ann}',
            'test_dataloader.dataset.ann_file=annotations/synthvid_val.json',
            'test_dataloader.dataset.data_prefix.img_path=val/frames', f'test_evaluator.ann_file={ann}',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']


def test_train_then_test_semi_supervised_vos(synthvid_root, tmp_path):
    work_dir = tmp_path / 'work'
    run_tool('tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_iters=3',
             'train_cfg.val_interval=3', 'default_hooks.checkpoint.interval=3', *data_options(synthvid_root),
             timeout=300)
    checkpoint = work_dir / 'iter_3.pth'
    assert checkpoint.is_file()
    for extra in ([], ['model.memory.prompted_only=True']):
        result = run_tool('tools/test.py', CONFIG, checkpoint, '--work-dir', tmp_path / 'test',
                          '--cfg-options', *data_options(synthvid_root), *extra, timeout=300)
        metrics = dict(re.findall(r'\| (vos/J&F|vos/J|vos/F|box/success_auc) +\| ([0-9.]+)', result.stdout))
        assert set(metrics) == {'vos/J&F', 'vos/J', 'vos/F', 'box/success_auc'}, result.stdout[-1500:]
        assert all(0.0 <= float(v) <= 1.0 for v in metrics.values())
