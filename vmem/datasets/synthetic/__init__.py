"""SynthVID: a seeded procedural video benchmark where memory across frames matters.

Objects of 8 classes (shape x texture: ``disc|square|triangle|cross`` x ``stripes|dots``,
colours drawn independently of the class) move over camera-specific backgrounds. Bursts
of 3-10 frames of motion blur, occlusion, defocus + noise or contrast drop hide an
object's texture or outline, so one frame often cannot name the class while the same
object's clean frames can.

Choices the json relies on:
- ``bbox`` is the sharp silhouette's extent clipped to the image, also while degraded or
  occluded; an object whose silhouette is fully outside the image has no annotation.
  ``area`` is the box area (w * h), as in the ImageNet VID converter.
- ``segmentation`` (COCO RLE) is the visible part of the sharp silhouette: what objects in
  front of it (later in a fixed depth order) and occluder patches leave uncovered.
- ``degraded``/``degradation`` mark the scheduled bursts only; overlap between objects is
  not a degradation.
- ``camera`` indexes a background shared by that camera's videos in every split;
  ``start_datetime``/``datetime`` are ISO 8601 at the video's fps, within a month.
  ``first_camera`` moves a split to other cameras (new sites, unseen in training).
- With ``camera_roster=N`` each camera has N recurring objects (class, colours, size);
  its videos draw their objects from them, and annotations name the ``roster_member``.
  Colours still say nothing about the class in general, only at that camera: what
  long-term per-camera memory (Context R-CNN) can learn from.
- ``instance_id`` is unique within a split; file names and folders follow
  `generate.generate_synthvid`.
"""
from .config import CLASS_NAMES, DEGRADATIONS, SynthVIDConfig
from .generate import annotation_path, frames_dir, generate_synthvid, is_generated, videos_dir
from .render import RenderedVideo, render_video

__all__ = ['CLASS_NAMES', 'DEGRADATIONS', 'SynthVIDConfig', 'RenderedVideo', 'annotation_path',
           'frames_dir', 'generate_synthvid', 'is_generated', 'render_video', 'videos_dir']
