"""Test-local modules for the tool tests (registered with force=True; not part of vmem).

ToyRegressor trains on ToyNoiseDataset (random numbers drawn in the data path and by
dropout, so a resume that loses the generator state is caught). ToyDetector predicts one
box per frame, for running tools/test.py on real SynthVID data without the detector.
"""
import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.structures import InstanceData

from vmem.registry import DATASETS, HOOKS, MODELS


@DATASETS.register_module(force=True)
class ToyNoiseDataset(torch.utils.data.Dataset):
    def __init__(self, *, length=8, dim=4):
        self.length, self.dim = length, dim
        self.metainfo = dict(classes=('toy',))

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        noise = np.random.normal(size=self.dim).astype(np.float32)  # consumes the global numpy RNG
        return dict(inputs=torch.full((self.dim,), index / self.length) + torch.from_numpy(noise))


@MODELS.register_module(force=True)
class ToyRegressor(BaseModel):
    def __init__(self, *, dim=4):
        super().__init__()
        self.linear = torch.nn.Linear(dim, 1)
        self.dropout = torch.nn.Dropout(0.5)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        output = self.linear(self.dropout(inputs))
        if mode == 'loss':
            return dict(loss=(output - 1).pow(2).mean())
        return output


@MODELS.register_module(force=True)
class ToyDetector(BaseModel):
    """Predicts a box covering the middle of each frame, class 0, with a learnable score."""

    def __init__(self):
        super().__init__()
        self.score = torch.nn.Parameter(torch.tensor(0.5))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'loss':
            return dict(loss=self.score.pow(2))
        results = []
        for sample in data_samples:
            height, width = sample.ori_shape
            pred = InstanceData()
            pred.bboxes = torch.tensor([[width / 4, height / 4, 3 * width / 4, 3 * height / 4]])
            pred.labels = torch.zeros(1, dtype=torch.long)
            pred.scores = self.score.detach().reshape(1).clone()
            sample.pred_instances = pred
            results.append(sample)
        return results


@HOOKS.register_module(force=True)
class StopTrainingAt(Hook):
    """Ends training after `iteration` iterations, as if the job were killed there."""

    priority = 'LOWEST'

    def __init__(self, *, iteration):
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 >= self.iteration:
            runner.train_loop.stop_training = True


@HOOKS.register_module(force=True)
class RecordRank(Hook):
    """Each rank writes its rank, world size, iterations and final weights to the work dir."""

    def after_train(self, runner):
        model = getattr(runner.model, 'module', runner.model)
        torch.save(dict(rank=runner.rank, world_size=runner.world_size, iter=runner.iter,
                        weight=model.linear.weight.detach().clone()),
                   f'{runner.work_dir}/rank{runner.rank}.pt')
