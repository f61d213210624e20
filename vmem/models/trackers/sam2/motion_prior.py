"""A constant-velocity Kalman filter on an object's box, for SAMURAI-style mask selection
(Yang et al., 2024): among SAM's candidate masks, prefer the one whose box agrees with
the predicted motion, weighted against the predicted IoU."""
from __future__ import annotations

from typing import Optional

import torch
from torchvision.ops import box_iou, masks_to_boxes


class BoxKalmanFilter:
    """State (cx, cy, w, h, vcx, vcy, vw, vh) with SORT-style noise scaled by the box size."""

    def __init__(self, box: torch.Tensor, *, position_noise: float = 1 / 20, velocity_noise: float = 1 / 160):
        self.position_noise, self.velocity_noise = position_noise, velocity_noise
        self.mean = torch.zeros(8, dtype=torch.float64)
        self.mean[:4] = _xyxy_to_cxcywh(box.double())
        scale = self._scale()
        self.covariance = torch.diag(torch.cat([(2 * position_noise * scale) ** 2,
                                                (10 * velocity_noise * scale) ** 2]))
        self.transition = torch.eye(8, dtype=torch.float64)
        self.transition[:4, 4:] = torch.eye(4, dtype=torch.float64)

    def _scale(self) -> torch.Tensor:
        w, h = self.mean[2].abs().clamp(min=1.0), self.mean[3].abs().clamp(min=1.0)
        return torch.stack([w, h, w, h])

    def predict(self) -> torch.Tensor:
        """Advance one frame; returns the predicted xyxy box."""
        scale = self._scale()
        noise = torch.diag(torch.cat([(self.position_noise * scale) ** 2, (self.velocity_noise * scale) ** 2]))
        self.mean = self.transition @ self.mean
        self.covariance = self.transition @ self.covariance @ self.transition.T + noise
        return _cxcywh_to_xyxy(self.mean[:4]).float()

    def update(self, box: torch.Tensor) -> None:
        measurement = _xyxy_to_cxcywh(box.double())
        observe = torch.eye(4, 8, dtype=torch.float64)
        noise = torch.diag((self.position_noise * self._scale()) ** 2)
        innovation_cov = observe @ self.covariance @ observe.T + noise
        gain = self.covariance @ observe.T @ torch.linalg.inv(innovation_cov)
        self.mean = self.mean + gain @ (measurement - observe @ self.mean)
        self.covariance = (torch.eye(8, dtype=torch.float64) - gain @ observe) @ self.covariance


def _xyxy_to_cxcywh(box: torch.Tensor) -> torch.Tensor:
    x1, y1, x2, y2 = box.unbind(-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], -1)


def _cxcywh_to_xyxy(box: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = box.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def choose_candidate(masks: torch.Tensor, ious: torch.Tensor, predicted_box: Optional[torch.Tensor], *,
                     motion_weight: float) -> int:
    """Index of the candidate mask [M, H, W] (logits) with the best
    ``motion_weight * IoU(box, predicted box) + (1 - motion_weight) * predicted IoU``;
    without a prediction (or with empty candidates), the best predicted IoU."""
    filled = (masks > 0).flatten(1).any(1)
    if predicted_box is None or not filled.any():
        return int(ious.argmax())
    boxes = torch.zeros(len(masks), 4, device=masks.device)
    boxes[filled] = masks_to_boxes(masks[filled] > 0).float()
    agreement = box_iou(boxes, predicted_box.to(boxes)[None])[:, 0]
    agreement[~filled] = 0
    return int((motion_weight * agreement + (1 - motion_weight) * ious).argmax())
