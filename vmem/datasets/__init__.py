"""Datasets, samplers, transforms and the SynthVID generator; importing registers them."""
from . import coco_video, samplers, synthetic, transforms
from .coco_vos import CocoVOSDataset
from .davis import DAVISDataset
from .mvtec import LoadAnomalyMask, MVTecDataset, PackAnomalyInputs
from .vos_clip_sampler import VOSClipSampler
from .vos_dataset import VOSDataset, VOSVideo

__all__ = ['coco_video', 'samplers', 'synthetic', 'transforms', 'CocoVOSDataset', 'DAVISDataset',
           'LoadAnomalyMask', 'MVTecDataset', 'PackAnomalyInputs',
           'VOSClipSampler', 'VOSDataset', 'VOSVideo']
