"""Saving and restoring random number generator states, so a resumed run equals an
uninterrupted one.

mmengine's resume restores model, optimizer, schedulers, iteration and message hub, and
re-seeds from the checkpoint's seed, which puts the generators back at their state at
the *start* of training rather than at the checkpoint: dropout, random proposal sampling
and augmentations then differ from the uninterrupted run. This hook stores the torch
(CPU and CUDA), numpy and Python generator states in each checkpoint and restores them.
"""
from __future__ import annotations

import random
from typing import Any, Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from vmem.registry import HOOKS

CHECKPOINT_KEY = 'rng_state'


def get_rng_state() -> dict:
    state = dict(torch=torch.get_rng_state(), numpy=np.random.get_state(), python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state['torch'])
    np.random.set_state(state['numpy'])
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfterSkip:
    """Wraps an iteration-based loop's data iterator: mmengine re-reads the batches
    already trained on when it resumes, which draws random numbers (augmentations run in
    this process when num_workers=0); the state is restored after that skip, right
    before the first new batch, where the uninterrupted run saved it."""

    def __init__(self, iterator: Any, *, skip: int, state: dict) -> None:
        self._iterator, self._skip, self._state = iterator, skip, state

    def __iter__(self):
        return self

    def __next__(self):
        if self._state is not None:
            if self._skip == 0:
                set_rng_state(self._state)
                self._state = None
            else:
                self._skip -= 1
        return next(self._iterator)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Store generator states in checkpoints; restore them when training resumes.

    Checkpoints are written by rank 0 only, so a multi-process run resumes every rank
    with rank 0's state (exact for single-process runs)."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._resumed_state: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = get_rng_state()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._resumed_state = checkpoint.get(CHECKPOINT_KEY)

    def before_train(self, runner) -> None:
        state, self._resumed_state = self._resumed_state, None
        # load_from (fine-tuning) also loads a checkpoint; only a resume continues its stream.
        if state is None or runner.iter == 0 and runner.epoch == 0:
            return
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):
            loop.dataloader_iterator = _RestoreAfterSkip(loop.dataloader_iterator, skip=runner.iter, state=state)
        else:
            set_rng_state(state)
