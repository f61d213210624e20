"""MemoryBank: each write policy, the reads, retrieval, state and bad input."""
import pytest
import torch

from vmem.memory import (GroupedMemoryBank, MemoryBank, MomentumById, PinnedRecent, greedy_coreset,
                         load_memory, save_memory)


def keys_of(*values, dim=4):
    return torch.tensor([[float(v)] * dim for v in values])


def stored_ids(bank, field='frame_id'):
    return sorted(bank.read().fields[field].tolist())


def test_fifo_keeps_the_newest_and_wraps_across_batches():
    bank = MemoryBank(capacity=5, dim=4, fields=dict(frame_id='int64'))
    for start in range(0, 12, 3):  # batch 3 does not divide capacity 5
        ids = torch.arange(start, start + 3)
        bank.write(keys_of(*ids.tolist()), frame_id=ids)
    assert stored_ids(bank) == [7, 8, 9, 10, 11]
    assert bank.read(oldest_first=True).fields['frame_id'].tolist() == [7, 8, 9, 10, 11]
    slots = bank.write(keys_of(*range(20, 27)), frame_id=torch.arange(20, 27))
    assert (slots[:2] == -1).all() and stored_ids(bank) == [22, 23, 24, 25, 26]


def test_random_replace_fills_then_replaces_randomly():
    bank = MemoryBank(capacity=100, dim=4, fields=dict(frame_id='int64'), write_policy='RandomReplace', seed=0)
    bank.write(keys_of(*range(100)), frame_id=torch.arange(100))
    assert bank.is_full
    bank.write(keys_of(*range(100, 130)), frame_id=torch.arange(100, 130))
    ids = stored_ids(bank)
    assert len(ids) == 100 and set(range(100, 130)) <= set(ids)
    survivors = [i for i in ids if i < 100]
    # random (not oldest-first) replacement: some early entries survive, some late ones go
    assert min(survivors) < 30 and max(survivors) >= 70 and len(survivors) == 70


def test_random_replace_never_evicts_pinned():
    bank = MemoryBank(capacity=4, dim=4, fields=dict(frame_id='int64'), write_policy='RandomReplace', seed=1)
    bank.write(keys_of(0), frame_id=0, pinned=True)
    for i in range(1, 30):
        bank.write(keys_of(i), frame_id=i)
    assert 0 in stored_ids(bank)


def test_pinned_recent_keeps_prompts_and_a_ring_of_recent_frames():
    bank = MemoryBank(capacity=7, dim=4, fields=dict(frame_id='int64'),
                      write_policy=dict(type='PinnedRecent', max_pinned=1))
    bank.write(keys_of(0), frame_id=0, pinned=True)
    for frame in range(1, 20):
        bank.write(keys_of(frame), frame_id=frame)
    assert stored_ids(bank) == [0, 14, 15, 16, 17, 18, 19]
    bank.write(keys_of(20), frame_id=20, pinned=True)  # a new prompt replaces the old one
    assert stored_ids(bank) == [14, 15, 16, 17, 18, 19, 20]
    assert bank.read(bank.pinned).fields['frame_id'].tolist() == [20]


def test_pinned_recent_quality_gate_skips_poor_frames():
    policy = PinnedRecent(max_pinned=1, quality_field='score', min_quality=0.5)
    bank = MemoryBank(capacity=3, dim=4, fields=dict(frame_id='int64', score='float32'), write_policy=policy)
    bank.write(keys_of(0), frame_id=0, score=0.1, pinned=True)   # prompts always kept
    slots = bank.write(keys_of(1, 2, 3), frame_id=torch.tensor([1, 2, 3]), score=torch.tensor([0.9, 0.2, 0.8]))
    assert slots[1] == -1 and stored_ids(bank) == [0, 1, 3]


def test_momentum_by_id_updates_known_ids_and_adds_new_ones():
    bank = MemoryBank(capacity=3, dim=2, fields=dict(instance_id='int64'),
                      write_policy=MomentumById(id_field='instance_id', momentum=0.5))
    bank.write(torch.tensor([[0.0, 0.0], [10.0, 10.0]]), instance_id=torch.tensor([1, 2]))
    bank.write(torch.tensor([[4.0, 4.0]]), instance_id=torch.tensor([1]))
    read = bank.read()
    keys_by_id = dict(zip(read.fields['instance_id'].tolist(), read.keys.tolist()))
    assert keys_by_id == {1: [2.0, 2.0], 2: [10.0, 10.0]}
    # repeated ids in one write are applied in order: 2 -> 0.5*2 + 0.5*6 = 4 -> 0.5*4 + 0.5*8 = 6
    bank.write(torch.tensor([[6.0, 6.0], [8.0, 8.0], [1.0, 1.0]]), instance_id=torch.tensor([1, 1, 3]))
    read = bank.read()
    keys_by_id = dict(zip(read.fields['instance_id'].tolist(), read.keys.tolist()))
    assert keys_by_id == {1: [6.0, 6.0], 2: [10.0, 10.0], 3: [1.0, 1.0]}
    # full: a new id evicts the least recently updated one (id 2)
    bank.write(torch.tensor([[5.0, 5.0]]), instance_id=torch.tensor([4]))
    assert stored_ids(bank, 'instance_id') == [1, 3, 4]


def test_reads_filter_sample_rank_recent():
    bank = MemoryBank(capacity=50, dim=4, value_dim=2,
                      fields=dict(frame_id='int64', camera='int64', score='float32', box=('float32', 4)), seed=0)
    n = 40
    bank.write(torch.randn(n, 4), torch.randn(n, 2), frame_id=torch.arange(n), camera=torch.arange(n) % 2,
               score=torch.linspace(0, 1, n), box=torch.rand(n, 4))
    assert set(bank.read(bank.mask(camera=1)).fields['frame_id'].tolist()) == set(range(1, n, 2))
    window = bank.read(bank.mask(camera=0, frame_id=(10, 20))).fields['frame_id'].tolist()
    assert window == [10, 12, 14, 16, 18]
    sample = bank.sample(10)
    assert len(sample) == 10 and len(set(sample.slots.tolist())) == 10
    assert sample.values.shape == (10, 2) and sample.fields['box'].shape == (10, 4)
    assert bank.rank('score', 3).fields['frame_id'].tolist() == [39, 38, 37]
    assert bank.recent(3).fields['frame_id'].tolist() == [37, 38, 39]
    assert len(bank.sample(100)) == n


@pytest.mark.parametrize('policy', ['FIFO', 'RandomReplace'])
def test_policies_that_promise_distinct_slots_keep_it(policy):
    # the bank skips its collision check for these policies, so a repeated slot would
    # silently lose an entry
    bank = MemoryBank(capacity=7, dim=2, fields=dict(frame_id='int64'), write_policy=policy, seed=0)
    assert bank.policy.distinct_slots
    written = 0
    for step, num in enumerate([3, 5, 7, 9, 1, 2, 15]):
        ids = torch.arange(written, written + num)
        slots = bank.write(torch.randn(num, 2), frame_id=ids)
        kept = slots[slots >= 0]
        assert len(kept) == min(num, 7) and len(kept.unique()) == len(kept), (policy, step)
        assert torch.equal(bank.gather(kept).fields['frame_id'], ids[slots >= 0])
        written += num


def test_a_reset_bank_draws_as_a_new_one():
    keys = torch.randn(30, 2)

    def filled(bank):
        bank.write(keys)  # 30 entries into 20 slots: 10 random replacements
        return bank

    used = filled(MemoryBank(capacity=20, dim=2, write_policy='RandomReplace', seed=3))
    used.sample(5)
    used.reset()
    fresh = MemoryBank(capacity=20, dim=2, write_policy='RandomReplace', seed=3)
    assert torch.equal(filled(used).sample(5).slots, filled(fresh).sample(5).slots)
    assert torch.equal(used.read().keys, fresh.read().keys)  # the same random replacements


def test_reads_of_some_columns_copy_only_those():
    bank = MemoryBank(capacity=30, dim=4, value_dim=3, fields=dict(frame_id='int64'), seed=0)
    bank.write(torch.randn(20, 4), torch.randn(20, 3), frame_id=torch.arange(20))
    slots = torch.tensor([3, -1, 7])
    full, values_only = bank.gather(slots), bank.gather(slots, columns=('values',))
    assert torch.equal(values_only.values, full.values) and values_only.values[1].abs().sum() == 0
    assert values_only.keys is None and values_only.fields is None and values_only.pinned is None
    assert values_only.write_step is None and len(values_only) == 3
    sample = bank.sample(5, columns=('keys', 'fields'))
    assert sample.values is None and torch.equal(sample.keys, bank.gather(sample.slots).keys)
    assert torch.equal(sample.fields['frame_id'], sample.slots)  # frame i went to slot i
    assert bank.rank('frame_id', 2, columns=('fields',)).fields['frame_id'].tolist() == [19, 18]
    assert bank.read(columns=('write_step',)).write_step.tolist() == list(range(20))
    with pytest.raises(ValueError, match="unknown read columns \\['score'\\]"):
        bank.sample(2, columns=('score',))
    with pytest.raises(TypeError, match='collection of names'):
        bank.read(columns='values')


def test_bank_topk_matches_gathered_keys_and_skips_empty_slots(generator):
    bank = MemoryBank(capacity=64, dim=8, fields=dict(camera='int64'))
    keys = torch.randn(40, 8, generator=generator)
    bank.write(keys, camera=torch.arange(40) % 4)
    queries = torch.randn(5, 8, generator=generator)
    result = bank.topk(queries, 6, metric='cosine')
    assert bank.occupied[result.indices].all()
    expected = torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(keys, dim=1).T
    torch.testing.assert_close(result.scores, expected.topk(6).values)
    torch.testing.assert_close(bank.gather(result.indices).keys, keys[expected.topk(6).indices])
    only_camera_2 = bank.topk(queries, 3, where=bank.mask(camera=2))
    assert (bank.field('camera')[only_camera_2.indices] == 2).all()


def test_large_finite_entries_whose_sum_overflows_are_accepted():
    bank = MemoryBank(capacity=2, dim=3, value_dim=2)
    huge = torch.full((1, 3), 3e38)  # finite, but their float32 sum is inf
    bank.write(huge, torch.full((1, 2), -3e38))
    assert torch.equal(bank.read().keys, huge)


def test_rejected_writes_leave_the_bank_unchanged():
    bank = MemoryBank(capacity=4, dim=3, value_dim=2, fields=dict(frame_id='int64'))
    bank.write(torch.ones(2, 3), torch.ones(2, 2), frame_id=torch.tensor([1, 2]))
    before = {name: t.clone() for name, t in bank.state_dict().items()}
    bad_writes = [
        (dict(keys=torch.ones(1, 4), values=torch.ones(1, 2), frame_id=3), ValueError, r'shape \[num, 3\]'),
        (dict(keys=torch.tensor([[1.0, float('nan'), 0.0]]), values=torch.ones(1, 2), frame_id=3), ValueError, 'NaN'),
        (dict(keys=torch.tensor([[float('inf'), 0.0, float('-inf')]]), values=torch.ones(1, 2), frame_id=3),
         ValueError, 'keys contain NaN or Inf'),
        (dict(keys=torch.ones(1, 3), values=torch.tensor([[0.0, float('-inf')]]), frame_id=3),
         ValueError, 'values contain NaN or Inf'),
        (dict(keys=torch.ones(1, 3), values=torch.ones(1, 5), frame_id=3), ValueError, 'values must be'),
        (dict(keys=torch.ones(1, 3), values=torch.ones(1, 2)), ValueError, r"missing fields \['frame_id'\]"),
        (dict(keys=torch.ones(1, 3), values=torch.ones(1, 2), frame_id=3, camera=1), ValueError, 'unknown fields'),
        (dict(keys=torch.ones(1, 3), values=torch.ones(1, 2), frame_id=torch.tensor([1.5])), TypeError, 'frame_id'),
        (dict(keys=torch.ones(2, 3), values=torch.ones(2, 2), frame_id=torch.tensor([1, 2, 3])), ValueError, 'frame_id'),
        (dict(keys=torch.ones(1, 3, dtype=torch.long), values=torch.ones(1, 2), frame_id=3), TypeError, 'floating'),
        (dict(keys=torch.ones(1, 3), values=torch.ones(1, 2), frame_id=3, pinned=True), ValueError, 'does not support pinned'),
    ]
    for kwargs, error, match in bad_writes:
        keys, values = kwargs.pop('keys'), kwargs.pop('values')
        with pytest.raises(error, match=match):
            bank.write(keys, values, **kwargs)
    for name, tensor in bank.state_dict().items():
        assert torch.equal(tensor, before[name]), name


@pytest.mark.parametrize('kwargs,match', [
    (dict(capacity=0, dim=4), 'capacity must be a positive int'),
    (dict(capacity=-3, dim=4), 'capacity must be a positive int'),
    (dict(capacity=4, dim=0), 'dim must be a positive int'),
    (dict(capacity=4, dim=4, fields=dict(keys='int64')), 'invalid field name'),
    (dict(capacity=4, dim=4, fields=dict(f='int8')), 'unknown dtype'),
    (dict(capacity=4, dim=4, write_policy=dict(type='PinnedRecent', max_pinned=4)), 'max_pinned'),
    (dict(capacity=4, dim=4, write_policy=dict(type='MomentumById', id_field='track')), 'id_field'),
])
def test_bad_bank_config_is_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MemoryBank(**kwargs)


def test_retrieval_from_empty_bank_or_too_large_k():
    bank = MemoryBank(capacity=4, dim=2)
    with pytest.raises(ValueError, match='empty'):
        bank.topk(torch.randn(1, 2), 1)
    bank.write(torch.randn(2, 2))
    with pytest.raises(ValueError, match='k=5 is larger'):
        bank.topk(torch.randn(1, 2), 5)
    padded = bank.topk(torch.randn(1, 2), 3)
    assert padded.indices[0, 2] == -1


def test_state_dict_round_trip_reset_and_dtype_moves(tmp_path):
    bank = MemoryBank(capacity=8, dim=4, fields=dict(frame_id='int64', time='float64'), write_policy='FIFO')
    bank.write(torch.randn(5, 4), frame_id=torch.arange(5), time=torch.full((5,), 1.7e9 + 0.25, dtype=torch.float64))
    copy = MemoryBank(capacity=8, dim=4, fields=dict(frame_id='int64', time='float64'))
    copy.load_state_dict(bank.state_dict())
    torch.testing.assert_close(copy.read().keys, bank.read().keys)
    copy.write(torch.randn(1, 4), frame_id=9, time=0.0)  # the ring position survived the round trip
    assert copy.read(oldest_first=True).fields['frame_id'].tolist() == [0, 1, 2, 3, 4, 9]
    save_memory(bank, tmp_path / 'bank.safetensors')
    loaded = MemoryBank(capacity=8, dim=4, fields=dict(frame_id='int64', time='float64'))
    load_memory(loaded, tmp_path / 'bank.safetensors')
    assert torch.equal(loaded.read().keys, bank.read().keys)
    half = bank.half()
    assert half.keys.dtype == torch.float16 and half.field('time').dtype == torch.float64
    assert half.field('time')[0].item() == 1.7e9 + 0.25
    bank.reset()
    assert len(bank) == 0 and bank.num_writes.item() == 0
    wrong = MemoryBank(capacity=9, dim=4, fields=dict(frame_id='int64', time='float64'))
    with pytest.raises(RuntimeError, match='keys'):
        wrong.load_state_dict(copy.state_dict())
    with pytest.raises(FileNotFoundError, match='missing.safetensors'):
        load_memory(loaded, tmp_path / 'missing.safetensors')
    (tmp_path / 'junk.safetensors').write_bytes(b'not a tensor file')
    with pytest.raises(ValueError, match='junk.safetensors'):
        load_memory(loaded, tmp_path / 'junk.safetensors')


def test_non_persistent_bank_stays_out_of_checkpoints():
    bank = MemoryBank(capacity=4, dim=2, persistent=False)
    assert bank.state_dict() == {}


def test_grouped_bank_per_camera_capacity_horizon_and_state(tmp_path):
    day = 86400
    bank = GroupedMemoryBank(capacity_per_group=3, dim=2, fields=dict(time='int64'),
                             time_field='time', horizon='week')
    times = torch.tensor([0, 1, 2, 3, 10]) * day
    bank.write(torch.tensor([0, 0, 0, 0, 1]), torch.randn(5, 2), time=times)
    assert bank.groups == [0, 1]
    assert bank.read(0).fields['time'].tolist() == [3 * day, day, 2 * day]  # capacity 3, FIFO
    bank.write(0, torch.randn(1, 2), time=torch.tensor([9 * day]))  # entries before day 2 expire
    assert sorted(bank.read(0).fields['time'].tolist()) == [2 * day, 3 * day, 9 * day]
    assert sorted(bank.read(0, time_window=(3 * day, None)).fields['time'].tolist()) == [3 * day, 9 * day]
    result = bank.topk(1, torch.randn(2, 2), 1)
    assert result.indices.shape == (2, 1)
    with pytest.raises(KeyError, match='group 7'):
        bank.read(7)
    save_memory(bank, tmp_path / 'cameras.safetensors')
    fresh = GroupedMemoryBank(capacity_per_group=3, dim=2, fields=dict(time='int64'), time_field='time', horizon='week')
    load_memory(fresh, tmp_path / 'cameras.safetensors')
    assert fresh.groups == [0, 1] and torch.equal(fresh.read(0).keys, bank.read(0).keys)
    with pytest.raises(ValueError, match='missing fields'):
        bank.write(5, torch.randn(1, 2))
    assert bank.groups == [0, 1]  # the rejected write made no group


def test_grouped_bank_config_errors():
    with pytest.raises(ValueError, match='horizon must be'):
        GroupedMemoryBank(capacity_per_group=2, dim=2, fields=dict(t='int64'), time_field='t', horizon='year')
    with pytest.raises(ValueError, match='needs time_field'):
        GroupedMemoryBank(capacity_per_group=2, dim=2, horizon=5)
    bank = GroupedMemoryBank(capacity_per_group=2, dim=2, max_groups=1)
    bank.write(0, torch.randn(1, 2))
    with pytest.raises(ValueError, match='max_groups'):
        bank.write(1, torch.randn(1, 2))


def brute_force_greedy(points, num, start):
    chosen = [start]
    nearest = ((points - points[start]) ** 2).sum(1)
    for _ in range(num - 1):
        index = int(nearest.argmax())
        chosen.append(index)
        nearest = torch.minimum(nearest, ((points - points[index]) ** 2).sum(1))
    return chosen


def test_coreset_matches_greedy_k_center_without_projection(generator):
    points = torch.randn(300, 5, generator=generator)
    chosen = greedy_coreset(points, 20, projection_dim=None, generator=torch.Generator().manual_seed(3))
    assert chosen.tolist() == brute_force_greedy(points, 20, int(chosen[0]))


def test_coreset_covers_every_cluster_and_scales_without_n_squared(generator):
    centers = torch.randn(12, 256, generator=generator) * 20
    labels = torch.arange(120000) % 12
    points = centers[labels] + torch.randn(120000, 256, generator=generator)
    # an N x N float matrix here would need 57 GB: only O(N) memory is affordable
    chosen = greedy_coreset(points, 12, projection_dim=64, generator=generator)
    assert set(labels[chosen].tolist()) == set(range(12))
    with pytest.raises(ValueError, match='num must be'):
        greedy_coreset(points[:5], 6)
