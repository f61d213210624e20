import pytest
import torch
from mmengine.structures import InstanceData

from vmem.structures import DetDataSample, TrackDataSample


def det_sample(frame_id, num_boxes=2):
    sample = DetDataSample(metainfo=dict(img_id=frame_id + 100, frame_id=frame_id, ori_shape=(24, 32)))
    sample.gt_instances = InstanceData(bboxes=torch.rand(num_boxes, 4),
                                       labels=torch.arange(num_boxes, dtype=torch.int64))
    return sample


def test_det_data_sample_fields_are_typed_and_deletable():
    sample = det_sample(0)
    sample.pred_instances = InstanceData(bboxes=torch.zeros(1, 4), scores=torch.ones(1),
                                         labels=torch.zeros(1, dtype=torch.int64))
    sample.ignored_instances = InstanceData()
    assert len(sample.gt_instances) == 2 and sample.pred_instances.scores.tolist() == [1.0]
    assert sample.frame_id == 0 and sample.ori_shape == (24, 32)
    with pytest.raises(AssertionError):
        sample.gt_instances = {'bboxes': torch.zeros(1, 4)}
    del sample.pred_instances
    assert 'pred_instances' not in sample
    as_dict = sample.to_dict()
    assert as_dict['img_id'] == 100 and as_dict['gt_instances']['labels'].tolist() == [0, 1]


def test_track_data_sample_orders_key_and_reference_frames():
    clip = TrackDataSample(video_data_samples=[det_sample(5), det_sample(3), det_sample(7)])
    assert len(clip) == 3 and clip.key_frames_inds == [0] and clip.ref_frames_inds == [1, 2]
    assert [f.frame_id for f in clip.key_frames] == [5]
    assert [f.frame_id for f in clip.ref_frames] == [3, 7]
    assert [f.frame_id for f in clip] == [5, 3, 7] and clip[2].frame_id == 7
    explicit = TrackDataSample(video_data_samples=[det_sample(0), det_sample(1)], key_frames_inds=[1])
    assert explicit.ref_frames_inds == [0]
    with pytest.raises(TypeError, match=r'video_data_samples\[1\]'):
        TrackDataSample(video_data_samples=[det_sample(0), {'frame_id': 1}])


def test_track_data_sample_moves_and_serialises_its_frames():
    clip = TrackDataSample(video_data_samples=[det_sample(0), det_sample(1, num_boxes=3)])
    moved = clip.to('cpu')
    assert isinstance(moved, TrackDataSample) and len(moved) == 2
    assert moved[1].gt_instances.bboxes.shape == (3, 4) and moved.ref_frames_inds == [1]
    detached = clip.cpu().detach()
    assert isinstance(detached, TrackDataSample) and [f.frame_id for f in detached] == [0, 1]
    assert torch.equal(detached[1].gt_instances.labels, clip[1].gt_instances.labels)
    as_dict = clip.to_dict()
    assert as_dict['key_frames_inds'] == [0] and as_dict['video_data_samples'][1]['frame_id'] == 1
    assert isinstance(as_dict['video_data_samples'][0]['gt_instances'], dict)
