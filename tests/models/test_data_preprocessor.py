import pytest
import torch

from vmem.models import DetDataPreprocessor
from vmem.structures import DetDataSample, TrackDataSample


def test_images_are_normalised_padded_and_shapes_recorded():
    preprocessor = DetDataPreprocessor(pad_size_divisor=32)
    images = [torch.full((3, 40, 50), 200, dtype=torch.uint8), torch.zeros((3, 64, 30), dtype=torch.uint8)]
    samples = [DetDataSample(metainfo={'img_shape': (40, 50)}), DetDataSample(metainfo={'img_shape': (64, 30)})]
    out = preprocessor({'inputs': images, 'data_samples': samples})
    assert out['inputs'].shape == (2, 3, 64, 64) and out['inputs'].dtype == torch.float32
    assert 'ref_inputs' not in out
    expected_red = (200 - 123.675) / 58.395
    assert out['inputs'][0, 0, 0, 0].item() == pytest.approx(expected_red)
    assert out['inputs'][0, :, 40:].abs().sum() == 0 and out['inputs'][0, :, :, 50:].abs().sum() == 0
    packed = out['data_samples']  # moved to the model's device, so copies of `samples`
    assert packed[0].batch_input_shape == (64, 64) and packed[0].img_shape == (40, 50)
    assert packed[0].pad_shape == (64, 64) and packed[1].pad_shape == (64, 32)


def test_clips_give_key_frames_and_reference_frames():
    preprocessor = DetDataPreprocessor(pad_size_divisor=16, mean=(0, 0, 0), std=(1, 1, 1))
    clips = [torch.arange(3, dtype=torch.uint8).view(3, 1, 1, 1).expand(3, 3, 20, 20).contiguous()
             for _ in range(2)]
    samples = [TrackDataSample(video_data_samples=[DetDataSample() for _ in range(3)]) for _ in range(2)]
    out = preprocessor({'inputs': clips, 'data_samples': samples})
    assert out['inputs'].shape == (2, 3, 32, 32)
    assert out['ref_inputs'].shape == (2, 2, 3, 32, 32)
    assert out['inputs'][:, :, :20, :20].eq(0).all()  # frame 0 is the key frame
    assert out['ref_inputs'][:, 1, :, :20, :20].eq(2).all()
    assert all(frame.batch_input_shape == (32, 32) for clip in out['data_samples'] for frame in clip)


@pytest.mark.parametrize('inputs,message', [
    ([torch.zeros(3, 8, 8, dtype=torch.uint8), torch.zeros(2, 3, 8, 8, dtype=torch.uint8)], 'all'),
    ([torch.zeros(4, 8, 8, dtype=torch.uint8)], 'channels'),
    ([torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(3, 3, 8, 8, dtype=torch.uint8)], 'number of frames'),
])
def test_bad_inputs_are_rejected_with_a_reason(inputs, message):
    with pytest.raises(ValueError, match=message):
        DetDataPreprocessor()({'inputs': inputs})


def test_bad_arguments():
    with pytest.raises(ValueError, match='std'):
        DetDataPreprocessor(std=(1.0, 0.0, 1.0))
    with pytest.raises(TypeError, match="'inputs'"):
        DetDataPreprocessor()({'images': []})
