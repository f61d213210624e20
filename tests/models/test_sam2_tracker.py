"""SAM2Tracker as an mmengine model: training loss through memory, streamed prediction."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from vmem.registry import MODELS
from vmem.structures import DetDataSample, TrackDataSample

from sam2_setup import TINY_NETWORK, TINY_TRUNK

HEIGHT, WIDTH = 96, 128


def build_tracker(**memory):
    init_default_scope('vmem')
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='SAM2Tracker', memory=memory or None, network=TINY_NETWORK))


def moving_squares(num_frames: int, *, video_id: int = 0, seed: int = 0):
    """Frames (uint8 [3, H, W]) and samples of two squares moving right; object 2 enters at frame 2."""
    generator = torch.Generator().manual_seed(seed)
    frames, samples = [], []
    for t in range(num_frames):
        image = torch.randint(0, 60, (3, HEIGHT, WIDTH), dtype=torch.uint8, generator=generator)
        masks = torch.zeros(2, HEIGHT, WIDTH, dtype=torch.uint8)
        masks[0, 10:40, 5 + 4 * t:35 + 4 * t] = 1
        if t >= 2:
            masks[1, 55:85, 70:100] = 1
        image[0][masks[0].bool()] = 220
        image[1][masks[1].bool()] = 220
        sample = DetDataSample(metainfo=dict(img_shape=(HEIGHT, WIDTH), ori_shape=(HEIGHT, WIDTH), frame_id=t,
                                             video_id=video_id, video_length=num_frames))
        sample.gt_instances = InstanceData(masks=masks, instance_ids=torch.tensor([1, 2]),
                                           labels=torch.tensor([3, 5]))
        frames.append(image)
        samples.append(sample)
    return frames, samples


def training_batch(model, num_frames=3):
    frames, samples = moving_squares(num_frames)
    for sample in samples:   # the clip's objects: the one visible on frame 0
        sample.gt_instances = sample.gt_instances[:1]
    clip = TrackDataSample(video_data_samples=samples)
    return model.data_preprocessor(dict(inputs=[torch.stack(frames)], data_samples=[clip]), True)


def test_loss_reaches_memory_and_training_lowers_it():
    model = build_tracker()
    model.train()
    batch = training_batch(model)
    losses = model(**batch, mode='loss')
    assert set(losses) == {'loss_mask', 'loss_dice', 'loss_iou', 'loss_presence'}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    # frames 1.. are segmented from memory, so the memory encoder and attention learn
    assert model.network.memory_encoder.pix_feat_proj.weight.grad.abs().sum() > 0
    assert model.network.memory_attention.layers[0].cross_attn_image.k_proj.weight.grad.abs().sum() > 0
    model.prompt_probs = dict(mask=1.0)          # a fixed prompt, so losses are comparable
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
    first = None
    for _ in range(25):
        optimizer.zero_grad()
        total = sum(model(**batch, mode='loss').values())
        total.backward()
        optimizer.step()
        first = float(total.detach()) if first is None else first
    assert float(total.detach()) < 0.7 * first


def test_bad_training_input_is_named():
    model = build_tracker()
    batch = training_batch(model)
    with pytest.raises(ValueError, match='TrackDataSample'):
        model(batch['inputs'], [DetDataSample()], mode='loss')
    with pytest.raises(ValueError, match='prompt_probs'):
        MODELS.build(dict(type='SAM2Tracker', network=dict(image_encoder=dict(trunk=TINY_TRUNK), dim=64,
                                                           memory_dim=16), prompt_probs=dict(mask=0.5)))


def predict_video(model, frames, samples, *, first_appearance=True):
    results = []
    seen = set()
    for image, sample in zip(frames, samples):
        gt = sample.gt_instances
        if first_appearance:   # prompts only where an object first appears, as the VOS datasets give
            new = [k for k in range(len(gt)) if gt.masks[k].any() and int(gt.instance_ids[k]) not in seen]
            seen.update(int(gt.instance_ids[k]) for k in new)
            sample = sample.clone()
            sample.gt_instances = gt[new] if new else gt[:0]
        batch = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), False)
        results.append(model(**batch, mode='predict')[0].pred_track_instances)
    return results


def test_predict_streams_objects_from_their_first_frame_and_resets_per_video():
    model = build_tracker().eval()
    frames, samples = moving_squares(5)
    results = predict_video(model, frames, samples)
    assert [r.instance_ids.tolist() for r in results] == [[1], [1], [1, 2], [1, 2], [1, 2]]
    first = results[0]
    assert first.masks.shape == (1, HEIGHT, WIDTH) and first.masks.dtype == torch.bool
    # a mask prompt is output as given, with its box and full presence
    assert torch.equal(first.masks[0], samples[0].gt_instances.masks[0].bool())
    assert first.bboxes[0].tolist() == [5.0, 10.0, 35.0, 40.0]
    assert first.labels.tolist() == [3] and float(first.scores[0]) > 0.99
    assert model._stream.memory.object_ids == [1, 2]
    # a new video starts with no memory
    other_frames, other_samples = moving_squares(2, video_id=9)
    results = predict_video(model, other_frames, other_samples)
    assert [r.instance_ids.tolist() for r in results] == [[1], [1]]
    assert model._stream.memory.object_ids == [1]


def test_memory_stays_bounded_and_prompted_only_keeps_prompts():
    model = build_tracker(num_recent_maps=2, num_recent_pointers=3).eval()
    frames, samples = moving_squares(8)
    predict_video(model, frames, samples)
    sizes = model._stream.memory.nbytes()
    maps, pointers = model._stream.memory.entries(1)
    assert sorted(e.frame_idx for e in maps) == [0, 6, 7]
    assert sorted(e.frame_idx for e in pointers) == [0, 5, 6, 7]
    predict_video(model, *moving_squares(8, video_id=1))
    assert model._stream.memory.nbytes() == sizes
    only = build_tracker(prompted_only=True).eval()
    predict_video(only, frames, samples)
    maps, _ = only._stream.memory.entries(1)
    assert [e.frame_idx for e in maps] == [0]


def test_samurai_selection_and_long_term_memory_run_in_prediction():
    model = build_tracker(min_quality=0.0, long_term=dict(capacity=8, num_retrieved=1, min_quality=0.0))
    model.motion_weight = 0.15
    model.eval()
    frames, samples = moving_squares(6)
    results = predict_video(model, frames, samples)
    assert [r.instance_ids.tolist() for r in results][-1] == [1, 2]
    state = model._stream
    assert set(state.filters) <= {1, 2}
    assert state.memory.long_term is not None
    with pytest.raises(ValueError, match='motion_weight'):
        MODELS.build(dict(type='SAM2Tracker', network=TINY_NETWORK, motion_weight=2.0))


def test_loss_weights_scale_the_losses():
    model = build_tracker()
    model.train()
    model.prompt_probs = dict(mask=1.0)
    batch = training_batch(model)
    torch.manual_seed(1)
    default = model(**batch, mode='loss')
    model.loss_weights = dict(model.loss_weights, mask=1.0)
    torch.manual_seed(1)
    light = model(**batch, mode='loss')
    assert torch.allclose(light['loss_mask'] * 20, default['loss_mask'])
    assert torch.allclose(light['loss_dice'], default['loss_dice'])
    with pytest.raises(ValueError, match='loss_weights takes'):
        MODELS.build(dict(type='SAM2Tracker', network=TINY_NETWORK, loss_weights=dict(focal=1.0)))


def test_memory_from_truth_remembers_tracked_training_frames_from_their_masks():
    model = build_tracker()
    model.train()
    model.prompt_probs = dict(mask=1.0)
    batch = training_batch(model, num_frames=3)
    truths = [s.gt_instances.masks.float() for s in batch['data_samples'][0].video_data_samples]
    encoded = []
    encode = model.network.encode_memory
    model.network.encode_memory = lambda frame, masks, logits, **kw: encoded.append(masks) or encode(
        frame, masks, logits, **kw)
    for probability, from_truth in ((1.0, True), (0.0, False)):
        encoded.clear()
        model.memory_from_truth = probability
        model(**batch, mode='loss')
        assert len(encoded) == 3   # frame 0 (prompted), 1 and 2 (tracked)
        for t in (1, 2):
            as_truth = torch.equal(encoded[t][0, 0] > 0, truths[t][0].bool())
            assert as_truth == from_truth
    with pytest.raises(ValueError, match='memory_from_truth'):
        MODELS.build(dict(type='SAM2Tracker', network=TINY_NETWORK, memory_from_truth=1.5))
