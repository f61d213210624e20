"""Memories of the detectors: MAMBA's per-stream banks read as light-weight key sets and
attended with GEO, and Context R-CNN's per-camera long-term memory."""
from .camera_memory import CameraMemory, CameraRead
from .context_aggregator import CONTEXT_READS_KEY, SHORT_READS_KEY, ContextAggregator
from .instance_memory import InstanceMemory
from .key_set import KEY_SETS, check_key_set, read_key_set
from .pixel_memory import PixelMemory, cells_in_boxes
from .score_memory import ScoreMemory
from .step import STEP_KEY, MemoryStep
from .streams import StreamMemory

__all__ = ['CONTEXT_READS_KEY', 'CameraMemory', 'CameraRead', 'ContextAggregator', 'InstanceMemory', 'KEY_SETS',
           'MemoryStep', 'PixelMemory', 'SHORT_READS_KEY', 'STEP_KEY', 'ScoreMemory', 'StreamMemory', 'cells_in_boxes',
           'check_key_set', 'read_key_set']
