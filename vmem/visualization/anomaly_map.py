"""Drawing anomaly heat maps over images (PatchCore and other anomaly detectors)."""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np


def colorize_anomaly_map(anomaly_map: np.ndarray, *, vmin: float = 0.0,
                         vmax: Optional[float] = None) -> np.ndarray:
    """A float (H, W) map as an RGB uint8 heat map (blue = ``vmin`` or less, red = ``vmax``
    or more; ``vmax`` None: the map's own maximum, which makes every map look hot)."""
    anomaly_map = np.asarray(anomaly_map, np.float32)
    if anomaly_map.ndim != 2:
        raise ValueError(f'anomaly_map must be (H, W), got shape {anomaly_map.shape}')
    top = float(anomaly_map.max()) if vmax is None else float(vmax)
    scale = max(top - vmin, 1e-12)
    levels = np.clip((anomaly_map - vmin) / scale * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def draw_anomaly_map(image: np.ndarray, anomaly_map: np.ndarray, *, score: Optional[float] = None,
                     vmin: float = 0.0, vmax: Optional[float] = None, alpha: float = 0.5,
                     threshold: Optional[float] = None) -> np.ndarray:
    """``image`` (RGB uint8 (H, W, 3)) with the heat map of ``anomaly_map`` (H, W) blended in
    at ``alpha``; with ``threshold``, the outline of the pixels at or above it in white;
    with ``score``, a caption. Returns a new array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError('image must be an RGB uint8 (H, W, 3) array, got '
                         f'{getattr(image, "dtype", type(image).__name__)} {getattr(image, "shape", "")}')
    if np.shape(anomaly_map) != image.shape[:2]:
        raise ValueError(f'anomaly_map is {np.shape(anomaly_map)} but the image is {image.shape[:2]}')
    if not 0 <= alpha <= 1:
        raise ValueError(f'alpha must be in [0, 1], got {alpha}')
    heat = colorize_anomaly_map(anomaly_map, vmin=vmin, vmax=vmax)
    drawn = cv2.addWeighted(image, 1 - alpha, heat, alpha, 0)
    if threshold is not None:
        region = (np.asarray(anomaly_map) >= threshold).astype(np.uint8)
        contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(drawn, contours, -1, (255, 255, 255), max(1, image.shape[0] // 200))
    if score is not None:
        text = f'anomaly score {score:.3f}'
        font_scale = max(0.35, image.shape[0] / 600)
        (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        cv2.rectangle(drawn, (0, 0), (width + 6, height + baseline + 6), (0, 0, 0), -1)
        cv2.putText(drawn, text, (3, height + 3), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return drawn
