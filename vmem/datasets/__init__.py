"""Datasets, samplers, transforms and the SynthVID generator; importing registers them."""
from . import coco_video, samplers, synthetic, transforms  # noqa: F401
