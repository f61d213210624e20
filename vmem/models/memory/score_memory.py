"""`ScoreMemory`: a detector's own past detections, used to rescore the current ones."""
from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import box_iou

from vmem.registry import MODELS

from .streams import StreamMemory


@MODELS.register_module()
class ScoreMemory(StreamMemory):
    """Box-level memory of the last ``num_frames`` frames' detections (boxes, labels,
    scores), read online to smooth each detection's class score along its object.

    Why: on SynthVID the single-frame detector's boxes are mostly right on degraded frames
    (blur, occlusion), but their class is not; the same object's detections in the frames
    just before usually name it correctly. A detection (box b, label c, score s) of frame
    t is linked to a past frame f in [t - num_frames, t) when one of f's stored boxes has
    IoU >= ``iou_thr`` with b; there, its vote s_f is the best score of f's linked boxes
    labelled c (0 when the linked boxes name another class). The new score is

        (s + past_weight * sum_f s_f) / (1 + past_weight * #linked frames)

    so an unlinked detection keeps its score. Detections are stored with their own
    (single-frame) scores, not the smoothed ones, so an error does not feed on itself.
    Online: a frame reads only earlier frames. Like Seq-NMS rescoring, but causal and
    without building whole tubes.

    Args:
        num_frames: how many past frames vote.
        iou_thr: box IoU that links a detection to a past box.
        past_weight: weight of each linked past frame against the current score (1).
        max_per_frame: most detections stored per frame (the highest scoring).
    """

    def __init__(self, *, num_frames: int = 10, iou_thr: float = 0.5, past_weight: float = 0.2,
                 max_per_frame: int = 100):
        for name, value in (('num_frames', num_frames), ('max_per_frame', max_per_frame)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'{name} must be a positive int, got {value!r}')
        if not 0.0 < iou_thr <= 1.0:
            raise ValueError(f'iou_thr must be in (0, 1], got {iou_thr!r}')
        if not past_weight >= 0.0:
            raise ValueError(f'past_weight must be >= 0, got {past_weight!r}')
        super().__init__(bank_cfg=dict(capacity=num_frames * max_per_frame, dim=4, write_policy='FIFO',
                                       fields=dict(frame_id='int64', label='int64', score='float32')))
        self.num_frames = num_frames
        self.iou_thr = iou_thr
        self.past_weight = past_weight
        self.max_per_frame = max_per_frame

    def rescore(self, boxes: Tensor, scores: Tensor, labels: Tensor, *, frame_id: int, stream: int = 0) -> Tensor:
        """Smoothed scores [n] of frame ``frame_id``'s detections (boxes xyxy [n, 4])."""
        bank = self.bank(stream)
        past = bank.read(bank.mask(frame_id=(frame_id - self.num_frames, frame_id)))
        if len(boxes) == 0 or len(past) == 0:
            return scores
        linked = box_iou(boxes.float(), past.keys.float()) >= self.iou_thr  # [n, m]
        same_class = linked & (labels[:, None] == past.fields['label'][None, :])
        votes = torch.where(same_class, past.fields['score'][None, :].to(scores.dtype), scores.new_zeros(()))
        # per past frame: is the detection linked there, and its best same-class score
        frame_slot = (frame_id - 1 - past.fields['frame_id']).expand_as(linked)
        shape = (len(boxes), self.num_frames)
        present = scores.new_zeros(shape).scatter_reduce(1, frame_slot, linked.to(scores.dtype), 'amax')
        best = scores.new_zeros(shape).scatter_reduce(1, frame_slot, votes, 'amax')
        weight = self.past_weight
        return (scores + weight * best.sum(1)) / (1 + weight * present.sum(1))

    def write(self, boxes: Tensor, scores: Tensor, labels: Tensor, *, frame_id: int, stream: int = 0) -> None:
        """Store frame ``frame_id``'s detections (its own scores), best ``max_per_frame`` first."""
        if len(boxes) == 0:
            return
        keep = scores.topk(min(self.max_per_frame, len(scores))).indices
        self.bank(stream).write(boxes[keep].float(), frame_id=frame_id, label=labels[keep],
                                score=scores[keep].float())
