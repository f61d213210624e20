"""Safe mmengine checkpoints on torch >= 2.6.

torch.load defaults to ``weights_only=True``, which refuses what mmengine 0.10.7 pickles
into a checkpoint's ``message_hub``: its HistoryBuffer objects, whose default pickling
includes ``getattr`` calls for their statistics methods, and numpy arrays. mmengine
0.11's fix turns ``weights_only`` off, which runs any code a checkpoint carries. vmem
instead (1) pickles a HistoryBuffer as a constructor call on plain lists, and
(2) allowlists that class and numpy's array types, which are data only. ``getattr`` is
never allowed, since it would let a file reach arbitrary callables.

Checkpoints written by plain mmengine (with the getattr calls) are refused with
torch's message; re-save them with vmem loaded, in a process you trust.
"""
from __future__ import annotations

import copyreg

import numpy as np
import torch


def _numpy_types() -> list:
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith('DType')]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtype_classes]


def _reduce_history_buffer(buffer):
    return type(buffer), (buffer._log_history.tolist(), buffer._count_history.tolist(),
                          buffer.max_length)


def enable_safe_checkpoints() -> None:
    """Make checkpoints saved from now on loadable with ``weights_only=True``, and let
    such loads read them. Idempotent; called by `vmem.utils.register_all_modules`."""
    from mmengine.logging.history_buffer import HistoryBuffer
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    torch.serialization.add_safe_globals([HistoryBuffer, *_numpy_types()])
