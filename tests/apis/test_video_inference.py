"""init_model and VideoInferencer: every SynthVID detector config on frame folders and
video files, the same predictions as the evaluation pipeline, memory reset between
videos, and a batch of videos that survives a broken one."""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from vmem.apis.model_init import init_model
from vmem.apis.video_inference import VideoInferencer, frame_pipeline_config
from vmem.datasets.synthetic import generate_synthvid
from vmem.video import open_video

ROOT = Path(__file__).resolve().parents[2]
BASELINE = str(ROOT / 'configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py')
MAMBA = str(ROOT / 'configs/mamba/mamba_r10t_synthvid_tiny.py')
DETECTOR_CONFIGS = [BASELINE, MAMBA, str(ROOT / 'configs/mamba/mamba_ins_r10t_synthvid_tiny.py'),
                    str(ROOT / 'configs/mamba/selsa_r10t_synthvid_tiny.py')]
# Random heads score everything low; keep all boxes so predictions are worth comparing.
KEEP_ALL = {'model.roi_head.score_thr': 0.0}
# MAMBA draws the pixels it stores from torch's global generator (its key sets come from
# the banks' own generators, restarted at every reset): runs to be compared are seeded
# alike, or use this memory with no random draws (up to capacity).
DETERMINISTIC_MEMORY = {'model.pixel_memory': None, 'model.instance_memory.key_set': 'topk'}


@pytest.fixture(scope='module')
def synthvid(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthvid')
    generate_synthvid(root, split='test', num_videos=3, num_frames=5, width=96, height=64, write_videos=True)
    return root


def video_file(root, index):
    return root / 'test' / 'videos' / f'test_{index:05d}.mp4'


def frame_folder(root, index):
    return root / 'test' / 'frames' / f'test_{index:05d}'


def seeded_model(config, **cfg_options):
    torch.manual_seed(0)
    model = init_model(config, cfg_options={**KEEP_ALL, **cfg_options})
    # GEO's output projection starts near zero, which would hide what memory does.
    for name, parameter in model.named_parameters():
        if name.endswith('proj_weight'):
            parameter.data.normal_(0.0, 0.5)
    return model


def as_arrays(instances):
    return {key: instances[key].numpy() for key in ('bboxes', 'scores', 'labels')}


def assert_same_predictions(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second):
        a, b = as_arrays(a), as_arrays(b)
        assert a['bboxes'].shape == b['bboxes'].shape
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('config', DETECTOR_CONFIGS, ids=lambda path: Path(path).stem)
def test_every_detector_config_streams_a_video_file(config, synthvid):
    inferencer = VideoInferencer(model=seeded_model(config))
    results = list(inferencer(video_file(synthvid, 0)))
    assert [result.frame_index for result in results] == list(range(5))
    for result in results:
        assert result.frame.shape == (64, 96, 3) and result.seconds > 0
        boxes = result.instances.bboxes
        assert len(boxes) > 0 and boxes.device.type == 'cpu'
        # original-frame coordinates, although the pipeline resized the frame to 256x192
        assert float(boxes[:, 2].max()) <= 96 + 1e-3 and float(boxes[:, 3].max()) <= 64 + 1e-3


@pytest.mark.parametrize('config', [BASELINE, MAMBA], ids=['faster_rcnn', 'mamba'])
def test_stream_predictions_equal_the_evaluation_pipeline(config, synthvid):
    """The test dataloader (jpg frames, annotations, clip packing for MAMBA) and the
    stream (the same jpgs as a frame folder) give the model the same inputs."""
    model = seeded_model(config)
    loader = copy.deepcopy(model.cfg.test_dataloader)
    loader.update(num_workers=0, persistent_workers=False)
    loader['dataset'].update(data_root=str(synthvid) + '/')
    with DefaultScope.overwrite_default_scope('vmem'):
        batches = list(Runner.build_dataloader(loader, seed=0))
    torch.manual_seed(1)
    with torch.no_grad():
        evaluated = [model.test_step(batch)[0] for batch in batches]
    first_video = [sample.pred_instances for sample in evaluated
                   if Path(sample.metainfo['img_path']).parent == frame_folder(synthvid, 0)]
    torch.manual_seed(1)
    streamed = [result.instances for result in VideoInferencer(model=model)(frame_folder(synthvid, 0))]
    assert_same_predictions(streamed, first_video)


def test_memory_is_reset_between_videos(synthvid):
    inferencer = VideoInferencer(model=seeded_model(MAMBA, **DETERMINISTIC_MEMORY))
    alone = [result.instances for result in inferencer(frame_folder(synthvid, 1))]
    list(inferencer(frame_folder(synthvid, 0)))
    after_another = [result.instances for result in inferencer(frame_folder(synthvid, 1))]
    assert_same_predictions(after_another, alone)
    # and memory does act: video 1's frames continuing video 0's stream read video 0's frames
    with open_video(frame_folder(synthvid, 0)) as first, open_video(frame_folder(synthvid, 1)) as second:
        frames = list(first) + list(second)
    continued = [inferencer.predict_frame(frame, video_id=7, frame_id=index) for index, frame in enumerate(frames)]
    with pytest.raises(AssertionError):
        assert_same_predictions(continued[5:], alone)


def test_a_broken_video_in_a_batch_is_reported_and_the_batch_goes_on(synthvid, tmp_path):
    broken = tmp_path / 'broken.mp4'
    broken.write_bytes(b'not a video' * 100)
    inferencer = VideoInferencer(model=seeded_model(MAMBA, **DETERMINISTIC_MEMORY))
    seen = []
    reports = inferencer.run_videos(
        [video_file(synthvid, 0), broken, tmp_path / 'absent.mp4', frame_folder(synthvid, 2)],
        on_frame=lambda name, result: seen.append((name, result.frame_index)))
    assert [report.ok for report in reports] == [True, False, False, True]
    assert 'broken.mp4' in reports[1].error and 'absent.mp4' in reports[2].error
    assert [report.num_frames for report in reports] == [5, 0, 0, 5]
    assert len(seen) == 10 and seen[-1] == (str(frame_folder(synthvid, 2)), 4)
    # the last video's results do not depend on what came before it
    assert_same_predictions(reports[3].predictions,
                            [r.instances for r in inferencer(frame_folder(synthvid, 2))])


def test_max_frames_and_an_open_source_are_accepted(synthvid):
    inferencer = VideoInferencer(model=seeded_model(BASELINE))
    with open_video(video_file(synthvid, 0)) as source:
        assert len(list(inferencer(source, max_frames=2))) == 2
        assert not source.closed  # the caller opened it, the caller closes it
    with pytest.raises(ValueError, match='max_frames'):
        list(inferencer(video_file(synthvid, 0), max_frames=0))


def test_an_offline_memory_model_streams_online():
    model = seeded_model(MAMBA, **{'model.inference_mode': 'offline'})
    with pytest.warns(UserWarning, match="streaming runs it 'online'"):
        VideoInferencer(model=model)
    assert model.inference_mode == 'online'


def test_clip_pipelines_become_frame_pipelines():
    model = seeded_model(MAMBA)
    steps = [step['type'] for step in frame_pipeline_config(model.cfg)]
    assert steps == ['LoadFrame', 'Resize', 'PackDetInputs']


def test_init_model_takes_class_names_from_the_checkpoint_and_refuses_another_config(tmp_path):
    model = init_model(BASELINE)
    assert model.dataset_meta == {} and not model.training
    checkpoint = tmp_path / 'baseline.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {'dataset_meta': {'classes': ('a', 'b')}}}, checkpoint)
    loaded = init_model(BASELINE, str(checkpoint))
    assert loaded.dataset_meta['classes'] == ('a', 'b')
    assert VideoInferencer(model=loaded).class_names == ('a', 'b')
    with pytest.raises(ValueError, match='does not match the model MAMBA'):
        init_model(MAMBA, str(checkpoint))
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        init_model(BASELINE, str(tmp_path / 'absent.pth'))
    with pytest.raises(ValueError, match='device'):
        init_model(BASELINE, device='tpu')


def test_a_model_without_a_config_is_refused():
    model = init_model(BASELINE)
    del model.cfg
    with pytest.raises(ValueError, match='init_model'):
        VideoInferencer(model=model)


def test_a_camera_stream_grows_that_cameras_memory_across_videos(synthvid):
    config = str(ROOT / 'configs/context_rcnn/context_rcnn_r10t_synthvid_tiny.py')
    model = init_model(config, None, cfg_options={'model.memory_file': None, 'model.inference_mode': 'online',
                                                  'model.camera_memory.score_thr': 0.0, **KEEP_ALL})
    inferencer = VideoInferencer(model=model)
    assert len(list(inferencer(video_file(synthvid, 0)))) == 5
    assert len(model.camera_memory) == 0                      # no camera given: a single-frame detector
    list(inferencer(video_file(synthvid, 0), camera=7, start_time=1_700_000_000.0))
    first = model.camera_memory.size(7)
    stamps = model.camera_memory.bank.bank(7).read().fields['time']
    assert first > 0 and stamps.min() >= 1_700_000_000.0 and stamps.max() < 1_700_000_001.0   # 25 fps
    list(inferencer(video_file(synthvid, 1), camera=7, start_time=1_700_000_100.0))
    assert model.camera_memory.size(7) > first                # a camera's memory outlives a video
    with pytest.raises(ValueError, match='camera must be an int'):
        next(inferencer(video_file(synthvid, 0), camera='north'))
