"""MAMBA and its memories: writes, key sets, per-clip / per-video state, training, online and
offline prediction, checkpoints, bad input; built from the shipped tiny SynthVID configs."""
import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from detector_setup import first_batch
from vmem.datasets.synthetic import generate_synthvid
from vmem.memory import MemoryBank
from vmem.models import FasterRCNN
from vmem.models.memory import InstanceMemory, MemoryStep, PixelMemory, ScoreMemory, cells_in_boxes, read_key_set
from vmem.registry import MODELS
from vmem.structures import DetDataSample
from vmem.utils.runner_args import load_config

ROOT = Path(__file__).resolve().parents[2]
TINY_CONFIGS = ['mamba_r10t_synthvid_tiny', 'mamba_ins_r10t_synthvid_tiny', 'selsa_r10t_synthvid_tiny']
CLIP_PIPELINE = [  # the configs' clip pipelines without their resize: 64x64 frames stay small
    dict(type='ApplyToFrames', transforms=[
        dict(type='LoadFrame'), dict(type='LoadAnnotations', with_instance_id=True)]),
    dict(type='PackVideoInputs')]


def tiny_config(name):
    return load_config(str(ROOT / f'configs/mamba/{name}.py'))


def build(name, **model_overrides):
    torch.manual_seed(0)
    config = tiny_config(name).model
    config.update(model_overrides)
    return MODELS.build(config)


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthvid_mamba')
    generate_synthvid(root, split='train', num_videos=2, num_frames=6, width=64, height=64, write_videos=False)
    generate_synthvid(root, split='val', num_videos=2, num_frames=5, width=64, height=64, write_videos=False)
    return str(root) + '/'


@pytest.fixture(scope='module')
def clip_batch(tiny_root):
    """2 clips of a key frame + 2 references, 64x64."""
    return first_batch(tiny_root, 'train_dataloader', batch_size=2, pipeline=CLIP_PIPELINE)


@pytest.fixture(scope='module')
def video_batches(tiny_root):
    """Every val frame in video order, one per batch; frame 0 of a video carries 3
    references spread over the video (test_with_adaptive_stride)."""
    loader = copy.deepcopy(tiny_config('mamba_r10t_synthvid_tiny').val_dataloader)
    loader.update(num_workers=0, persistent_workers=False)
    loader['dataset'].update(data_root=tiny_root, pipeline=CLIP_PIPELINE,
                             ref_img_sampler=dict(num_ref_imgs=3, method='test_with_adaptive_stride'))
    with DefaultScope.overwrite_default_scope('vmem'):
        return list(Runner.build_dataloader(loader, seed=0))


def instance_memories(model):
    return [model.roi_head.box_head.aggregators[level] for level in ('0', '1')]


# -- the memories on their own --------------------------------------------------------------
def test_instance_memory_reads_per_stream_and_writes_top_proposals_after_commit(generator):
    memory = InstanceMemory(dim=16, capacity=100, num_keys=10, write_topk=5, num_heads=4, init_scale=0.5)
    memory.reset(2)
    features = torch.randn(14, 16, generator=generator, requires_grad=True)
    rois = torch.cat([torch.zeros(8, 1), torch.ones(6, 1)]).expand(14, 5).clone()
    step = MemoryStep(write=True, frame_ids=[3, 7])
    out = memory(features, rois=rois, context={'memory_step': step})
    assert torch.equal(out, features)  # both streams empty: identity
    assert memory.size(0) == memory.size(1) == 0  # nothing written before the commit
    scores = torch.linspace(0, 1, 14)
    step.commit(scores)
    stored = memory.bank(1).read()
    assert memory.size(0) == 5 and memory.size(1) == 5
    assert torch.equal(stored.keys, features[8:13].detach())  # the first 5 RoIs of frame 1, unenhanced
    assert torch.equal(stored.fields['score'], scores[8:13]) and set(stored.fields['frame_id'].tolist()) == {7}
    assert not stored.keys.requires_grad
    # now stream 0 has keys: its RoIs change, and gradients reach them through GEO
    out = memory(features, rois=rois, context={'memory_step': MemoryStep(write=False, frame_ids=[4, 8])})
    assert not torch.allclose(out[:8], features[:8])
    out.sum().backward()
    assert memory.geo.layers[0].query.weight.grad.abs().sum() > 0
    # without a MemoryStep it is the single-frame identity
    assert memory(features, rois=rois, context=None) is features


def test_instance_memory_is_bounded_by_capacity(generator):
    memory = InstanceMemory(dim=8, capacity=40, num_keys=16, write_topk=5, num_heads=2)
    rois = torch.zeros(20, 5)
    for frame in range(30):
        step = MemoryStep(write=True, frame_ids=[frame])
        memory(torch.randn(20, 8, generator=generator), rois=rois, context={'memory_step': step})
        step.commit(torch.rand(20, generator=generator))
    assert memory.size(0) == 40
    frames = memory.bank(0).read().fields['frame_id']
    assert frames.min() < 20 and frames.max() == 29  # random replacement keeps some old frames
    assert len(read_key_set(memory.bank(0), key_set='random', num_keys=16)) == 16


def test_key_set_modes():
    bank = MemoryBank(capacity=10, dim=2, fields=dict(score='float32', frame_id='int64'))
    assert read_key_set(bank, key_set='random', num_keys=4).keys.shape == (0, 2)  # empty bank
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [-1.0, 0.0], [0.1, 1.0], [0.0, -1.0]])
    bank.write(keys, score=torch.tensor([0.1, 0.9, 0.2, 0.8, 0.3, 0.7]), frame_id=0)

    def rows(found):
        return sorted(int((keys == key).all(1).nonzero()) for key in found.keys)

    assert rows(read_key_set(bank, key_set='all', num_keys=None)) == [0, 1, 2, 3, 4, 5]
    assert rows(read_key_set(bank, key_set='score', num_keys=3)) == [1, 3, 5]
    # two queries near +x, each retrieving its 2 nearest (cosine): the union is rows 0 and 2
    near = read_key_set(bank, key_set='topk', num_keys=4, queries=torch.tensor([[1.0, 0.0], [1.0, 0.05]]))
    assert rows(near) == [0, 2]
    # one key per query; of the union, the one retrieved by the most queries (2 of 3) is kept
    one = read_key_set(bank, key_set='topk', num_keys=1,
                       queries=torch.tensor([[0.1, 1.0], [0.12, 1.0], [1.0, 0.0]]))
    assert rows(one) == [4]
    assert len(set(rows(read_key_set(bank, key_set='random', num_keys=4)))) == 4
    # the cached-projection path copies only the values out of the bank
    cached = MemoryBank(capacity=10, dim=2, value_dim=3, fields=dict(score='float32'))
    cached.write(keys, torch.arange(18.0).reshape(6, 3), score=torch.rand(6))
    for mode, num in (('all', None), ('score', 2), ('random', 4)):
        read = read_key_set(cached, key_set=mode, num_keys=num, column='values')
        assert read.keys is None and torch.equal(read.values, cached.gather(read.slots).values), mode
    with pytest.raises(ValueError, match="column must be 'keys' or 'values'"):
        read_key_set(cached, key_set='all', num_keys=None, column='score')


def test_key_set_larger_than_capacity_is_a_config_error():
    with pytest.raises(ValueError, match=r'num_keys \(300\) exceeds the memory capacity \(200\)'):
        InstanceMemory(dim=16, capacity=200, num_keys=300)
    with pytest.raises(ValueError, match='num_keys'):
        PixelMemory(dim=16, capacity=10, num_keys=11)
    with pytest.raises(ValueError, match='num_keys'):
        build('mamba_r10t_synthvid_tiny', instance_memory=dict(capacity=1000, num_keys=2000))
    with pytest.raises(ValueError, match="key_set must be one of"):
        InstanceMemory(dim=16, key_set='nearest')


def test_cells_in_boxes():
    boxes = torch.tensor([[0.0, 0.0, 32.0, 16.0],     # cells (0, 0) and (0, 1) of a stride-16 grid
                          [40.0, 40.0, 44.0, 44.0],   # no cell centre inside: the centre cell (2, 2)
                          [0.0, 0.0, 64.0, 64.0]])    # all 16 cells, capped at 5
    index, owner = cells_in_boxes(boxes, (4, 4), (16.0, 16.0), per_box=5)
    assert sorted(index[owner == 0].tolist()) == [0, 1]
    assert index[owner == 1].tolist() == [2 * 4 + 2]
    assert len(index[owner == 2]) == 5 and len(set(index[owner == 2].tolist())) == 5


def test_pixel_memory_stores_confident_cells_and_replaces_the_transient_set(generator):
    memory = PixelMemory(dim=8, capacity=50, num_keys=20, pixels_per_box=3, num_heads=2)
    feature_map = torch.randn(1, 8, 4, 4, generator=generator, requires_grad=True)
    boxes = torch.tensor([[0.0, 0.0, 64.0, 64.0], [0.0, 0.0, 32.0, 32.0], [0.0, 0.0, 64.0, 64.0]])
    memory.write(feature_map, [boxes], [torch.tensor([0.9, 0.6, 0.3])], stride=(16.0, 16.0), frame_ids=[0])
    stored = memory.bank(0).read()
    assert len(stored) == 3 and not stored.keys.requires_grad  # <= 3 cells of the one box >= 0.8
    cells = feature_map[0].flatten(1).t().detach()
    assert all(any(torch.equal(key, cell) for cell in cells) for key in stored.keys)
    assert memory.transient[0].shape == (3, 8)  # the 0.6 box's cells (4 inside, 3 kept)
    assert len(memory.key_set_of(0)) == 3 + 3
    memory.write(feature_map, [boxes[:1]], [torch.tensor([0.95])], stride=(16.0, 16.0), frame_ids=[1])
    assert memory.size(0) == 6 and memory.transient[0].shape == (0, 8)  # replaced, not accumulated
    enhanced = memory.enhance(feature_map)
    assert enhanced.shape == feature_map.shape and not torch.equal(enhanced, feature_map)
    memory.reset(1)
    assert memory.size(0) == 0 and len(memory.key_set_of(0)) == 0


# -- the detector ---------------------------------------------------------------------------
@pytest.mark.parametrize('name', TINY_CONFIGS)
def test_training_on_clips_is_finite_backpropagates_and_keeps_clips_apart(name, clip_batch):
    model = build(name)
    if model.pixel_memory is not None:
        # a fresh detector detects nothing confidently: ground-truth writes fill the pixel
        # memory, so that its GEO is trained here too
        model.train_pixel_writes = 'ground_truth'
    model.train()
    data = model.data_preprocessor(copy.deepcopy(clip_batch), True)
    assert data['inputs'].shape == (2, 3, 64, 64) and data['ref_inputs'].shape == (2, 2, 3, 64, 64)
    losses = model(**data, mode='loss')
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'} <= set(losses)
    assert all(torch.isfinite(value) for value in losses.values())
    sum(value for key, value in losses.items() if key.startswith('loss')).backward()
    geos = [memory.geo for memory in instance_memories(model)]
    if model.pixel_memory is not None:
        assert model.pixel_memory.size(0) > 0 and model.pixel_memory.size(1) > 0  # ground-truth cells
        geos.append(model.pixel_memory.geo)
    for geo in geos:
        assert geo.layers[0].proj_weight.grad.abs().sum() > 0
    for stream, clip in enumerate(data['data_samples']):
        reference_ids = {ref.frame_id for ref in clip.ref_frames}
        for memory in instance_memories(model):
            stored = set(memory.bank(stream).read().fields['frame_id'].tolist())
            assert stored and stored <= reference_ids  # this clip's references only
            assert 0 < memory.size(stream) <= 2 * memory.write_topk


def test_training_can_write_the_references_detections_to_the_pixel_memory(clip_batch):
    with pytest.raises(ValueError, match='train_pixel_writes'):
        build('mamba_r10t_synthvid_tiny', train_pixel_writes='truth')

    def train_step(**overrides):
        model = build('mamba_r10t_synthvid_tiny', **overrides)
        model.train()
        data = model.data_preprocessor(copy.deepcopy(clip_batch), True)
        losses = model(**data, mode='loss')
        assert all(torch.isfinite(value) for value in losses.values())
        return model, data

    # a fresh detector is confident about nothing: what inference would write is nothing
    model, _ = train_step()
    assert model.train_pixel_writes == 'detections'   # the tiny config's choice
    assert model.pixel_memory.size(0) == 0 and model.pixel_memory.size(1) == 0
    # with thresholds of 0 every detection writes its cells; they are not the ground truth's
    everything = dict(capacity=4000, num_keys=250, pixels_per_box=100, write_thr=0.0, transient_thr=0.0)
    detected, data = train_step(train_pixel_writes='detections', pixel_memory=everything)
    truth, _ = train_step(train_pixel_writes='ground_truth', pixel_memory=everything)
    assert detected.pixel_memory.size(0) > 0
    assert detected.pixel_memory.size(0) != truth.pixel_memory.size(0)
    # the ground-truth boxes are few, the references' detections many
    boxes = sum(len(ref.gt_instances) for ref in data['data_samples'][0].ref_frames)
    assert truth.pixel_memory.size(0) <= boxes * 100


def predict_video(model, batches):
    model.eval()
    outputs, sizes = [], []
    with torch.no_grad():
        for batch in batches:
            outputs.append(model.test_step(copy.deepcopy(batch))[0])
            sizes.append(instance_memories(model)[0].size(0))
    return outputs, sizes


@pytest.mark.parametrize('name', TINY_CONFIGS)
def test_online_and_offline_prediction_over_videos(name, video_batches):
    model = build(name)
    keys = [b['data_samples'][0].key_frames[0] for b in video_batches]
    assert [(k.video_id, k.frame_id) for k in keys] == \
        [(v, f) for v in (1, 2) for f in range(5)]
    outputs, online = predict_video(model, video_batches)
    assert all(isinstance(o, DetDataSample) and 'pred_instances' in o for o in outputs)
    assert [(o.video_id, o.frame_id) for o in outputs] == [(v, f) for v in (1, 2) for f in range(5)]
    assert all(len(o.pred_instances.bboxes) > 0 for o in outputs)
    write_topk = instance_memories(model)[0].write_topk
    assert 0 < online[0] <= write_topk and 0 < online[5] <= write_topk  # frame 0 wrote itself only
    assert online[0] < online[1] < online[4] and online[5] < online[4]  # a new video emptied the memory
    model.inference_mode = 'offline'
    outputs, offline = predict_video(model, video_batches)
    assert all('pred_instances' in o for o in outputs)
    assert offline[0] > online[0]  # the 3 references went in before frame 0
    if model.write_frames_offline:
        assert offline[1] > offline[0]
    else:  # SELSA's protocol: memory = the references, frozen
        assert offline[0] == offline[4] and offline[5] == offline[9]


def test_first_frame_with_empty_memory_equals_faster_rcnn(video_batches):
    mamba = build('mamba_r10t_synthvid_tiny')
    base_config = load_config(str(ROOT / 'configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py'))
    faster_rcnn = MODELS.build(base_config.model)
    assert isinstance(faster_rcnn, FasterRCNN)
    missing, unexpected = faster_rcnn.load_state_dict(mamba.state_dict(), strict=False)
    assert not missing and all('geo' in key for key in unexpected)
    mamba_first, _ = predict_video(mamba, video_batches[:2])
    faster_rcnn.eval()
    with torch.no_grad():
        base_first, base_second = (faster_rcnn.test_step(copy.deepcopy(b))[0] for b in video_batches[:2])
    assert torch.equal(mamba_first[0].pred_instances.scores, base_first.pred_instances.scores)
    assert torch.equal(mamba_first[0].pred_instances.bboxes, base_first.pred_instances.bboxes)
    # frame 1 reads frame 0 from memory
    assert not torch.equal(mamba_first[1].pred_instances.scores, base_second.pred_instances.scores)


def test_score_memory_on_the_single_frame_detector_rescores_its_own_detections(video_batches):
    """A MAMBA with no feature memories and a ScoreMemory: the single-frame detections,
    rescored from the same video's earlier frames only."""
    base_config = load_config(str(ROOT / 'configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py'))
    torch.manual_seed(0)
    faster_rcnn = MODELS.build(base_config.model).eval()
    rescoring = MODELS.build(dict(base_config.model, type='MAMBA',
                                  score_memory=dict(num_frames=2, past_weight=0.5, iou_thr=0.3))).eval()
    rescoring.load_state_dict(faster_rcnn.state_dict(), strict=True)
    assert rescoring.state_dict().keys() == faster_rcnn.state_dict().keys()  # the memory is state only
    reference = ScoreMemory(num_frames=2, past_weight=0.5, iou_thr=0.3)
    changed = 0
    with torch.no_grad():
        for batch in video_batches:
            got = rescoring.test_step(copy.deepcopy(batch))[0]
            plain = faster_rcnn.test_step(copy.deepcopy(batch))[0].pred_instances
            if got.frame_id == 0:
                reference.reset()
            expected = reference.rescore(plain.bboxes, plain.scores, plain.labels, frame_id=got.frame_id)
            reference.write(plain.bboxes, plain.scores, plain.labels, frame_id=got.frame_id)
            assert torch.equal(got.pred_instances.bboxes, plain.bboxes)
            assert torch.equal(got.pred_instances.labels, plain.labels)
            assert torch.allclose(got.pred_instances.scores, expected)
            if got.frame_id == 0:  # a new video starts from an empty memory
                assert torch.equal(got.pred_instances.scores, plain.scores)
            changed += not torch.equal(got.pred_instances.scores, plain.scores)
    assert changed > 0
    with pytest.raises(ValueError, match='frame_id'), torch.no_grad():
        rescoring.predict(torch.rand(1, 3, 64, 64), [DetDataSample(metainfo=dict(img_shape=(64, 64), video_id=3))])


def test_memory_is_not_in_the_state_dict(video_batches):
    model = build('mamba_r10t_synthvid_tiny')
    keys_before = set(model.state_dict())
    predict_video(model, video_batches[:3])
    assert instance_memories(model)[0].size(0) > 0
    state = model.state_dict()
    assert set(state) == keys_before
    assert not any('banks' in key or 'transient' in key for key in state)
    assert any(key.startswith('pixel_memory.geo.') for key in state)
    assert any(key.startswith('roi_head.box_head.aggregators.1.geo.') for key in state)
    fresh = build('mamba_r10t_synthvid_tiny')
    fresh.load_state_dict(state, strict=True)
    assert instance_memories(fresh)[0].size(0) == 0


def test_one_frame_video_and_offline_references_of_a_one_frame_video():
    model = build('mamba_r10t_synthvid_tiny', inference_mode='offline')
    model.eval()
    frame = torch.randn(1, 3, 64, 64)
    sample = DetDataSample(metainfo=dict(img_shape=(64, 64), video_id=9, frame_id=0))
    with torch.no_grad():
        alone = model.predict(frame, [sample])[0]
        with_itself = model(frame, [copy.deepcopy(sample)], mode='predict', ref_inputs=frame[:, None])[0]
    assert 'pred_instances' in alone and 'pred_instances' in with_itself
    assert instance_memories(model)[0].size(0) > 0


def test_bad_input_is_explained(clip_batch):
    model = build('mamba_ins_r10t_synthvid_tiny')
    data = model.data_preprocessor(copy.deepcopy(clip_batch), True)
    with pytest.raises(ValueError, match=r'reference frames are \(32, 32\) but the key frames are \(64, 64\)'):
        model(data['inputs'], data['data_samples'], mode='loss', ref_inputs=torch.zeros(2, 2, 3, 32, 32))
    bad = copy.deepcopy(data['data_samples'])
    bad[0].ref_frames[1].set_metainfo(dict(img_shape=(48, 64)))
    with pytest.raises(ValueError, match='reference frames must be resized like the key frame'):
        model(data['inputs'], bad, mode='loss', ref_inputs=data['ref_inputs'])
    model.eval()
    with pytest.raises(ValueError, match='one frame per call'):
        model(data['inputs'], data['data_samples'], mode='predict')
    with pytest.raises(ValueError, match='inference_mode'):
        build('mamba_ins_r10t_synthvid_tiny', inference_mode='batch')


def run_tool(*args):
    result = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def test_train_then_offline_test_tools_on_the_tiny_mamba_config(tiny_root, tmp_path):
    config = 'configs/mamba/mamba_r10t_synthvid_tiny.py'
    val_json = f'{tiny_root}annotations/synthvid_val.json'

    def local(loader):
        return [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                f'{loader}.dataset.data_root={tiny_root}']

    run_tool('tools/train.py', config, '--work-dir', tmp_path / 'work', '--cfg-options',
             *local('train_dataloader'), *local('val_dataloader'), f'val_evaluator.ann_file={val_json}',
             'train_dataloader.batch_size=2', 'train_cfg.max_iters=2', 'train_cfg.val_interval=100',
             'train_dataloader.dataset.pipeline.0.transforms.2.scale=(64,64)')
    checkpoint = torch.load(tmp_path / 'work' / 'iter_2.pth', weights_only=True)
    assert checkpoint['meta']['iter'] == 2
    state = checkpoint['state_dict']
    assert any('aggregators.0.geo' in key for key in state) and not any('banks' in key for key in state)
    # the documented offline switch, on the val split
    stdout = run_tool('tools/test.py', config, tmp_path / 'work' / 'iter_2.pth', '--work-dir', tmp_path / 'test',
                      '--cfg-options', *local('test_dataloader'), f'test_evaluator.ann_file={val_json}',
                      'test_dataloader.dataset.ann_file=annotations/synthvid_val.json',
                      'test_dataloader.dataset.data_prefix.img_path=val/frames',
                      'model.inference_mode=offline', 'test_dataloader.dataset.ref_img_sampler.num_ref_imgs=3')
    assert '| vid/mAP ' in stdout


@pytest.mark.parametrize('memory_type', ['instance', 'pixel'])
def test_cached_key_projections_give_the_same_enhancement(memory_type, generator):
    """At inference each stored entry carries its GEO key projection; reading it equals
    projecting the key set afresh, and training never reads the cache."""
    def build(cache):
        torch.manual_seed(0)
        if memory_type == 'instance':
            return InstanceMemory(dim=32, capacity=64, num_keys=16, write_topk=8, num_heads=4,
                                  init_scale=0.5, cache_key_projections=cache)
        return PixelMemory(dim=32, capacity=64, num_keys=16, pixels_per_box=4, num_heads=4,
                           init_scale=0.5, cache_key_projections=cache)

    def run(memory):
        torch.manual_seed(1)  # the same random key sets and stored cells for both memories
        outputs = []
        for frame in range(4):
            features = torch.randn(1, 32, 6, 8, generator=torch.Generator().manual_seed(frame))
            if memory_type == 'instance':
                rois = torch.zeros(10, 5)
                step = MemoryStep(write=True, frame_ids=[frame])
                outputs.append(memory(features[0].flatten(1).t()[:10], rois=rois, context={'memory_step': step}))
                step.commit(torch.rand(10))
            else:
                outputs.append(memory.enhance(features))
                boxes = torch.tensor([[0.0, 0.0, 64.0, 48.0], [16.0, 16.0, 48.0, 40.0]])
                memory.write(features, [boxes], [torch.tensor([0.9, 0.6])], stride=(8.0, 8.0), frame_ids=[frame])
        return outputs

    cached, fresh = build(True).eval(), build(False).eval()
    with torch.no_grad():
        for with_cache, without in zip(run(cached), run(fresh)):
            torch.testing.assert_close(with_cache, without, rtol=1e-5, atol=1e-5)
    assert cached.bank(0).read().values.shape[1] == cached.geo.projected_dim
    assert fresh.bank(0).value_dim is None
    # training: gradients reach the key projection, so nothing cached is read
    cached.train()
    cached.reset(1)
    outputs = run(cached)
    outputs[-1].sum().backward()
    assert cached.geo.layers[0].key.weight.grad is not None
    assert cached.geo.layers[0].key.weight.grad.abs().sum() > 0
