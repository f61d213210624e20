"""Drawing detections (boxes, captions, masks, track ids) onto RGB frames.

The drawer works on plain arrays: a frame in, a new frame out. Where the frame comes
from (a dataset, a video, a webcam) and where it goes (an image file, a video writer, a
window) is the caller's business, so the same drawer serves ``tools/test.py --show-dir``
and the demos.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import cv2
import numpy as np

from .palette import color_for

FONT = cv2.FONT_HERSHEY_SIMPLEX
# Captions stay legible from thumbnails (96 x 64 SynthVID frames) up to 4K.
MIN_FONT_SCALE = 0.3
FONT_SCALE_PER_PIXEL = 0.0004
# ITU-R BT.601 luma: above this, a caption background is light enough for black text.
LIGHT_BACKGROUND_LUMA = 140
BANNER_BACKGROUND_ALPHA = 0.65


@dataclass(frozen=True)
class _Instances:
    """The fields the drawer uses, as numpy arrays of one length (absent ones are None)."""

    bboxes: np.ndarray  # (N, 4) float xyxy
    scores: Optional[np.ndarray]
    labels: Optional[np.ndarray]
    instance_ids: Optional[np.ndarray]
    masks: Optional[np.ndarray]  # (N, H, W) bool


class DetectionDrawer:
    """Draws predicted instances onto RGB uint8 frames.

    Args:
        class_names: caption text per label; labels without a name read ``class <label>``.
        score_thr: instances scoring below this are not drawn.
        line_width: box outline width in pixels; None picks one from the frame size.
        mask_alpha: opacity of instance masks (0 invisible, 1 opaque).
    """

    def __init__(self, *, class_names: Optional[Sequence[str]] = None, score_thr: float = 0.3,
                 line_width: Optional[int] = None, mask_alpha: float = 0.5) -> None:
        if class_names is not None:
            if isinstance(class_names, str) or not isinstance(class_names, Sequence):
                raise ValueError(f'class_names must be a sequence of strings, got {type(class_names).__name__}')
            bad = [name for name in class_names if not isinstance(name, str)]
            if bad:
                raise ValueError(f'class_names must all be strings, got {bad[0]!r}')
        if isinstance(score_thr, bool) or not isinstance(score_thr, (int, float)) or not 0 <= score_thr <= 1:
            raise ValueError(f'score_thr must be a number in [0, 1], got {score_thr!r}')
        if line_width is not None and (isinstance(line_width, bool) or not isinstance(line_width, int)
                                       or line_width < 1):
            raise ValueError(f'line_width must be None or an int >= 1, got {line_width!r}')
        if isinstance(mask_alpha, bool) or not isinstance(mask_alpha, (int, float)) or not 0 <= mask_alpha <= 1:
            raise ValueError(f'mask_alpha must be a number in [0, 1], got {mask_alpha!r}')
        self.class_names = None if class_names is None else tuple(class_names)
        self.score_thr = float(score_thr)
        self.line_width = line_width
        self.mask_alpha = float(mask_alpha)

    def draw(self, frame: np.ndarray, instances: Any) -> np.ndarray:
        """A copy of ``frame`` (RGB uint8, H x W x 3) with ``instances`` drawn on it.

        ``instances`` is an mmengine ``InstanceData`` or a mapping with ``bboxes`` (N, 4)
        xyxy in the frame's pixels and optionally ``scores``, ``labels``, ``instance_ids``
        (colour and caption by track) and ``masks`` (N, H, W); tensors or numpy arrays.
        """
        _check_frame(frame)
        canvas = np.array(frame, copy=True, order='C')  # cv2 draws in place, and only on contiguous arrays
        height, width = canvas.shape[:2]
        found = _read_instances(instances, frame_size=(height, width))
        keep = np.arange(len(found.bboxes))
        if found.scores is not None:
            keep = keep[found.scores >= self.score_thr]
            # The most confident instances are drawn last, so they end up on top.
            keep = keep[np.argsort(found.scores[keep], kind='stable')]
        colors = [self._color(found, index) for index in keep]
        line_width = self.line_width or max(1, round(0.003 * (height + width)))
        if found.masks is not None:
            for index, color in zip(keep, colors):
                _blend_mask(canvas, found.masks[index], color, self.mask_alpha)
        boxes = [_clip_box(found.bboxes[index], height=height, width=width) for index in keep]
        for box, color in zip(boxes, colors):
            if box is not None:
                cv2.rectangle(canvas, box[:2], box[2:], color, line_width, cv2.LINE_AA)
        # Captions after all boxes, so no outline crosses a caption.
        for index, box, color in zip(keep, boxes, colors):
            if box is not None:
                _draw_caption(canvas, self._caption(found, index), box, color, line_width)
        return canvas

    def draw_banner(self, frame: np.ndarray, text: str) -> np.ndarray:
        """A copy of ``frame`` with one line of ``text`` on a dark strip in the top-left
        corner (for example a live fps counter)."""
        _check_frame(frame)
        canvas = np.array(frame, copy=True, order='C')
        if not text:
            return canvas
        height, width = canvas.shape[:2]
        scale, thickness = _font_for(height, width)
        (text_width, text_height), baseline = cv2.getTextSize(text, FONT, scale, thickness)
        pad = max(2, text_height // 3)
        bottom, right = min(height, text_height + baseline + 2 * pad), min(width, text_width + 2 * pad)
        # Darken rather than paint over, so the frame stays visible under the strip.
        strip = canvas[:bottom, :right]
        strip[:] = (strip * (1 - BANNER_BACKGROUND_ALPHA)).astype(np.uint8)
        cv2.putText(canvas, text, (pad, pad + text_height), FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)
        return canvas

    def _color(self, found: _Instances, index: int) -> tuple[int, int, int]:
        # One track keeps its colour across frames even if its class changes.
        if found.instance_ids is not None:
            return color_for(int(found.instance_ids[index]))
        return color_for(int(found.labels[index]) if found.labels is not None else 0)

    def _caption(self, found: _Instances, index: int) -> str:
        parts = []
        if found.instance_ids is not None:
            parts.append(f'#{int(found.instance_ids[index])}')
        if found.labels is not None:
            parts.append(self._class_name(int(found.labels[index])))
        if found.scores is not None:
            parts.append(f'{float(found.scores[index]):.2f}')
        return ' '.join(parts)

    def _class_name(self, label: int) -> str:
        if self.class_names is not None and 0 <= label < len(self.class_names):
            return self.class_names[label]
        return f'class {label}'


def _check_frame(frame: object) -> None:
    if not isinstance(frame, np.ndarray):
        raise TypeError(f'frame must be a numpy array (RGB uint8, H x W x 3), got {type(frame).__name__}')
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f'frame must have shape (H, W, 3) (RGB), got shape {frame.shape}')
    if frame.dtype != np.uint8:
        raise ValueError(f'frame must have dtype uint8, got dtype {frame.dtype}')
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f'frame is empty: shape {frame.shape}')


def _as_array(value: Any) -> np.ndarray:
    if hasattr(value, 'detach'):  # a torch tensor, possibly on a GPU
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _read_instances(instances: Any, *, frame_size: tuple[int, int]) -> _Instances:
    if not isinstance(instances, Mapping) and not callable(getattr(instances, 'get', None)):
        raise TypeError(f'instances must be an InstanceData or a mapping, got {type(instances).__name__}')
    if instances.get('bboxes') is None:
        raise ValueError('instances have no bboxes (N, 4 xyxy) to draw')
    bboxes = _as_array(instances.get('bboxes')).astype(np.float64, copy=False)
    if bboxes.ndim != 2 or bboxes.shape[1] != 4:
        raise ValueError(f'instances bboxes must have shape (N, 4), got {bboxes.shape}')
    count = len(bboxes)
    fields = {}
    for name in ('scores', 'labels', 'instance_ids'):
        value = instances.get(name)
        if value is not None:
            value = _as_array(value).reshape(-1)
            if len(value) != count:
                raise ValueError(f'instances have {count} bboxes but {len(value)} {name}')
        fields[name] = value
    masks = instances.get('masks')
    if masks is not None:
        masks = _as_array(masks)
        if masks.shape != (count, *frame_size):
            raise ValueError(f'instance masks must have shape (N, H, W) = {(count, *frame_size)} for '
                             f'{count} instances on this frame, got {masks.shape}')
        masks = masks.astype(bool, copy=False)
    return _Instances(bboxes=bboxes, masks=masks, **fields)


def _clip_box(box: np.ndarray, *, height: int, width: int) -> Optional[tuple[int, int, int, int]]:
    """Pixel corners of ``box`` inside the frame; None when it is not finite or lies outside."""
    if not all(math.isfinite(value) for value in box):
        return None
    left, right = sorted((box[0], box[2]))
    top, bottom = sorted((box[1], box[3]))
    if right < 0 or bottom < 0 or left > width - 1 or top > height - 1:
        return None
    return (int(round(min(max(left, 0), width - 1))), int(round(min(max(top, 0), height - 1))),
            int(round(min(max(right, 0), width - 1))), int(round(min(max(bottom, 0), height - 1))))


def _blend_mask(canvas: np.ndarray, mask: np.ndarray, color: tuple[int, int, int], alpha: float) -> None:
    pixels = canvas[mask].astype(np.float32)
    canvas[mask] = np.round(pixels * (1 - alpha) + np.asarray(color, np.float32) * alpha).astype(np.uint8)


def _font_for(height: int, width: int) -> tuple[float, int]:
    scale = max(MIN_FONT_SCALE, FONT_SCALE_PER_PIXEL * (height + width))
    return scale, max(1, round(scale * 1.5))


def _draw_caption(canvas: np.ndarray, text: str, box: tuple[int, int, int, int],
                  color: tuple[int, int, int], line_width: int) -> None:
    """``text`` on a filled rectangle of ``color`` just above ``box``, or just inside its top
    when there is no room above (a box at the top edge of the frame)."""
    if not text:
        return
    height, width = canvas.shape[:2]
    scale, thickness = _font_for(height, width)
    (text_width, text_height), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    pad = max(1, line_width // 2)
    label_width, label_height = text_width + 2 * pad, text_height + baseline + 2 * pad
    left, top = box[0], box[1] - label_height
    if top < 0:
        top = box[1]
    # Keep the caption on the frame for boxes near the right edge.
    left = max(0, min(left, width - label_width))
    cv2.rectangle(canvas, (left, top), (left + label_width, top + label_height), color, cv2.FILLED)
    luma = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    text_color = (0, 0, 0) if luma > LIGHT_BACKGROUND_LUMA else (255, 255, 255)
    cv2.putText(canvas, text, (left + pad, top + pad + text_height), FONT, scale, text_color, thickness,
                cv2.LINE_AA)
