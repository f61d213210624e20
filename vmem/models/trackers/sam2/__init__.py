"""The SAM 2 network, its per-object memory and its frame steps (see `SAM2Tracker`)."""
from .frame_step import Prompt, StreamState, remember, segment_prompted, track
from .network import FrameFeatures, FrameOutput, MemoryFrames, SAM2Network
from .object_memory import ClipMemory, ObjectMemory

__all__ = ['ClipMemory', 'FrameFeatures', 'FrameOutput', 'MemoryFrames', 'ObjectMemory', 'Prompt', 'SAM2Network',
           'StreamState', 'remember', 'segment_prompted', 'track']
