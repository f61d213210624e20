"""Drawing test predictions onto their original frames (``tools/test.py --show-dir``).

The model's outputs carry predictions in original-image coordinates and, in their meta
info, where the frame came from; the frame is read again from there rather than taken
from the batch, because the batch holds the resized (and, for memory models, clipped)
network input.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from mmengine.hooks import Hook
from mmengine.logging import print_log

from vmem.registry import HOOKS
from vmem.structures import TrackDataSample
from vmem.video import FrameSource, open_video, read_image, write_image
from vmem.visualization import DetectionDrawer


def show_path(show_dir: str | os.PathLike, metainfo: dict) -> Optional[Path]:
    """Where the drawing of the frame described by ``metainfo`` goes:
    ``<show_dir>/<frame folder name>/<frame file stem>.jpg`` for image files,
    ``<show_dir>/<video file stem>/frame_<frame_id:06d>.jpg`` for frames of a video file,
    None when the meta info names no source."""
    if metainfo.get('img_path'):
        image = Path(metainfo['img_path'])
        return Path(show_dir) / image.parent.name / f'{image.stem}.jpg'
    if metainfo.get('video_path') and metainfo.get('frame_id') is not None:
        video = Path(metainfo['video_path'])
        return Path(show_dir) / video.stem / f"frame_{int(metainfo['frame_id']):06d}.jpg"
    return None


@HOOKS.register_module()
class DetVisualizationHook(Hook):
    """Write every ``interval``-th test batch's predictions, drawn on the original frames,
    as jpg files under ``show_dir`` (see :func:`show_path`).

    Every rank draws the samples it predicted; their files are distinct, so no gathering
    is needed. Class names come from the test dataset's ``metainfo['classes']``.
    """

    priority = 'LOW'  # after hooks that might still edit the outputs

    def __init__(self, *, show_dir: str | os.PathLike, score_thr: float = 0.3, interval: int = 1) -> None:
        if not isinstance(show_dir, (str, os.PathLike)) or not str(show_dir):
            raise ValueError(f'show_dir must be a folder path, got {show_dir!r}')
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be an int >= 1, got {interval!r}')
        self.show_dir = Path(show_dir)
        self.score_thr = score_thr
        self.interval = interval
        DetectionDrawer(score_thr=score_thr)  # fail at build time, not after the first batch, on a bad score_thr
        self._drawer: Optional[DetectionDrawer] = None
        # Frames of one video arrive in order, so one open reader at a time avoids
        # reopening (and seeking from the start of) the file for every frame.
        self._video: Optional[FrameSource] = None
        self._video_path: Optional[str] = None
        self._warned_no_source = False

    def before_test(self, runner) -> None:
        self._drawer = DetectionDrawer(class_names=_class_names(runner), score_thr=self.score_thr)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs: Optional[Sequence] = None) -> None:
        if not outputs or not self.every_n_inner_iters(batch_idx, self.interval):
            return
        if self._drawer is None:  # called outside a TestLoop
            self.before_test(runner)
        for output in outputs:
            # A clip sample (should a model return one) is shown through its key frames.
            for sample in output.key_frames if isinstance(output, TrackDataSample) else [output]:
                self._show(sample)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._close_video()

    def _show(self, sample) -> None:
        predictions = getattr(sample, 'pred_instances', None)
        if predictions is None:
            return
        metainfo = sample.metainfo
        path = show_path(self.show_dir, metainfo)
        if path is None:
            if not self._warned_no_source:
                print_log('DetVisualizationHook: skipping test samples whose meta info has neither img_path '
                          f'nor video_path + frame_id (first one has keys {sorted(metainfo)})',
                          logger='current', level=logging.WARNING)
                self._warned_no_source = True
            return
        write_image(path, self._drawer.draw(self._read_frame(metainfo), predictions))

    def _read_frame(self, metainfo: dict) -> np.ndarray:
        if metainfo.get('img_path'):
            return read_image(metainfo['img_path'])
        video_path = str(metainfo['video_path'])
        if video_path != self._video_path:
            self._close_video()
            self._video, self._video_path = open_video(video_path), video_path
        return self._video.read(int(metainfo['frame_id']))

    def _close_video(self) -> None:
        if self._video is not None:
            self._video.close()
        self._video, self._video_path = None, None


def _class_names(runner) -> Optional[Sequence[str]]:
    dataset = getattr(getattr(runner, 'test_dataloader', None), 'dataset', None)
    classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    return list(classes) if classes else None
