"""The "training" loop of memory-bank models: one pass over the data, then build the bank."""
from __future__ import annotations

from typing import Union

from mmengine.model import is_model_wrapper
from mmengine.runner.base_loop import BaseLoop
from torch.utils.data import DataLoader

from vmem.registry import LOOPS


@LOOPS.register_module()
class MemoryBankBuildLoop(BaseLoop):
    """``train_cfg = dict(type='MemoryBankBuildLoop')``: feed every training batch once to
    ``model.collect(data_batch)``, then call ``model.build_memory()``.

    Why a loop and not mmengine's ``EpochBasedTrainLoop`` with a zero loss: a memory model
    has nothing to optimise, and the bank must be built after the last batch but before
    the checkpoint is written. Here that order is explicit; the usual hooks still run
    (``before/after_train_iter`` for logging, ``after_train_epoch`` for the
    ``CheckpointHook``, which then saves ``epoch_1.pth`` with the bank in it). mmengine's
    Runner still asks for an ``optim_wrapper`` in the config; it is built and never stepped.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, dict]) -> None:
        super().__init__(runner, dataloader)
        self._epoch = 0
        self._iter = 0
        self._max_iters = len(self.dataloader)

    @property
    def max_epochs(self) -> int:
        return 1

    @property
    def max_iters(self) -> int:
        return self._max_iters

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def iter(self) -> int:
        return self._iter

    def run(self):
        runner = self.runner
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        for method in ('collect', 'build_memory'):
            if not callable(getattr(model, method, None)):
                raise TypeError(f'MemoryBankBuildLoop needs a model with {method}(); '
                                f'{type(model).__name__} has none')
        runner.call_hook('before_train')
        runner.call_hook('before_train_epoch')
        model.eval()
        for index, data_batch in enumerate(self.dataloader):
            runner.call_hook('before_train_iter', batch_idx=index, data_batch=data_batch)
            outputs = model.collect(data_batch)
            runner.message_hub.update_scalars({f'train/{key}': value for key, value in outputs.items()})
            self._iter += 1
            runner.call_hook('after_train_iter', batch_idx=index, data_batch=data_batch, outputs=outputs)
        bank = model.build_memory()
        runner.logger.info(f'memory bank built: {len(bank)} entries of dimension {bank.dim}')
        runner.call_hook('after_train_epoch')
        self._epoch += 1
        runner.call_hook('after_train')
        return model
