"""mmengine checkpoints written with vmem load with torch's weights_only=True, and a
checkpoint carrying code is refused."""
import pickle

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner

from vmem.memory import MemoryBank


class TinyModel(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        # a learned bank (as in PatchCore / MoCo) must survive save and resume
        self.queue = MemoryBank(capacity=6, dim=2, fields=dict(step='int64'))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        batch = torch.stack(inputs) if isinstance(inputs, list) else inputs
        output = self.linear(batch)
        if mode == 'loss':
            self.queue.write(batch.detach(), step=int(self.queue.num_writes))
            return dict(loss=output.pow(2).mean())
        return output


def make_runner(work_dir, max_iters, **kwargs):
    dataset = [dict(inputs=torch.full((2,), float(i))) for i in range(8)]
    return Runner(
        model=TinyModel(), work_dir=str(work_dir),
        train_dataloader=dict(dataset=dataset, batch_size=2, collate_fn=dict(type='default_collate'),
                              sampler=dict(type='DefaultSampler', shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        default_scope='vmem', **kwargs)


def test_resume_and_load_from_with_weights_only(tmp_path):
    first = make_runner(tmp_path / 'a', max_iters=2)
    first.train()
    checkpoint = tmp_path / 'a' / 'iter_2.pth'
    state = torch.load(checkpoint, weights_only=True)  # the strict loader reads it
    assert state['meta']['iter'] == 2
    assert state['state_dict']['queue.occupied'].sum() == 4

    resumed = make_runner(tmp_path / 'a', max_iters=4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    assert torch.equal(resumed.model.queue.num_writes, torch.tensor(8))

    loaded = make_runner(tmp_path / 'b', max_iters=1, load_from=str(checkpoint))
    loaded.load_or_resume()
    torch.testing.assert_close(loaded.model.linear.weight, first.model.linear.weight)


class RunsCode:
    def __reduce__(self):
        return (print, ('this must never run',))


def test_checkpoint_carrying_code_is_refused(tmp_path, capsys):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': RunsCode()}, path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    assert 'this must never run' not in capsys.readouterr().out
