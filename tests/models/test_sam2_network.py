"""SAM 2 network: position encodings, checkpoint mapping, bounded per-object memory,
batched multi-object tracking, and (when the official code is importable) parity."""
import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

from vmem.models.layers.position_encoding import AxialRotaryEncoding, SinePositionEncoding2d
from vmem.models.trackers.sam2.checkpoint import (convert_official_state_dict, load_official_weights,
                                                  official_to_vmem_key, vmem_to_official_key)
from vmem.models.trackers.sam2.frame_step import Prompt, StreamState, remember, segment_prompted, track
from vmem.models.trackers.sam2.network import SAM2Network
from vmem.models.trackers.sam2.object_memory import ObjectMemory

from sam2_setup import TINY_NETWORK, TINY_TRUNK

ROOT = Path(__file__).resolve().parents[2]


def tiny_network(**overrides) -> SAM2Network:
    torch.manual_seed(0)
    kwargs = dict(TINY_NETWORK, **overrides)
    return SAM2Network(**kwargs).eval()


def test_axial_rope_matches_complex_rotation_and_depends_on_offsets_only():
    rope = AxialRotaryEncoding(head_dim=8)
    height, width = 3, 5
    x = torch.randn(2, height * width, 8)
    rotated = rope.rotate(x, (height, width))
    # reference: pairs as complex numbers times exp(i * angle), angle from column then row
    freqs = 1.0 / 10000 ** (torch.arange(0, 8, 4).float() / 8)
    index = torch.arange(height * width)
    angles = torch.cat([(index % width).float()[:, None] * freqs, (index // width).float()[:, None] * freqs], 1)
    reference = torch.view_as_real(torch.view_as_complex(x.reshape(2, -1, 4, 2)) * torch.polar(
        torch.ones_like(angles), angles)).flatten(-2)
    assert torch.allclose(rotated, reference, atol=1e-6)
    # a query and a key at the same offset score the same wherever they are
    q, k = torch.randn(8), torch.randn(8)
    grid = lambda v: v.expand(height * width, 8)[None]   # noqa: E731
    rq, rk = rope.rotate(grid(q), (height, width))[0], rope.rotate(grid(k), (height, width))[0]
    assert torch.isclose(rq[0] @ rk[1], rq[6] @ rk[7], atol=1e-5)      # offset (0, +1) twice
    assert not torch.isclose(rq[0] @ rk[1], rq[0] @ rk[2], atol=1e-3)
    # several grids of keys are each rotated like the first
    two = rope.rotate(torch.cat([x, x], 1), (height, width))
    assert torch.allclose(two[:, :15], two[:, 15:])
    with pytest.raises(ValueError, match='whole 3x5 grids'):
        rope.rotate(torch.randn(1, 14, 8), (height, width))
    # trailing tokens off the grid (object pointers) are left exactly as they are
    pointers = torch.randn(2, 4, 8)
    mixed = rope.rotate(torch.cat([x, x, pointers], 1), (height, width), num_unrotated=4)
    assert torch.equal(mixed[:, :30], two) and torch.equal(mixed[:, 30:], pointers)
    with pytest.raises(ValueError, match='4 unrotated'):
        rope.rotate(torch.randn(1, 18, 8), (height, width), num_unrotated=4)


def test_sine_encoding_is_normalised_per_axis():
    encoding = SinePositionEncoding2d(dim=8)(torch.zeros(2, 3, 4, 6))
    assert encoding.shape == (2, 8, 4, 6)
    # first half depends on the row only, second half on the column only
    assert torch.allclose(encoding[0, :4, :, 0:1].expand(-1, -1, 6), encoding[0, :4])
    assert torch.allclose(encoding[0, 4:, 0:1, :].expand(-1, 4, -1), encoding[0, 4:])
    # the last row and column sit at ~2*pi: sin(2*pi) ~ 0
    assert abs(float(encoding[0, 0, -1, 0])) < 1e-4 and abs(float(encoding[0, 4, 0, -1])) < 1e-4
    assert math.isclose(float(encoding[0, 0, 0, 0]), math.sin(2 * math.pi / 4), rel_tol=1e-4)


def test_official_key_mapping_round_trips_and_loads_strictly():
    assert official_to_vmem_key('image_encoder.trunk.blocks.3.mlp.layers.1.weight') == \
        'image_encoder.trunk.blocks.3.mlp.fc2.weight'
    assert official_to_vmem_key('sam_mask_decoder.iou_prediction_head.layers.1.weight') == \
        'sam_mask_decoder.iou_prediction_head.layers.1.weight'
    network = tiny_network()
    official = {vmem_to_official_key(k): v.clone() + 1 for k, v in network.state_dict().items()}
    assert any('.mlp.layers.0.' in k for k in official)
    fresh = tiny_network()
    load_official_weights(fresh, convert_official_state_dict({'model': official}))
    assert torch.equal(fresh.no_mem_embed, network.no_mem_embed + 1)


def test_checkpoint_of_another_size_lists_the_mismatched_keys():
    network = tiny_network()
    other = tiny_network(image_encoder=dict(trunk=dict(TINY_TRUNK, model_kwargs=dict(
        TINY_TRUNK['model_kwargs'], stages=(1, 1, 3, 1)))), sam21=False)
    with pytest.raises(ValueError) as error:
        load_official_weights(network, other.state_dict(), source='other.pt')
    message = str(error.value)
    assert 'other.pt does not fit' in message and 'SAM 2;' in message
    assert 'missing keys' in message and 'no_obj_embed_spatial' in message
    assert 'blocks.4' in message   # the extra trunk block


def test_object_memory_is_bounded_by_slots_not_frames():
    memory = ObjectMemory(num_recent_maps=3, num_recent_pointers=5, max_prompted=1)
    maps, pointers = torch.randn(2, 4, 3, 5), torch.randn(2, 8)
    memory.write([7, 9], frame_idx=0, maps=maps, pointers=pointers, object_logits=torch.ones(2, 1), prompted=True)
    sizes = []
    for frame in range(1, 40):
        memory.write([7, 9], frame_idx=frame, maps=maps + frame, pointers=pointers, object_logits=torch.ones(2, 1),
                     prompted=False)
        sizes.append(memory.nbytes())
    assert len(set(sizes[10:])) == 1
    map_entries, pointer_entries = memory.entries(7)
    assert sorted(e.frame_idx for e in map_entries) == [0, 37, 38, 39]
    assert sorted(e.frame_idx for e in pointer_entries) == [0, 35, 36, 37, 38, 39]
    (positions, frames), = memory.read([7, 9], frame_idx=40, pointer_horizon=3).values()
    assert positions == [0, 1] and sorted(frames.map_ages) == [0, 1, 2, 3]
    assert sorted(frames.pointer_distances) == [1, 2, 3, 40]      # the prompt's pointer always
    assert torch.allclose(frames.maps[0, frames.map_ages.index(1)], maps[0] + 39)
    with pytest.raises(ValueError, match='changed size within a stream'):
        memory.write([7], frame_idx=41, maps=torch.randn(1, 4, 4, 4), pointers=pointers[:1],
                     object_logits=torch.ones(1, 1), prompted=False)
    memory.remove(9)
    assert memory.object_ids == [7]


@torch.no_grad()
def test_objects_tracked_together_equal_objects_tracked_alone():
    network = tiny_network()
    size = (96, 128)
    frames = [torch.randn(1, 3, *size) for _ in range(4)]
    mask = torch.zeros(size, dtype=torch.bool)
    mask[20:50, 30:70] = True
    prompts = {1: Prompt(mask=mask), 2: Prompt(points=torch.tensor([[90.0, 60.0]]), labels=torch.tensor([1])),
               5: Prompt(box=torch.tensor([10.0, 10.0, 60.0, 40.0]))}

    def run(prompt_sets):
        results = {}
        for chosen in prompt_sets:
            state = StreamState(memory=ObjectMemory(), image_size=size)
            for index, image in enumerate(frames):
                frame = network.encode_image(image)
                if index == 0:
                    outputs = segment_prompted(network, state, frame, 0, chosen)
                else:
                    outputs = track(network, state, frame, index, list(chosen))
                remember(network, state, frame, index, outputs, prompted=index == 0)
                for object_id, out in outputs.items():
                    results[(object_id, index)] = out
        return results

    together = run([prompts])
    alone = run([{i: p} for i, p in prompts.items()])
    assert together.keys() == alone.keys()
    for key in together:
        assert torch.allclose(together[key].masks, alone[key].masks, atol=1e-4), key
        assert torch.allclose(together[key].pointer, alone[key].pointer, atol=1e-5), key
    # the mask prompt is output as given
    assert torch.equal(together[(1, 0)].masks[0, 0] > 0, mask)
    with pytest.raises(KeyError, match='no memory yet'):
        track(network, StreamState(memory=ObjectMemory(), image_size=size), network.encode_image(frames[0]), 0, [3])


def test_only_the_chosen_candidate_is_upsampled_and_it_is_the_same_mask():
    network = tiny_network()
    size = (96, 128)
    frame = network.encode_image(torch.randn(1, 3, *size)).repeat(3)
    features = network.condition(frame, None)
    plain = network.decode(features, frame, image_size=size, multimask=True)
    assert plain.masks.shape == (3, 1, *size)
    upsampled = torch.nn.functional.interpolate(plain.low_res_masks, size=size, mode='bilinear',
                                                align_corners=False)
    assert torch.equal(plain.masks, upsampled)
    # a chooser sees every candidate at full size; choosing as the default does gives the same outputs
    seen = []

    def choose(masks, ious):
        seen.append(masks.shape)
        return ious.argmax(dim=-1)
    chosen = network.decode(features, frame, image_size=size, multimask=True, choose=choose)
    assert seen == [(3, plain.ious.shape[1], *size)] and plain.ious.shape[1] > 1
    assert torch.allclose(chosen.masks, plain.masks, atol=1e-6)
    assert torch.equal(chosen.pointer, plain.pointer)


@pytest.mark.skipif(importlib.util.find_spec('sam2') is None or importlib.util.find_spec('hydra') is None,
                    reason='the official SAM 2 code is not importable (see tools/model_converters/check_sam2_parity.py)')
def test_outputs_match_the_official_implementation():
    sys.path.insert(0, str(ROOT / 'tools' / 'model_converters'))
    import check_sam2_parity
    assert check_sam2_parity.main(['--config', 'configs/sam2.1/sam2.1_hiera_t.yaml', '--image-size', '128',
                                   '--frames', '4']) == 0


def test_kalman_prior_follows_constant_motion_and_steers_the_candidate_choice():
    from vmem.models.trackers.sam2.motion_prior import BoxKalmanFilter, choose_candidate
    motion = BoxKalmanFilter(torch.tensor([10.0, 10.0, 30.0, 30.0]))
    for step in range(1, 8):
        motion.predict()
        motion.update(torch.tensor([10.0 + 5 * step, 10.0, 30.0 + 5 * step, 30.0]))
    predicted = motion.predict()
    assert torch.allclose(predicted, torch.tensor([50.0, 10.0, 70.0, 30.0]), atol=1.5)
    masks = torch.full((2, 64, 96), -5.0)
    masks[0, 10:30, 50:70] = 5.0     # where the motion says
    masks[1, 40:60, 0:20] = 5.0      # elsewhere, with a higher predicted IoU
    ious = torch.tensor([0.80, 0.85])
    assert choose_candidate(masks, ious, None, motion_weight=0.15) == 1
    assert choose_candidate(masks, ious, predicted, motion_weight=0.15) == 0


def test_quality_gate_and_long_term_retrieval():
    memory = ObjectMemory(num_recent_maps=2, num_recent_pointers=2, max_prompted=1, min_quality=0.5,
                          long_term=dict(capacity=4, num_retrieved=1, min_quality=0.9))
    write = lambda frame, quality, pointer, prompted=False: memory.write(   # noqa: E731
        [1], frame_idx=frame, maps=torch.full((1, 2, 2, 2), float(frame)), pointers=pointer[None],
        object_logits=torch.ones(1, 1), prompted=prompted, quality=torch.tensor([quality]))
    write(0, 1.0, torch.tensor([1.0, 0.0]), prompted=True)
    write(1, 0.95, torch.tensor([0.0, 1.0]))      # good: ring and long-term
    write(2, 0.3, torch.tensor([1.0, 0.0]))       # below the gate: nowhere
    write(3, 0.6, torch.tensor([1.0, 0.1]))
    write(4, 0.7, torch.tensor([0.0, 1.0]))
    maps, pointers = memory.entries(1)
    ring = sorted(e.frame_idx for e in maps if not e.long_term)
    assert ring == [0, 3, 4]                       # frame 2 was gated out, frame 1 fell out of the ring
    retrieved = [e for e in maps if e.long_term]
    # the newest pointer (frame 4: [0, 1]) retrieves frame 1, whose pointer matches it
    assert [e.frame_idx for e in retrieved] == [1] and torch.equal(retrieved[0].map, torch.ones(2, 2, 2))
    (_, frames), = memory.read([1], frame_idx=5).values()
    assert sorted(frames.map_ages) == [0, 1, 2, 2]   # the retrieved frame reads like the oldest recent one
    with pytest.raises(ValueError, match='long_term takes'):
        ObjectMemory(long_term=dict(size=3))


def test_any_timm_trunk_with_four_levels_at_strides_4_to_32():
    network = tiny_network(image_encoder=dict(trunk=dict(model_name='resnet10t')))
    frame = network.encode_image(torch.randn(1, 3, 64, 96))
    assert frame.features.shape == (1, 64, 4, 6) and frame.high_res[0].shape == (1, 8, 16, 24)
    with pytest.raises(ValueError, match='strides 4, 8, 16, 32'):
        tiny_network(image_encoder=dict(trunk=dict(model_name='resnet10t', model_kwargs=dict(out_indices=(0, 1, 2, 3)))))
