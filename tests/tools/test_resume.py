"""An interrupted and resumed run ends with exactly the weights of an uninterrupted one.

The toy model uses dropout and its dataset draws numpy noise, so losing the generator
states on resume (mmengine re-seeds from the start) changes the result."""
import torch

from tool_runner import TOY_TRAIN, run_tool, write_config


def final_weights(work_dir):
    checkpoint = torch.load(work_dir / 'iter_6.pth', weights_only=True)  # safe loading works
    return checkpoint['state_dict'], checkpoint


def test_resume_matches_uninterrupted_run(tmp_path):
    run_tool('tools/train.py', TOY_TRAIN, '--work-dir', tmp_path / 'full')
    interrupted = write_config(tmp_path / 'interrupted.py', TOY_TRAIN, custom_hooks=[
        dict(type='RandomStateHook'), dict(type='StopTrainingAt', iteration=3)])
    run_tool('tools/train.py', interrupted, '--work-dir', tmp_path / 'part')
    assert not (tmp_path / 'part' / 'iter_6.pth').exists() and (tmp_path / 'part' / 'iter_3.pth').exists()
    result = run_tool('tools/train.py', TOY_TRAIN, '--work-dir', tmp_path / 'part', '--resume')
    assert 'resumed epoch: 0, iter: 3' in result.stdout + result.stderr

    full, full_checkpoint = final_weights(tmp_path / 'full')
    resumed, resumed_checkpoint = final_weights(tmp_path / 'part')
    assert full.keys() == resumed.keys()
    for key in full:
        assert torch.equal(full[key], resumed[key]), key
    assert full_checkpoint['optimizer']['param_groups'][0]['lr'] == resumed_checkpoint['optimizer']['param_groups'][0]['lr']
    assert torch.equal(full_checkpoint['rng_state']['torch'], resumed_checkpoint['rng_state']['torch'])
