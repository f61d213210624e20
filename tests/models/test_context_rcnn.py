"""Context R-CNN: the attention block, the per-camera memory, the detector (training with
a frozen detector, offline and online prediction) and the bank-building tool."""
import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from vmem.datasets.synthetic import generate_synthvid
from vmem.models import ContextRCNN, FasterRCNN
from vmem.models.layers import ContextAttention
from vmem.models.memory import CameraMemory, ContextAggregator
from vmem.models.detectors.context_rcnn import normalised_cxcywh
from vmem.models.memory.camera_memory import CameraRead
from vmem.registry import MODELS
from vmem.utils.runner_args import load_config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = 'configs/context_rcnn/context_rcnn_r10t_synthvid_tiny.py'
PIPELINE = [dict(type='LoadFrame'), dict(type='LoadAnnotations', with_instance_id=True), dict(type='PackDetInputs')]


def trained_attention(**kwargs):
    torch.manual_seed(0)
    attention = ContextAttention(dim=8, entry_dim=6, bottleneck_dim=5, **kwargs)
    torch.nn.init.normal_(attention.out.weight)   # as if trained: no longer the identity
    return attention


def reference_attention(attention, features, entries, allowed=None):
    """The block written out: projections, cosine logits / temperature, softmax, residual."""
    embed = lambda layer, x: F.normalize(F.relu(layer(x)), dim=-1)   # noqa: E731
    logits = embed(attention.query, features) @ embed(attention.key, entries).t() / attention.temperature
    if allowed is not None:
        logits = logits.masked_fill(~allowed, float('-inf'))
    return features + attention.out(torch.softmax(logits, -1) @ embed(attention.value, entries))


def test_attention_starts_as_the_identity_and_leaves_frames_without_memory_alone(generator):
    attention = ContextAttention(dim=8, entry_dim=6, bottleneck_dim=5)
    features = torch.randn(4, 8, generator=generator)
    assert torch.equal(attention(features, torch.randn(7, 6, generator=generator)), features)
    trained = trained_attention()
    assert torch.equal(trained(features, torch.zeros(0, 6)), features)
    assert torch.equal(trained(features, None), features)


def test_full_attention_matches_the_written_out_formula(generator):
    attention = trained_attention(temperature=0.5)
    features, entries = torch.randn(4, 8, generator=generator), torch.randn(7, 6, generator=generator)
    torch.testing.assert_close(attention(features, entries), reference_attention(attention, features, entries))
    projected = attention.project_entries(entries)
    torch.testing.assert_close(attention(features, projected=projected), attention(features, entries))


def test_sparse_attention_reads_exactly_each_querys_top_k_keys(generator):
    features, entries = torch.randn(5, 8, generator=generator), torch.randn(30, 6, generator=generator)
    full = trained_attention(temperature=0.5)
    sparse = trained_attention(temperature=0.5, num_keys=4)
    sparse.load_state_dict(full.state_dict())
    embed = lambda layer, x: F.normalize(F.relu(layer(x)), dim=-1)   # noqa: E731
    logits = embed(full.query, features) @ embed(full.key, entries).t()
    allowed = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, logits.topk(4, dim=1).indices, True)
    # a query whose ReLU embedding is all zero ties with every key: any 4 are its top 4
    ranked = logits.sort(dim=1, descending=True).values
    untied = ranked[:, 3] > ranked[:, 4]
    assert untied.sum() >= 3
    out = sparse(features, entries)
    torch.testing.assert_close(out[untied], reference_attention(full, features, entries, allowed)[untied])
    assert not torch.allclose(out, full(features, entries))
    with torch.no_grad():   # inference takes the logits from the search's own scores
        torch.testing.assert_close(sparse(features, entries), out.detach())
    # k >= the number of entries is full attention; the selection passes gradients to the weights
    wide = trained_attention(temperature=0.5, num_keys=30)
    wide.load_state_dict(full.state_dict())
    torch.testing.assert_close(wide(features, entries), full(features, entries))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in (sparse.query.weight, sparse.key.weight,
                                                                         sparse.value.weight))


def test_matched_init_makes_a_query_attend_to_its_own_features_before_training(generator):
    attention = ContextAttention(dim=8, entry_dim=16, bottleneck_dim=32, embedding='linear', matched_init=True)
    features = torch.randn(3, 8, generator=generator)
    entries = torch.cat([torch.randn(5, 8, generator=generator), features], 0)
    entries = torch.cat([entries, torch.randn(8, 8, generator=generator)], 1)      # box and time: ignored at first
    queries = attention._embed(attention.query, features)
    keys = attention.project_entries(entries)[:, :32]
    cosines = queries @ keys.t()
    torch.testing.assert_close(cosines[:, 5:].diagonal(), torch.ones(3))
    assert (cosines.argmax(1) == torch.arange(5, 8)).all()
    with pytest.raises(ValueError, match='embedding'):
        ContextAttention(dim=8, entry_dim=16, embedding='gelu')


def test_null_key_takes_a_share_of_the_softmax_and_adds_nothing_for_it(generator):
    features, entries = torch.randn(5, 8, generator=generator), torch.randn(30, 6, generator=generator)
    plain = trained_attention(temperature=0.5, embedding='linear')   # linear: no all-zero query, no ties
    for num_keys in (None, 4):
        gated = trained_attention(temperature=0.5, null_key=0.3, num_keys=num_keys, embedding='linear')
        gated.load_state_dict(plain.state_dict(), strict=False)
        queries = gated._embed(gated.query, features)
        cosines = queries @ gated.project_entries(entries)[:, :5].t()
        if num_keys:   # the 'nothing' option joins each query's own top-k
            cosines = cosines.masked_fill(cosines < cosines.topk(num_keys, dim=1).values[:, -1:], float('-inf'))
        logits = torch.cat([cosines, torch.full((5, 1), 0.3)], 1) / 0.5
        weights = torch.softmax(logits, -1)[:, :-1]
        expected = features + gated.out(weights @ gated.project_entries(entries)[:, 5:])
        torch.testing.assert_close(gated(features, entries), expected)
        assert (weights.sum(1) < 1).all()
        gated(features, entries).sum().backward()
        assert gated.null_key.grad is not None and gated.null_key.grad != 0
    with pytest.raises(ValueError, match='null_key'):
        ContextAttention(dim=8, entry_dim=6, null_key=2.0)


def test_fixed_matching_trains_what_is_read_but_not_which_entries(camera_root):
    attention = ContextAttention(dim=8, entry_dim=16, bottleneck_dim=32, embedding='linear', matched_init=True,
                                 learn_matching=False)
    assert [name for name, p in attention.named_parameters() if not p.requires_grad] == [
        'query.weight', 'query.bias', 'key.weight', 'key.bias']
    model = build(attention=dict(bottleneck_dim=16, temperature=0.1, embedding='linear', matched_init=True,
                                 learn_matching=False))
    batches = list(loader_for(camera_root, 'cam_train', batch_size=2))
    random_memory(model, batches)
    torch.nn.init.normal_(model.roi_head.box_head.aggregators['1'].attention.out.weight, std=0.01)
    losses = model.train()(**model.data_preprocessor(batches[0], True), mode='loss')
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    trained = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert any('attention.value' in name for name in trained) and any('fc_cls' in name for name in trained)
    assert not any('attention.query' in name or 'attention.key' in name for name in trained)


def test_attention_bad_settings_and_entries():
    with pytest.raises(ValueError, match='temperature'):
        ContextAttention(dim=8, entry_dim=6, temperature=0)
    with pytest.raises(ValueError, match='num_keys'):
        ContextAttention(dim=8, entry_dim=6, num_keys=0)
    with pytest.raises(ValueError, match='expects 6'):
        ContextAttention(dim=8, entry_dim=6)(torch.zeros(2, 8), torch.zeros(3, 5))


def write_frame(memory, camera, timestamp, *, count=3, image_id=0, scores=None, seed=0):
    generator = torch.Generator().manual_seed(seed)
    scores = torch.linspace(0.9, 0.6, count) if scores is None else scores
    return memory.write(camera, features=torch.randn(count, memory.feature_dim, generator=generator),
                        boxes=torch.rand(count, 4, generator=generator), scores=scores,
                        timestamp=timestamp, image_id=image_id)


def test_camera_memory_keeps_top_detections_per_camera_within_capacity_and_horizon():
    memory = CameraMemory(feature_dim=4, capacity=10, horizon='day', max_per_frame=2, score_thr=0.5)
    assert write_frame(memory, 7, 0.0, scores=torch.tensor([0.4, 0.9, 0.7, 0.8]), count=4) == 2
    read = memory.read(7, timestamp=10.0)
    assert memory.entry_dim == 12 and read.entries.shape == (2, 12)
    for frame in range(1, 20):
        write_frame(memory, 7, 60.0 * frame, image_id=frame)
    assert memory.size(7) == 10                                       # bounded by capacity
    write_frame(memory, 3, 0.0, image_id=99)
    assert memory.cameras == [3, 7] and memory.read(5, timestamp=0.0) is None and memory.read(None, timestamp=0) is None
    # a frame never reads its own entries
    own = memory.read(3, timestamp=0.0, exclude_image=99)
    assert len(own.slots) == 0
    # reads look a horizon back and forth; a live camera forgets what is older than it
    write_frame(memory, 3, 2 * 86400.0, image_id=100)
    assert len(memory.read(3, timestamp=2 * 86400.0 - 10).slots) == 2
    assert len(memory.read(3, timestamp=1.0).slots) == 0 and memory.size(3) == 2
    # time and box ride along with the features
    entry = memory.read(3, timestamp=2 * 86400.0).entries[0]
    torch.testing.assert_close(entry[-4:], torch.tensor([0.0, 1.0, *entry[-2:].tolist()]))


def test_camera_memory_files_round_trip_subsample_and_refuse_other_feature_sizes(tmp_path):
    memory = CameraMemory(feature_dim=4, capacity=100, horizon=None, max_per_frame=3, score_thr=0.0)
    for frame in range(20):
        write_frame(memory, 1, float(frame), image_id=frame, seed=frame)
        write_frame(memory, 2, float(frame), image_id=100 + frame, seed=50 + frame, count=1)
    path = tmp_path / 'bank.safetensors'
    memory.save(path)
    same = CameraMemory(feature_dim=4, capacity=100, horizon=None)
    same.load(path)
    for camera in (1, 2):
        a, b = memory.read(camera, timestamp=None), same.read(camera, timestamp=None)
        assert torch.equal(a.entries[a.write_step.argsort()], b.entries[b.write_step.argsort()])
    small = CameraMemory(feature_dim=4, capacity=25, horizon=None)
    small.load(path)
    assert small.size(1) == 25 and small.size(2) == 20
    held = {tuple(row.tolist()) for row in memory.read(1, timestamp=None).entries}
    assert {tuple(row.tolist()) for row in small.read(1, timestamp=None).entries} <= held
    with pytest.raises(ValueError, match='12-d entries.*8-d features'):
        CameraMemory(feature_dim=8).load(path)
    with pytest.raises(FileNotFoundError, match='missing.safetensors'):
        CameraMemory(feature_dim=4).load(tmp_path / 'missing.safetensors')
    with pytest.raises(ValueError, match='horizon'):
        CameraMemory(feature_dim=4, horizon='year')


def test_camera_memory_can_store_each_detections_class_vote(tmp_path):
    memory = CameraMemory(feature_dim=4, num_classes=3, horizon=None, score_thr=0.5)
    assert memory.entry_dim == 15 and memory.votes_start == 12
    written = memory.write(2, features=torch.randn(3, 4), boxes=torch.rand(3, 4), scores=torch.tensor([0.9, 0.4, 0.7]),
                           labels=torch.tensor([2, 0, 1]), timestamp=0.0)
    votes = memory.read(2, timestamp=None).entries[:, 12:]
    assert written == 2
    torch.testing.assert_close(votes.sort(dim=0).values, torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.7, 0.9]]))
    assert sorted(votes.argmax(1).tolist()) == [1, 2]
    with pytest.raises(ValueError, match='labels'):
        write_frame(memory, 2, 1.0)
    with pytest.raises(ValueError, match=r'labels must be in \[0, 3\)'):
        memory.write(2, features=torch.randn(1, 4), boxes=torch.rand(1, 4), scores=torch.ones(1),
                     labels=torch.tensor([3]), timestamp=0.0)
    path = tmp_path / 'votes.safetensors'
    memory.save(path)
    with pytest.raises(ValueError, match='15-d entries.*12-d ones.*class-vote'):
        CameraMemory(feature_dim=4).load(path)
    with pytest.raises(ValueError, match='num_classes'):
        CameraMemory(feature_dim=4, num_classes=-1)


def test_aggregator_cache_gives_the_uncached_result_and_follows_new_writes():
    memory = CameraMemory(feature_dim=8, capacity=6, horizon=None, max_per_frame=3, score_thr=0.0)
    aggregator = ContextAggregator(dim=8, entry_dim=memory.entry_dim, bottleneck_dim=5, temperature=0.5)
    torch.nn.init.normal_(aggregator.attention.out.weight)
    aggregator.eval()
    features, rois = torch.randn(4, 8), torch.tensor([[0.0] * 5, [0.0] * 5, [1.0] * 5, [1.0] * 5])
    for step in range(4):   # the bank fills, then entries get replaced
        write_frame(memory, 5, float(step), image_id=step, seed=step)
        reads = [memory.read(5, timestamp=None), None]
        out = aggregator(features, rois=rois, context={'camera_reads': reads})
        expected = aggregator.attention(features[:2], reads[0].entries, query_input=F.relu(features[:2]))
        torch.testing.assert_close(out[:2], expected)
        assert torch.equal(out[2:], features[2:])   # the second image has no memory
    # a read of a few slots (here one frame's) is gathered from the cache, not masked: same result
    aggregator.attention.num_keys = 2
    few = memory.read(5, timestamp=3.0, window=0.5)
    assert 2 * len(few) <= few.capacity
    out = aggregator(features, rois=rois, context={'camera_reads': [few, None]})
    torch.testing.assert_close(out[:2], aggregator.attention(features[:2], few.entries, query_input=F.relu(features[:2])))


def test_roi_map_aggregator_adds_the_change_of_each_maps_mean_at_every_position():
    memory = CameraMemory(feature_dim=8, capacity=6, horizon=None, max_per_frame=3, score_thr=0.0)
    write_frame(memory, 5, 0.0)
    aggregator = ContextAggregator(dim=4, entry_dim=memory.entry_dim, bottleneck_dim=5, temperature=0.5,
                                   embedding='linear', value_dim=8, on='roi_maps')
    torch.nn.init.normal_(aggregator.attention.out.weight)
    maps, rois = torch.randn(3, 4, 2, 2), torch.tensor([[0.0] * 5, [0.0] * 5, [1.0] * 5])
    reads = {'camera_reads': [memory.read(5, timestamp=None), None]}
    for mode in ('train', 'eval'):   # training projects afresh, inference from the cache
        getattr(aggregator, mode)()
        out = aggregator(maps, rois=rois, context=reads)
        means = maps[:2].mean(dim=(2, 3))
        change = aggregator.attention(means, reads['camera_reads'][0].entries) - means
        torch.testing.assert_close(out[:2], maps[:2] + change[:, :, None, None])
        assert change.abs().sum() > 0 and torch.equal(out[2:], maps[2:])   # the second image has no memory
    with pytest.raises(ValueError, match="4-d RoI features"):
        aggregator(maps.flatten(1), rois=rois, context=reads)
    with pytest.raises(ValueError, match='on must be'):
        ContextAggregator(dim=4, entry_dim=memory.entry_dim, on='rpn')


@pytest.fixture(scope='module')
def camera_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthvid_cameras')
    common = dict(num_frames=4, width=64, height=64, write_videos=False, camera_roster=3)
    generate_synthvid(root, split='cam_train', num_videos=3, num_cameras=2, first_camera=10, **common)
    generate_synthvid(root, split='cam_val', num_videos=2, num_cameras=1, first_camera=20, **common)
    return str(root) + '/'


def loader_for(root, split, batch_size=1):
    cfg = load_config(str(ROOT / CONFIG))
    loader = copy.deepcopy(cfg.test_dataloader)
    loader.update(num_workers=0, persistent_workers=False, batch_size=batch_size,
                  sampler=dict(type='DefaultSampler', shuffle=False))
    loader['dataset'].update(data_root=root, ann_file=f'annotations/synthvid_{split}.json',
                             data_prefix=dict(img_path=f'{split}/frames'), pipeline=PIPELINE)
    with DefaultScope.overwrite_default_scope('vmem'):
        return Runner.build_dataloader(loader, seed=0)


def build(**overrides):
    torch.manual_seed(0)
    config = load_config(str(ROOT / CONFIG)).model
    config.update({**dict(memory_file=None), **overrides})
    return MODELS.build(config)


def random_memory(model, batches, count=4):
    """Fill each camera of ``batches`` with entries of random features at the frames' times."""
    for index, batch in enumerate(batches):
        for sample in batch['data_samples']:
            meta = sample.metainfo
            write_frame(model.camera_memory, meta['camera'], meta['timestamp'], count=count, image_id=10_000 + index,
                        scores=torch.ones(count), seed=index)


def test_training_step_trains_only_the_attention_and_the_predictor(camera_root):
    model = build()
    batches = list(loader_for(camera_root, 'cam_train', batch_size=2))
    random_memory(model, batches)
    torch.nn.init.normal_(model.roi_head.box_head.aggregators['1'].attention.out.weight, std=0.01)
    model.train()
    data = model.data_preprocessor(batches[0], True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_cls', 'loss_bbox', 'acc'}   # frozen RPN: no RPN losses
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    trained = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert any('aggregators.1.attention.value' in name for name in trained)
    assert any(name.startswith('roi_head.fc_cls') for name in trained)
    assert not any(name.startswith(('backbone', 'neck', 'rpn_head', 'roi_head.box_head.fc')) for name in trained)
    assert not model.backbone.training                          # frozen batch-norm statistics


def test_without_memory_it_is_the_single_frame_detector_and_memory_changes_the_scores(camera_root):
    model = build().eval()
    base = FasterRCNN(**{k: v for k, v in load_config(str(ROOT / CONFIG)).model.items()
                         if k in ('backbone', 'neck', 'rpn_head', 'roi_head', 'data_preprocessor')}).eval()
    base.load_state_dict({k: v for k, v in model.state_dict().items() if 'aggregators' not in k})
    torch.nn.init.normal_(model.roi_head.box_head.aggregators['1'].attention.out.weight, std=0.5)
    batches = list(loader_for(camera_root, 'cam_val'))
    data = model.data_preprocessor(batches[0], False)
    with torch.no_grad():
        alone = model(**copy.deepcopy(data), mode='predict')[0].pred_instances
        expected = base(**copy.deepcopy(data), mode='predict')[0].pred_instances
        assert torch.equal(alone.scores, expected.scores) and torch.equal(alone.bboxes, expected.bboxes)
        random_memory(model, batches[1:])
        enhanced = model(**copy.deepcopy(data), mode='predict')[0].pred_instances
        assert not torch.equal(enhanced.scores, expected.scores[:len(enhanced.scores)]) or \
            len(enhanced.scores) != len(expected.scores)


def test_online_memory_grows_per_camera_from_past_frames_and_stays_bounded(camera_root):
    model = build(inference_mode='online', camera_memory=dict(capacity=5, score_thr=0.0, max_per_frame=2)).eval()
    seen = []
    with torch.no_grad():
        for batch in loader_for(camera_root, 'cam_val'):
            data = model.data_preprocessor(batch, False)
            sample = data['data_samples'][0]
            before = model.camera_memory.size(sample.metainfo['camera'])
            model(**data, mode='predict')
            seen.append((before, model.camera_memory.size(sample.metainfo['camera'])))
    assert seen[0][0] == 0 and all(after <= 5 for _, after in seen) and seen[-1][1] == 5
    assert all(after >= before for before, after in seen)
    model.forget_cameras()
    assert len(model.camera_memory) == 0


def test_values_from_class_votes_reads_what_the_detector_called_each_entry_online(camera_root):
    model = build(values_from='class_votes', inference_mode='online',
                  camera_memory=dict(num_classes=8, score_thr=0.0, max_per_frame=2)).eval()
    attention = model.roi_head.box_head.aggregators['1'].attention
    assert attention.value.in_features == 8 and attention.value_start == 264 and attention.key.in_features == 272
    torch.nn.init.normal_(attention.out.weight, std=0.5)
    with torch.no_grad():
        for batch in loader_for(camera_root, 'cam_val'):
            model(**model.data_preprocessor(batch, False), mode='predict')
    camera = model.camera_memory.cameras[0]
    votes = model.camera_memory.read(camera, timestamp=None).entries[:, 264:]
    assert ((votes > 0).sum(dim=1) == 1).all()          # one class per entry, at its score
    with pytest.raises(ValueError, match='class_votes.*num_classes'):
        build(values_from='class_votes')
    with pytest.raises(ValueError, match='num_classes=3'):
        build(camera_memory=dict(num_classes=3))


def test_bad_memory_settings_are_config_errors():
    with pytest.raises(ValueError, match='inference_mode'):
        build(inference_mode='live')
    with pytest.raises(ValueError, match='capacity'):
        build(camera_memory=dict(capacity=0))
    with pytest.raises(FileNotFoundError, match='nowhere.safetensors'):
        build(memory_file='nowhere.safetensors')


def run_tool(*args):
    result = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1'))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def test_build_memory_train_and_test_tools_on_the_tiny_config(camera_root, tmp_path):
    base = tmp_path / 'base.pth'
    model = build()
    torch.save({'state_dict': {k: v for k, v in model.state_dict().items() if 'aggregators' not in k}}, base)
    data = [f'{loader}.{key}' for loader in ('train_dataloader', 'test_dataloader')
            for key in ('num_workers=0', 'persistent_workers=False', f'dataset.data_root={camera_root}')]
    data += ['test_dataloader.dataset.ann_file=annotations/synthvid_cam_val.json',
             'test_dataloader.dataset.data_prefix.img_path=cam_val/frames',
             'train_dataloader.dataset.ann_file=annotations/synthvid_cam_train.json',
             'train_dataloader.dataset.data_prefix.img_path=cam_train/frames']
    banks = {}
    for split in ('train', 'test'):
        banks[split] = tmp_path / f'{split}.safetensors'
        out = run_tool('tools/context_rcnn/build_memory.py', CONFIG, base, '--split', split, '--out', banks[split],
                       '--score-thr', '0.0', '--cfg-options', *data)
        assert 'entries written' in out and banks[split].is_file()
    memory = CameraMemory(feature_dim=256)
    memory.load(banks['train'])
    assert memory.cameras and set(memory.cameras) <= {10, 11}
    # the untrained detector's bank holds no objects: one with an entry on each labelled box
    on_objects = CameraMemory(feature_dim=256, horizon=None, score_thr=0.0)
    for batch in loader_for(camera_root, 'cam_train'):
        sample = batch['data_samples'][0]
        boxes = sample.gt_instances.bboxes
        on_objects.write(sample.metainfo['camera'], features=torch.rand(len(boxes), 256),
                         boxes=normalised_cxcywh(boxes, sample.metainfo, (64, 64)), scores=torch.ones(len(boxes)),
                         timestamp=sample.metainfo['timestamp'], image_id=sample.metainfo['img_id'])
    on_objects.save(tmp_path / 'on_objects.safetensors')
    matched = tmp_path / 'matched.pth'
    out = run_tool('tools/context_rcnn/learn_matching.py', CONFIG, base, '--bank', tmp_path / 'on_objects.safetensors',
                   '--out', matched, '--every', '1', '--steps', '3', '--cfg-options', *data)
    assert 'train after:' in out and 'loss' in out, out
    learned = torch.load(matched, weights_only=True)['state_dict']
    prefix = 'roi_head.box_head.aggregators.1.attention.'
    assert torch.equal(learned[prefix + 'key.weight'][:, :256], learned[prefix + 'query.weight'])
    assert not learned[prefix + 'key.weight'][:, 256:].any()   # box and time: not matched on
    assert not torch.equal(learned[prefix + 'query.weight'], model.state_dict()[prefix + 'query.weight'])
    run_tool('tools/train.py', CONFIG, '--work-dir', tmp_path / 'work', '--cfg-options', *data,
             f'model.memory_file={banks["train"]}', f'load_from={base}', 'train_dataloader.batch_size=2',
             'train_cfg.max_iters=2',
             'train_dataloader.dataset.pipeline.2.scale=(64,64)')
    state = torch.load(tmp_path / 'work' / 'iter_2.pth', weights_only=True)['state_dict']
    assert any('aggregators.1.attention' in key for key in state)
    for key in [k for k in state if k.startswith(('backbone.', 'rpn_head.', 'roi_head.box_head.fc'))]:
        torch.testing.assert_close(state[key], model.state_dict()[key])   # loaded from the base, and frozen
    stdout = run_tool('tools/test.py', CONFIG, tmp_path / 'work' / 'iter_2.pth', '--work-dir', tmp_path / 'test',
                      '--cfg-options', *data[3:], f'model.memory_file={banks["test"]}',
                      f'test_evaluator.ann_file={camera_root}annotations/synthvid_cam_val.json')
    assert '| vid/mAP ' in stdout


def test_training_can_leave_out_the_whole_video_and_values_can_skip_box_and_time(camera_root):
    model = build(train_exclude='video', values_from='features')
    attention = model.roi_head.box_head.aggregators['1'].attention
    assert attention.value.in_features == 256 and attention.key.in_features == 264
    batch = next(iter(loader_for(camera_root, 'cam_train')))
    meta = batch['data_samples'][0].metainfo
    memory = model.camera_memory
    for frame, video in ((1, meta['video_id']), (2, meta['video_id']), (3, meta['video_id'] + 100)):
        memory.write(meta['camera'], features=torch.randn(1, 256), boxes=torch.rand(1, 4), scores=torch.ones(1),
                     timestamp=meta['timestamp'], image_id=10_000 + frame, video_id=video)
    samples = batch['data_samples']
    assert len(model.train()._reads(samples)['camera_reads'][0]) == 1     # only the other video's entry
    assert len(model.eval()._reads(samples)['camera_reads'][0]) == 3      # inference: all but its own
    with pytest.raises(ValueError, match='train_exclude'):
        build(train_exclude='camera')


def test_memory_dropout_hides_memory_from_some_training_frames_only(camera_root, monkeypatch):
    batches = list(loader_for(camera_root, 'cam_train', batch_size=2))
    seen = []
    for dropout in (0.0, 0.999):
        model = build(memory_dropout=dropout)
        random_memory(model, batches)
        loss = model.roi_head.loss
        monkeypatch.setattr(model.roi_head, 'loss', lambda *args, context, **kw: seen.append(context) or loss(
            *args, context=context, **kw))
        model.train()(**model.data_preprocessor(batches[0], True), mode='loss')
    assert all(read is not None for read in seen[0]['camera_reads'])
    assert all(read is None for read in seen[1]['camera_reads'])
    with pytest.raises(ValueError, match='memory_dropout'):
        build(memory_dropout=1.0)


def test_a_bank_file_without_video_ids_still_loads(tmp_path):
    from vmem.memory import GroupedMemoryBank, save_memory
    old = GroupedMemoryBank(capacity_per_group=8, dim=12, fields=dict(time='float64', image_id='int64', score='float32'),
                            time_field='time', write_policy='RandomReplace')
    old.write(4, torch.randn(3, 12), time=torch.zeros(3, dtype=torch.float64), image_id=5, score=torch.ones(3))
    save_memory(old, tmp_path / 'old.safetensors')
    memory = CameraMemory(feature_dim=4)
    memory.load(tmp_path / 'old.safetensors')
    assert memory.size(4) == 3 and (memory.bank.bank(4).read().fields['video_id'] == -1).all()


def test_short_term_attention_reads_nearby_frames_in_parallel_with_the_long_term_one(camera_root):
    model = build(short_term=dict(window=2.0, bottleneck_dim=32)).eval()
    aggregator = model.roi_head.box_head.aggregators['1']
    assert aggregator.short_attention.bottleneck_dim == 32 and aggregator.attention.bottleneck_dim == 64
    batch = next(iter(loader_for(camera_root, 'cam_val')))
    meta = batch['data_samples'][0].metainfo
    for offset in (1.0, 100.0, 86400.0):   # a nearby frame, the same hour, another day
        write_frame(model.camera_memory, meta['camera'], meta['timestamp'] + offset, count=1,
                    image_id=50_000 + int(offset), scores=torch.ones(1))
    reads = model._reads(batch['data_samples'])
    assert len(reads['camera_reads'][0]) == 3 and len(reads['short_term_reads'][0]) == 1
    for attention in (aggregator.attention, aggregator.short_attention):
        torch.nn.init.normal_(attention.out.weight)
    features, rois = torch.randn(4, 256), torch.zeros(4, 5)
    both = aggregator(features, rois=rois, context=reads)
    long_only = aggregator(features, rois=rois, context={'camera_reads': reads['camera_reads']})
    short_only = aggregator(features, rois=rois, context={'short_term_reads': reads['short_term_reads']})
    torch.testing.assert_close(both, long_only + short_only - features)
    with pytest.raises(ValueError, match='window'):
        build(short_term=dict(window=0, bottleneck_dim=32))


def test_rpn_attention_reads_memory_on_the_pooled_maps_beside_the_box_feature_attention(camera_root):
    rpn_attention = dict(bottleneck_dim=16, temperature=0.1, embedding='linear', null_key=0.5)
    model = build(rpn_attention=rpn_attention)
    box_head = model.roi_head.box_head
    assert box_head.roi_aggregator.on == 'roi_maps' and box_head.roi_aggregator.attention.dim == 128
    assert box_head.roi_aggregator.attention.value_dim == 256   # values_from='features': the entries' features
    batches = list(loader_for(camera_root, 'cam_train', batch_size=2))
    random_memory(model, batches)
    for block in (box_head.roi_aggregator, box_head.aggregators['1']):
        torch.nn.init.normal_(block.attention.out.weight, std=0.01)
    model.train()
    losses = model(**model.data_preprocessor(batches[0], True), mode='loss')
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    trained = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert {'roi_head.box_head.roi_aggregator.attention.value.weight',
            'roi_head.box_head.roi_aggregator.attention.out.weight'} <= trained
    assert not any(name.startswith(('backbone', 'roi_head.box_head.fc')) for name in trained)   # still frozen
    # at inference it changes the detections of a frame with memory, and only then
    model.eval()
    val_batches = list(loader_for(camera_root, 'cam_val'))
    random_memory(model, val_batches[1:])
    data = model.data_preprocessor(val_batches[0], False)
    without = build(rpn_attention=rpn_attention).eval()
    without.load_state_dict(model.state_dict())
    torch.nn.init.zeros_(box_head.aggregators['1'].attention.out.weight)   # only the RPN-side block acts
    torch.nn.init.zeros_(box_head.aggregators['1'].attention.out.bias)
    torch.nn.init.normal_(box_head.roi_aggregator.attention.out.weight, std=0.5)
    with torch.no_grad():
        enhanced = model(**copy.deepcopy(data), mode='predict')[0].pred_instances
        plain = without(**copy.deepcopy(data), mode='predict')[0].pred_instances   # its memory is empty
    assert len(enhanced.scores) != len(plain.scores) or not torch.equal(enhanced.scores, plain.scores)
    with pytest.raises(ValueError, match='matched_init'):
        build(rpn_attention=dict(matched_init=True))
