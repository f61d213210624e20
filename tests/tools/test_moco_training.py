"""tools/train.py on the shipped MoCHi config (tiny SynthVID crops): the queue and the
momentum encoder are checkpointed, and an interrupted, resumed run ends exactly where an
uninterrupted one does."""
import pytest
import torch

from tool_runner import ROOT, run_tool, write_config
from vmem.datasets.synthetic import generate_synthvid

CONFIG = ROOT / 'configs' / 'moco' / 'mochi_r10t_synthvid_crops.py'


@pytest.fixture(scope='module')
def tiny_config(tmp_path_factory):
    folder = tmp_path_factory.mktemp('moco_training')
    generate_synthvid(folder / 'data', split='train', num_videos=2, num_frames=4, width=96, height=64,
                      write_videos=False)
    settings = dict(
        model=dict(queue_size=24, projection_head=dict(hidden_dim=32, out_dim=16),
                   hard_negative_mixer=dict(num_hardest=4, num_mixed=3, num_query_mixed=2)),
        train_dataloader=dict(batch_size=4, num_workers=0, dataset=dict(data_root=f'{folder}/data/')),
        train_cfg=dict(max_iters=4),
        param_scheduler=[dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=4)],
        default_hooks=dict(checkpoint=dict(interval=2), logger=dict(interval=1)))
    full = write_config(folder / 'full.py', CONFIG, **settings)
    stopped = write_config(folder / 'stopped.py', CONFIG, **settings, custom_imports=dict(imports=['toy_modules']),
                           custom_hooks=[dict(type='RandomStateHook'), dict(type='StopTrainingAt', iteration=2)])
    return folder, full, stopped


def test_checkpoint_holds_queue_and_key_encoder_and_resume_is_exact(tiny_config):
    folder, full, stopped = tiny_config
    run_tool('tools/train.py', full, '--work-dir', folder / 'full', timeout=300)
    run_tool('tools/train.py', stopped, '--work-dir', folder / 'part', timeout=300)
    assert (folder / 'part' / 'iter_2.pth').exists() and not (folder / 'part' / 'iter_4.pth').exists()
    result = run_tool('tools/train.py', full, '--work-dir', folder / 'part', '--resume', timeout=300)
    assert 'resumed epoch: 0, iter: 2' in result.stdout + result.stderr

    full_state = torch.load(folder / 'full' / 'iter_4.pth', weights_only=True)['state_dict']
    resumed_state = torch.load(folder / 'part' / 'iter_4.pth', weights_only=True)['state_dict']
    assert int(full_state['queue.num_writes']) == 24 + 4 * 4  # random start + 4 batches of 4 keys
    assert any(key.startswith('momentum_backbone.encoder.') for key in full_state)
    assert full_state.keys() == resumed_state.keys()
    for key in full_state:
        assert torch.equal(full_state[key], resumed_state[key]), key
