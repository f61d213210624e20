"""Datasets, samplers, transforms and the SynthVID generator; importing registers them."""
from . import coco_video, samplers, synthetic, transforms
from .coco_vos import CocoVOSDataset
from .davis import DAVISDataset
from .image_folder import UnlabeledImageFolder
from .mvtec import LoadAnomalyMask, MVTecDataset, PackAnomalyInputs
from .object_crops import ObjectCropDataset
from .video_frames import VideoFrameDataset
from .vos_clip_sampler import VOSClipSampler
from .vos_dataset import VOSDataset, VOSVideo

__all__ = ['coco_video', 'samplers', 'synthetic', 'transforms', 'CocoVOSDataset', 'DAVISDataset',
           'LoadAnomalyMask', 'MVTecDataset', 'PackAnomalyInputs',
           'VOSClipSampler', 'VOSDataset', 'VOSVideo',
           'UnlabeledImageFolder', 'VideoFrameDataset', 'ObjectCropDataset']
