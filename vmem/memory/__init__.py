"""The shared memory bank and its top-k retrieval. Pure torch: no model imports."""
from .bank import MemoryBank, MemoryRead
from .coreset import greedy_coreset
from .fields import FieldSpec
from .grouped import HORIZONS, GroupedMemoryBank
from .io import load_memory, save_memory
from .policies import (FIFOQueue, MomentumById, PinnedRecent, RandomReplace, WritePlan,
                       WritePolicy, build_write_policy)
from .retrieval import TopkResult, available_backends, topk

__all__ = [
    'FIFOQueue', 'FieldSpec', 'GroupedMemoryBank', 'HORIZONS', 'MemoryBank', 'MemoryRead',
    'MomentumById', 'PinnedRecent', 'RandomReplace', 'TopkResult', 'WritePlan', 'WritePolicy',
    'available_backends', 'build_write_policy', 'greedy_coreset', 'load_memory', 'save_memory',
    'topk',
]
