"""tools/selfsup/knn_eval.py, linear_probe.py and feature_table.py on a tiny MoCo over tiny labelled images.

The labelled data is `TinyColourImages` below, registered under a test-only name only
while these tests run (in this process) or in the tool subprocesses, which import this
module through the config's ``custom_imports``: test_registry builds every registered
module and must not meet it.
"""
import json
import os
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from tool_runner import ROOT, run_tool, tool_env
from vmem.registry import DATASETS
from vmem.structures import DetDataSample
from vmem.utils import register_all_modules

KNN_EVAL = ROOT / 'tools' / 'selfsup' / 'knn_eval.py'
LINEAR_PROBE = ROOT / 'tools' / 'selfsup' / 'linear_probe.py'
FEATURE_TABLE = ROOT / 'tools' / 'selfsup' / 'feature_table.py'
HERE = Path(__file__).resolve().parent

register_all_modules(init_default_scope=False)


DATASET_NAME = 'TestOnlyTinyColourImages'
REGISTER_FLAG = 'VMEM_TEST_REGISTER_TINY_COLOUR_IMAGES'


class TinyColourImages(Dataset):
    """Small images whose dominant colour channel is their class, with a little noise."""

    def __init__(self, *, length: int = 12, size: int = 32, seed: int = 0):
        generator = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(length) % 3
        self.images = torch.randint(0, 60, (length, 3, size, size), generator=generator, dtype=torch.uint8)
        self.images[torch.arange(length), self.labels] += 150
        self.metainfo = dict(classes=('red', 'green', 'blue'))

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        sample = DetDataSample()
        sample.set_metainfo(dict(gt_label=int(self.labels[index]), img_id=index))
        return dict(inputs=self.images[index].clone(), data_samples=sample)


def register_dataset():
    DATASETS.register_module(name=DATASET_NAME, module=TinyColourImages, force=True)


if os.environ.get(REGISTER_FLAG) == '1':   # imported by a tool's config
    register_dataset()


@pytest.fixture(scope='module', autouse=True)
def tiny_colour_images():
    register_dataset()
    yield
    DATASETS.module_dict.pop(DATASET_NAME, None)


def loader(length, seed):
    return dict(batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dict(type=DATASET_NAME, length=length, seed=seed))


def write_config(path, *, with_test=True):
    settings = dict(
        default_scope='vmem',
        custom_imports=dict(imports=['test_selfsup_tools'], allow_failed_imports=False),
        model=dict(type='MoCo',
                   backbone=dict(type='TimmBackbone', model_name='resnet10t', out_indices=(4,), norm_eval=False),
                   projection_head=dict(hidden_dim=64, out_dim=32), queue_size=64,
                   data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=1)),
        eval_train_dataloader=loader(12, seed=0))
    if with_test:
        settings['eval_test_dataloader'] = loader(6, seed=1)
    path.write_text(''.join(f'{key} = {value!r}\n' for key, value in settings.items()))
    return str(path)


def env():
    # this module is the tools' custom import: its folder goes on their path
    environment = tool_env(**{REGISTER_FLAG: '1'})
    environment['PYTHONPATH'] = f"{HERE}:{environment['PYTHONPATH']}"
    return environment


@pytest.fixture(scope='module')
def config_and_checkpoint(tmp_path_factory):
    """The tiny config, and a checkpoint of its model with its random weights."""
    from vmem.apis import init_model
    folder = tmp_path_factory.mktemp('selfsup_tools')
    config = write_config(folder / 'tiny_moco.py')
    torch.manual_seed(0)
    model = init_model(config)
    checkpoint = folder / 'tiny_moco.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    return config, str(checkpoint)


def test_knn_eval_with_checkpoint_matches_the_library(config_and_checkpoint, tmp_path):
    from vmem.apis import extract_eval_splits
    from vmem.models.selfsup import knn_accuracy
    from vmem.utils.runner_args import load_config

    config, checkpoint = config_and_checkpoint
    out = tmp_path / 'knn.json'
    result = run_tool(KNN_EVAL, config, checkpoint, '--k', '5', '--out', out, env=env())
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith('k-NN top1 ') and 'k=5' in line
    assert 'bank 12 samples, test 6 samples, 3 classes' in line and f'weights: {checkpoint}' in line
    saved = json.loads(out.read_text())
    assert saved['bank_samples'] == 12 and saved['test_samples'] == 6 and saved['num_classes'] == 3
    assert 'top5' not in saved   # 3 classes

    splits = extract_eval_splits(load_config(config), checkpoint)
    expected = knn_accuracy(splits.train.features, splits.train.labels, splits.test.features, splits.test.labels,
                            num_classes=3, k=5)
    assert saved['top1'] == pytest.approx(expected['top1'])


def test_linear_probe_random_init(config_and_checkpoint, tmp_path):
    config, _ = config_and_checkpoint
    out = tmp_path / 'probe.json'
    result = run_tool(LINEAR_PROBE, config, '--epochs', '5', '--seed', '3', '--out', out, env=env())
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith('linear probe top1 ') and 'train_top1' in line
    assert 'train 12 samples, test 6 samples, 3 classes' in line
    assert 'weights: random init (no checkpoint)' in line
    saved = json.loads(out.read_text())
    assert 0.0 <= saved['top1'] <= 100.0 and saved['epochs'] == 5 and saved['seed'] == 3
    assert saved['checkpoint'] is None


@pytest.mark.parametrize('tool', [KNN_EVAL, LINEAR_PROBE])
def test_missing_eval_dataloader_names_the_key_and_config(tool, tmp_path):
    config = write_config(tmp_path / 'no_test_split.py', with_test=False)
    result = run_tool(tool, config, expect_ok=False, env=env())
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith('error: ') and 'eval_test_dataloader' in message and config in message
    assert 'Traceback' not in result.stderr


def test_knn_eval_on_the_synthvid_crops_config(tmp_path):
    """The shipped config's eval dataloaders (ObjectCropDataset + PackClassificationInputs)
    on a tiny generated SynthVID."""
    from vmem.datasets.synthetic import generate_synthvid
    for split in ('train', 'val'):
        generate_synthvid(tmp_path, split=split, num_videos=2, num_frames=4, width=96, height=64, write_videos=False)
    options = [f'{key}.{setting}' for key in ('eval_train_dataloader', 'eval_test_dataloader')
               for setting in (f'dataset.data_root={tmp_path}/', 'num_workers=0', 'batch_size=8')]
    result = run_tool(KNN_EVAL, ROOT / 'configs' / 'moco' / 'mocov2_r10t_synthvid_crops.py', '--k', '5',
                      '--cfg-options', *options, 'model.queue_size=64')
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith('k-NN top1 ') and '8 classes' in line and 'random init' in line


def test_feature_table_scores_every_model_once(config_and_checkpoint, tmp_path):
    config, checkpoint = config_and_checkpoint
    out = tmp_path / 'knn.json'
    run_tool(KNN_EVAL, config, checkpoint, '--out', out, env=env())
    result = run_tool(FEATURE_TABLE, config, '--models', 'random=', f'trained={checkpoint}', 'again=',
                      '--epochs', '5', '--seeds', '0', '1', env=env())
    rows = [line for line in result.stdout.splitlines() if line.startswith(('| random', '| trained', '| again'))]
    assert len(rows) == 3 and rows[0].endswith('| random init |') and rows[1].endswith(f'| {checkpoint} |')
    assert rows[0].split('|')[2:] == rows[2].split('|')[2:]  # the random init is seeded: same numbers
    knn = float(rows[1].split('|')[2])
    assert knn == pytest.approx(json.loads(out.read_text())['top1'], abs=0.01)  # the same vote as knn_eval
    assert '±' in rows[1]   # two probe seeds: mean and spread
    bad = run_tool(FEATURE_TABLE, config, '--models', 'no-separator', expect_ok=False, env=env())
    assert bad.returncode != 0 and 'NAME=CHECKPOINT' in bad.stderr
