"""Session fixtures: tiny SynthVID splits and one training / one test batch."""
import pytest

from detector_setup import first_batch
from vmem.datasets.synthetic import generate_synthvid


@pytest.fixture(scope='session')
def synthvid_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthvid_models')
    for split in ('train', 'val'):
        generate_synthvid(root, split=split, num_videos=2, num_frames=6, width=128, height=96,
                          write_videos=False)
    return str(root) + '/'


# the shipped training pipeline without its 2x resize, to keep CPU steps fast
UNRESIZED_CLIP_PIPELINE = [
    dict(type='ApplyToFrames', transforms=[
        dict(type='LoadFrame'), dict(type='LoadAnnotations', with_instance_id=True),
        dict(type='RandomFlip', prob=0.5)]),
    dict(type='PackVideoInputs')]


@pytest.fixture(scope='session')
def train_batch(synthvid_root):
    return first_batch(synthvid_root, 'train_dataloader', batch_size=2, pipeline=UNRESIZED_CLIP_PIPELINE)


@pytest.fixture(scope='session')
def val_batch(synthvid_root):
    """Frames resized 2x (128x96 -> 256x192) by the shipped test pipeline."""
    return first_batch(synthvid_root, 'val_dataloader', batch_size=2)
