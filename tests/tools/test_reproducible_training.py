"""The same seed gives the same training on the same CPU machine: two seeded runs of the
real tiny MAMBA config (data loader workers, random reference frames, random memory keys)
log exactly the same losses, and another seed does not."""
import json

import pytest

from tool_runner import run_tool
from vmem.datasets.synthetic import generate_synthvid

MAMBA = 'configs/mamba/mamba_r10t_synthvid_tiny.py'


@pytest.fixture(scope='module')
def synthvid_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthvid')
    for split in ('train', 'val'):
        generate_synthvid(root, split=split, num_videos=2, num_frames=6, write_videos=False)
    return root


def logged_losses(work_dir):
    """Every logged 'loss' (one per iteration) from mmengine's scalars.json."""
    (scalars,) = work_dir.glob('*/vis_data/scalars.json')
    return [json.loads(line)['loss'] for line in scalars.read_text().splitlines() if '"loss"' in line]


def train(root, work_dir, seed):
    run_tool('tools/train.py', MAMBA, '--work-dir', work_dir, '--cfg-options', f'randomness.seed={seed}',
             'train_cfg.max_iters=3', 'train_cfg.val_interval=100', 'default_hooks.logger.interval=1',
             f'train_dataloader.dataset.data_root={root}/', f'val_dataloader.dataset.data_root={root}/',
             f'val_evaluator.ann_file={root}/annotations/synthvid_val.json', timeout=300)
    return logged_losses(work_dir)


def test_two_seeded_trainings_log_identical_losses(synthvid_root, tmp_path):
    first = train(synthvid_root, tmp_path / 'first', seed=3)
    second = train(synthvid_root, tmp_path / 'second', seed=3)
    assert len(first) == 3
    assert first == second   # exactly, not approximately
    assert train(synthvid_root, tmp_path / 'other', seed=4) != first
