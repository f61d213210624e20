"""Building Context R-CNN's per-camera memory banks for a dataset with a frozen detector."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import torch

from vmem.models.detectors.context_rcnn import normalised_cxcywh
from vmem.models.memory.camera_memory import CameraMemory


@dataclass
class MemoryBuildReport:
    frames: int = 0
    entries_written: int = 0
    frames_without_camera: int = 0
    frames_without_time: int = 0


@torch.no_grad()
def build_camera_memory(detector, batches: Iterable[dict], memory: CameraMemory, *,
                        progress: Optional[Callable[[int], None]] = None) -> MemoryBuildReport:
    """Run ``detector`` (a `FasterRCNN`; a `ContextRCNN`'s own frozen detector included)
    over ``batches`` (a test dataloader's) and write each frame's top detections to
    ``memory`` under its ``camera`` at its ``timestamp``. No labels are used, so a bank of
    the test split is legitimate test-time memory. Frames without a camera or a time are
    counted and skipped (a horizon needs a time)."""
    detector.eval()
    report = MemoryBuildReport()
    for batch in batches:
        data = detector.data_preprocessor(batch, False)
        inputs, samples = data['inputs'], detector.key_samples(data['data_samples'])
        results = detector.detections_with_features(inputs, samples)
        for sample, (boxes, scores, labels, features) in zip(samples, results):
            meta = sample.metainfo
            report.frames += 1
            if meta.get('camera') is None:
                report.frames_without_camera += 1
                continue
            if meta.get('timestamp') is None:
                report.frames_without_time += 1
                continue
            report.entries_written += memory.write(
                meta['camera'], features=features, boxes=normalised_cxcywh(boxes, meta, tuple(inputs.shape[-2:])),
                scores=scores, labels=labels, timestamp=meta['timestamp'], image_id=meta.get('img_id', -1),
                video_id=meta.get('video_id'))
        if progress is not None:
            progress(report.frames)
    return report
