"""The data sample of one image or video frame: ground truth, predictions and meta info."""
from __future__ import annotations

from mmengine.structures import BaseDataElement, InstanceData


def instances_field(name: str, doc: str) -> property:
    """A property holding an ``InstanceData`` under ``_<name>``, type-checked on assignment."""
    private = f'_{name}'

    def setter(self, value: InstanceData) -> None:
        self.set_field(value, private, dtype=InstanceData)

    return property(lambda self: getattr(self, private), setter,
                    lambda self: delattr(self, private), doc)


class DetDataSample(BaseDataElement):
    """One frame's annotations and predictions, passed between datasets, models and metrics.

    Instance fields (mmengine ``InstanceData``): ``bboxes`` float [n, 4] xyxy, ``labels``
    int64 [n], ``scores`` [n] (predictions), optional ``instance_ids`` and ``masks``.
    Meta info: ``img_id``, ``video_id``, ``frame_id``, ``video_length``, ``img_path``,
    ``ori_shape`` (h, w), ``img_shape``, ``scale_factor`` (w_scale, h_scale), ``flip``,
    ``flip_direction``, ``pad_shape``, and whatever else the pipeline packs.
    Predictions are in original-image coordinates.
    """

    gt_instances = instances_field('gt_instances', 'Ground-truth instances.')
    pred_instances = instances_field('pred_instances', 'Predicted instances.')
    ignored_instances = instances_field(
        'ignored_instances',
        'Instances marked ``iscrowd`` (or otherwise ignored): neither positives nor negatives.')
