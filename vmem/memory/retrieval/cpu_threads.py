"""Running CPU search work on single-threaded workers.

numpy's OpenBLAS and torch's OpenMP pool both spin-wait between calls. When one GEMM in
OpenBLAS is followed by a selection in torch, each library's idle threads spin on the
cores the other needs, and the selection ran up to 2x slower on the 2-core build machines.
Splitting the rows over one single-threaded worker per core avoids the handoff entirely:
every worker runs its own GEMM and its own selection, and no pool ever waits on another.

OpenBLAS's thread count is process-wide, so it is lowered only for the duration of a call
and restored afterwards (the same thing threadpoolctl does, without the dependency).
"""
from __future__ import annotations

import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

_OPENBLAS_SYMBOLS = (('scipy_openblas_set_num_threads64_', 'scipy_openblas_get_num_threads64_'),
                     ('scipy_openblas_set_num_threads', 'scipy_openblas_get_num_threads'),
                     ('openblas_set_num_threads64_', 'openblas_get_num_threads64_'),
                     ('openblas_set_num_threads', 'openblas_get_num_threads'))
_lock = threading.RLock()
_executor: ThreadPoolExecutor | None = None
_executor_size = 0
_openblas: tuple[Callable, Callable] | None | bool = False  # False: not looked up yet


def _find_openblas() -> tuple[Callable, Callable] | None:
    """(set_num_threads, get_num_threads) of the OpenBLAS numpy uses, or None."""
    numpy_dir = os.path.dirname(np.__file__)
    candidates = sorted(glob.glob(os.path.join(numpy_dir, os.pardir, 'numpy.libs', '*openblas*'))
                        + glob.glob(os.path.join(numpy_dir, '.dylibs', '*openblas*')))
    for path in candidates:
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _OPENBLAS_SYMBOLS:
            if hasattr(library, set_name) and hasattr(library, get_name):
                return getattr(library, set_name), getattr(library, get_name)
    return None


def openblas_controls() -> tuple[Callable, Callable] | None:
    global _openblas
    if _openblas is False:
        _openblas = _find_openblas()
    return _openblas


def worker_count() -> int:
    """Workers to use: torch's intra-op thread count (users set it with torch.set_num_threads)."""
    return max(1, torch.get_num_threads())


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Process-wide one-thread OpenBLAS and torch for the duration of the block."""
    controls = openblas_controls()
    with _lock:
        torch_threads = torch.get_num_threads()
        blas_threads = controls[1]() if controls else None
        if controls:
            controls[0](1)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(torch_threads)
            if controls:
                controls[0](blas_threads)


def run_parallel(tasks: Sequence[Callable[[], object]]) -> list:
    """Run ``tasks`` on one single-threaded worker each; results in task order."""
    global _executor, _executor_size
    if len(tasks) == 1:
        return [tasks[0]()]
    if _executor_size < len(tasks):
        if _executor is not None:
            _executor.shutdown(wait=False)
        _executor = ThreadPoolExecutor(max_workers=len(tasks), thread_name_prefix='vmem-topk')
        _executor_size = len(tasks)
    with single_threaded_blas():
        # torch.set_num_threads(1) in the caller does not reach OpenMP's per-thread
        # setting in the workers, so each worker lowers its own.
        futures = [_executor.submit(_single_threaded, task) for task in tasks]
        return [future.result() for future in futures]


def _single_threaded(task: Callable[[], object]) -> object:
    torch.set_num_threads(1)
    return task()
