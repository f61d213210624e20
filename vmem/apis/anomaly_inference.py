"""Anomaly maps and scores from a PatchCore-style model, for images, folders and videos.

    model = init_model('configs/patchcore/patchcore_r18_synthetic_tiny.py', 'epoch_1.pth')
    inferencer = AnomalyInferencer(model=model)
    result = inferencer.predict(rgb_image)                 # one (H, W, 3) uint8 array
    for result in inferencer('folder_or_video_or_image'):  # frame by frame, in order
        print(result.source, result.score)
        overlay = inferencer.draw(result)                  # heat map over the image

Each image goes through the config's test pipeline (without its mask loading), so it is
resized as in testing; the map comes back at the image's own size. Frames of a video are
scored independently: PatchCore's memory holds normal training patches only and is never
written at inference.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

from vmem.video import IMAGE_EXTENSIONS, list_frame_folder, open_video, read_image
from vmem.visualization import draw_anomaly_map

# Ground-truth steps of an anomaly test pipeline; an image at inference has no mask.
_ANNOTATION_STEPS = ('LoadAnomalyMask', 'LoadAnnotations')


@dataclass
class AnomalyPrediction:
    """One image (or video frame) and its anomaly map (float32 (H, W), the image's size)."""
    source: str  # the file, or '<video>#<frame index>', or '<array>'
    image: np.ndarray  # RGB uint8 (H, W, 3), as read
    anomaly_map: np.ndarray
    score: float


class AnomalyInferencer:
    """Runs an anomaly model (built by `vmem.apis.init_model`, with a filled memory bank)
    on images, image folders and videos.

    Args:
        model: e.g. a ``PatchCore`` with ``cfg`` (its config) set, as `init_model` does.
        score_max: the anomaly level drawn in full red by `draw`; None: the model's
            ``normal_patch_distance`` times 2 when it has one (largest distance of a
            training patch to the bank, measured when the bank was built), else each
            map's own maximum.
    """

    def __init__(self, *, model, score_max: Optional[float] = None) -> None:
        cfg = getattr(model, 'cfg', None)
        if cfg is None:
            raise ValueError('the model has no cfg; build it with vmem.apis.init_model(config, checkpoint)')
        if not getattr(model, 'has_memory', True):
            raise ValueError('the model has an empty memory bank: pass the checkpoint written by '
                             'tools/train.py to init_model')
        self.model = model
        pipeline = ((cfg.get('test_dataloader') or {}).get('dataset') or {}).get('pipeline')
        if not pipeline:
            raise ValueError(f'{cfg.filename or "the config"}: no test_dataloader.dataset.pipeline')
        steps = [copy.deepcopy(dict(step)) for step in pipeline if step.get('type') not in _ANNOTATION_STEPS]
        with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'vmem')):
            self.pipeline = Compose(steps)
        if score_max is None:
            normal = float(getattr(model, 'normal_patch_distance', torch.zeros(())))
            score_max = 2 * normal if normal > 0 else None
        self.score_max = score_max

    @torch.no_grad()
    def predict(self, image: np.ndarray, *, source: str = '<array>') -> AnomalyPrediction:
        """Score one RGB uint8 (H, W, 3) image."""
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'{source}: expected an RGB uint8 (H, W, 3) image, got '
                             f'{getattr(image, "dtype", type(image).__name__)} {getattr(image, "shape", "")}')
        packed = self.pipeline(dict(img=image))
        data = self.model.data_preprocessor(
            dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']]), False)
        sample = self.model.predict(data['inputs'], data['data_samples'])[0]
        anomaly_map = sample.pred_anomaly_map[None, None].float()
        anomaly_map = torch.nn.functional.interpolate(anomaly_map, size=image.shape[:2], mode='bilinear',
                                                      align_corners=False)[0, 0]
        return AnomalyPrediction(source=source, image=image, anomaly_map=anomaly_map.numpy(),
                                 score=float(sample.pred_anomaly_score))

    def __call__(self, source: Union[str, os.PathLike, np.ndarray]) -> Iterator[AnomalyPrediction]:
        """Predictions for an array, an image file, every image of a folder (natural
        order; sizes may differ) or every frame of a video file."""
        if isinstance(source, np.ndarray):
            yield self.predict(source)
            return
        path = Path(source)
        if path.is_dir():
            for image_path in list_frame_folder(path):
                yield self.predict(read_image(image_path), source=str(image_path))
        elif path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
            yield self.predict(read_image(path), source=str(path))
        elif path.is_file():
            with open_video(str(path)) as video:
                for index, frame in enumerate(video):
                    yield self.predict(frame, source=f'{path}#{index}')
        else:
            raise FileNotFoundError(f'no image, folder or video at {str(path)!r}')

    def draw(self, prediction: AnomalyPrediction, *, alpha: float = 0.5,
             threshold: Optional[float] = None) -> np.ndarray:
        """The prediction's image with its heat map and score drawn on it."""
        return draw_anomaly_map(prediction.image, prediction.anomaly_map, score=prediction.score,
                                vmax=self.score_max, alpha=alpha, threshold=threshold)
