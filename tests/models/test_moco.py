"""MoCo v2 and MoCHi on random images (tiny ResNet-10t, 32 px): loss, queue, momentum
encoder, hard negatives, checkpoints, bad input; two gloo processes for DDP."""
import copy
import os
import socket
import warnings

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from mmengine.optim import OptimWrapper

from vmem.memory import MemoryBank
from vmem.models.selfsup import HardNegativeMixer, MoCo
from vmem.models.selfsup import distributed as dist_utils
from vmem.registry import MODELS
from vmem.utils.weights_loading import load_model_weights

TINY_BACKBONE = dict(type='TimmBackbone', model_name='resnet10t', out_indices=(4,), norm_eval=False)
MIXER = dict(type='HardNegativeMixer', num_hardest=8, num_mixed=6, num_query_mixed=3)


def build(**overrides) -> MoCo:
    torch.manual_seed(0)
    config = dict(type='MoCo', backbone=TINY_BACKBONE, projection_head=dict(hidden_dim=64, out_dim=16),
                  queue_size=10, momentum=0.9)
    model = MODELS.build({**config, **overrides})
    model.init_weights()
    return model.train()


def two_view_batch(batch_size=4, seed=1):
    generator = torch.Generator().manual_seed(seed)
    views = torch.randint(0, 256, (batch_size, 2, 3, 32, 32), dtype=torch.uint8, generator=generator)
    return dict(inputs=list(views))


def optimizer(model):
    return OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1))


def test_loss_is_info_nce_over_positive_and_queue():
    model = build()
    data = model.data_preprocessor(two_view_batch(), True)
    reference = copy.deepcopy(model)
    queue_before = reference.queue.read(oldest_first=True).keys
    # by hand: update the key encoder, embed, and InfoNCE with the positive at index 0
    reference.momentum_backbone.update(reference.backbone, 0.9)
    reference.momentum_head.update(reference.head, 0.9)
    keys = reference.embed_keys(data['ref_inputs'][:, 0])
    queries = reference.embed(data['inputs'])
    logits = torch.cat([(queries * keys).sum(1, keepdim=True), queries @ queue_before.T], 1) / 0.2
    expected = F.cross_entropy(logits, torch.zeros(4, dtype=torch.long))

    losses = model(**data, mode='loss')
    torch.testing.assert_close(losses['loss_contrastive'], expected)
    # the batch's keys were enqueued after the loss: they are the newest 4 entries
    newest = model.queue.recent(4).keys
    torch.testing.assert_close(newest, keys)


def test_queue_is_a_ring_that_need_not_divide_the_batch():
    model = build(queue_size=10)
    wrapper = optimizer(model)
    for _ in range(3):  # 12 keys through a 10-slot queue
        model.train_step(two_view_batch(batch_size=4), wrapper)
    assert model.queue.size == 10
    assert int(model.queue.num_writes) == 10 + 12  # random start + 3 batches
    steps = model.queue.write_step[model.queue.occupied]
    assert steps.min() == 12 and steps.max() == 21  # only the newest 10 survive


def test_momentum_encoder_follows_the_query_encoder_by_moving_average():
    model = build(momentum=0.75)
    wrapper = optimizer(model)
    model.train_step(two_view_batch(), wrapper)  # the encoders now differ
    key_before = [p.detach().clone() for p in model.momentum_backbone.parameters()]
    query_before = [p.detach().clone() for p in model.backbone.parameters()]
    model.train_step(two_view_batch(seed=2), wrapper)
    assert not torch.equal(key_before[0], query_before[0])
    for key_old, query_old, key_new in zip(key_before, query_before, model.momentum_backbone.parameters()):
        torch.testing.assert_close(key_new, 0.75 * key_old + 0.25 * query_old)
    assert not any(p.requires_grad for p in model.momentum_backbone.parameters())


def test_hard_negative_mixer_uses_the_hardest_queue_entries():
    torch.manual_seed(0)
    bank = MemoryBank(capacity=50, dim=8, write_policy='FIFO')
    bank.write(F.normalize(torch.randn(50, 8), dim=1))
    queries = F.normalize(torch.randn(5, 8), dim=1)
    # with N = 1 every pair mix is the single hardest entry itself
    mixed = HardNegativeMixer(num_hardest=2, num_mixed=4, num_query_mixed=0)
    mixer_one = HardNegativeMixer(num_hardest=1, num_mixed=4, num_query_mixed=0)
    hardest = bank.keys[(queries @ bank.keys.T).argmax(1)]
    out = mixer_one(queries, bank)
    assert out.shape == (5, 4, 8)
    torch.testing.assert_close(out, hardest[:, None].expand(-1, 4, -1))
    # pair mixes lie on the arc between two of the N hardest entries
    out = mixed(queries, bank)
    top2 = bank.keys[(queries @ bank.keys.T).topk(2).indices]  # [5, 2, 8]
    for b in range(5):
        for m in range(4):
            a, c = top2[b, 0], top2[b, 1]
            coefs = torch.linalg.lstsq(torch.stack([a, c], 1), out[b, m][:, None]).solution.squeeze()
            torch.testing.assert_close(coefs[0] * a + coefs[1] * c, out[b, m], atol=1e-5, rtol=0)
            assert (coefs >= -1e-5).all()
    # query mixes: unit vectors between the query and a hard negative, never past halfway
    query_mixer = HardNegativeMixer(num_hardest=1, num_mixed=0, num_query_mixed=7)
    out = query_mixer(queries, bank)
    torch.testing.assert_close(out.norm(dim=2), torch.ones(5, 7))
    to_query = (out * queries[:, None]).sum(2)
    to_negative = (out * hardest[:, None]).sum(2)
    assert (to_negative >= to_query - 1e-6).all()
    assert not out.requires_grad


def test_mochi_adds_harder_negatives_to_the_same_step():
    moco, mochi = build(), build(hard_negative_mixer=MIXER)
    data = moco.data_preprocessor(two_view_batch(), True)
    moco_loss = moco(**copy.deepcopy(data), mode='loss')['loss_contrastive']
    mochi_loss = mochi(**data, mode='loss')['loss_contrastive']
    assert mochi_loss > moco_loss  # same encoders and queue, more (positive-exp) negatives
    assert moco.queue.size == mochi.queue.size  # the synthetic negatives are not enqueued
    torch.testing.assert_close(moco.queue.keys, mochi.queue.keys)
    mochi.train_step(two_view_batch(seed=3), optimizer(mochi))


def test_checkpoint_carries_queue_and_momentum_encoder(tmp_path):
    model = build(hard_negative_mixer=MIXER)
    model.train_step(two_view_batch(), optimizer(model))
    path = tmp_path / 'moco.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    loaded = build(hard_negative_mixer=MIXER)
    load_model_weights(loaded, str(path))
    torch.testing.assert_close(loaded.queue.keys, model.queue.keys)
    assert int(loaded.queue.num_writes) == int(model.queue.num_writes)
    for mine, theirs in zip(loaded.momentum_backbone.parameters(), model.momentum_backbone.parameters()):
        torch.testing.assert_close(mine, theirs)


def test_checkpoint_without_queue_or_key_encoder_is_reinitialised_with_a_warning(tmp_path):
    trained = build()
    trained.train_step(two_view_batch(), optimizer(trained))
    state = {k: v for k, v in trained.state_dict().items() if not k.startswith(('queue.', 'momentum_'))}
    path = tmp_path / 'no_queue.pth'
    torch.save({'state_dict': state}, path)
    fresh = build()
    fresh_queue = fresh.queue.keys.clone()
    with pytest.warns(UserWarning) as record:
        load_model_weights(fresh, str(path))
    messages = ' '.join(str(w.message) for w in record)
    assert 'no queue' in messages and 'momentum_backbone' in messages
    torch.testing.assert_close(fresh.queue.keys, fresh_queue)  # kept: random unit vectors
    for key, query in zip(fresh.momentum_backbone.parameters(), trained.backbone.parameters()):
        torch.testing.assert_close(key, query)  # the key encoder starts from the loaded one


def test_checkpoint_with_a_queue_of_another_dim_is_refused(tmp_path):
    other = build(projection_head=dict(hidden_dim=64, out_dim=8))
    path = tmp_path / 'dim8.pth'
    torch.save({'state_dict': other.state_dict()}, path)
    with pytest.raises(ValueError, match=r'queue\.keys.*16-d'):
        load_model_weights(build(), str(path))


@pytest.mark.parametrize('overrides, message', [
    (dict(queue_size=0), 'queue_size must be a positive int'),
    (dict(queue_size=-5), 'queue_size must be a positive int'),
    (dict(queue_dim=32), 'queue_dim=32 but the projection head outputs 16'),
    (dict(momentum=1.0), 'momentum must be in'),
    (dict(hard_negative_mixer=dict(type='HardNegativeMixer', num_hardest=0)), 'num_hardest'),
])
def test_bad_configs_raise_naming_the_argument(overrides, message):
    with pytest.raises(ValueError, match=message):
        build(**overrides)


def test_one_view_per_image_is_refused():
    model = build()
    single = dict(inputs=[torch.zeros(3, 32, 32, dtype=torch.uint8)] * 2)
    with pytest.raises(ValueError, match='two views'):
        model.train_step(single, optimizer(model))


def test_tensor_and_predict_modes_give_pooled_features():
    model = build().eval()
    data = model.data_preprocessor(two_view_batch(), False)
    features = model(data['inputs'], mode='tensor')
    assert features.shape == (4, 512)
    samples = model(data['inputs'], mode='predict')
    torch.testing.assert_close(torch.stack([s.pred_features for s in samples]), features)


# ---------------------------------------------------------------- two processes (gloo)
def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _ddp_worker(rank, port, out_dir):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=2)
    try:
        # shuffle + unshuffle is the identity on every rank's own rows
        rows = torch.arange(6, dtype=torch.float32).view(3, 2) + 100 * rank
        shuffled, restore = dist_utils.shuffle_across_ranks(rows)
        assert torch.equal(dist_utils.unshuffle_across_ranks(shuffled, restore), rows)
        model = build()  # same seed: same weights and queue on both ranks
        model.train_step(two_view_batch(batch_size=3, seed=10 + rank), optimizer(model))
        local_keys = model.embed_keys(model.data_preprocessor(
            two_view_batch(batch_size=3, seed=10 + rank), True)['ref_inputs'][:, 0])
        torch.save({'queue': model.queue.read(oldest_first=True).keys, 'local_keys': local_keys,
                    'shuffled': shuffled}, os.path.join(out_dir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def test_queue_gathers_keys_from_every_rank(tmp_path):
    mp.spawn(_ddp_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pt', weights_only=True) for r in (0, 1)]
    torch.testing.assert_close(ranks[0]['queue'], ranks[1]['queue'])  # one queue for all ranks
    newest = ranks[0]['queue'][-6:]
    assert newest.shape == (6, 16)
    # rank 0's keys, then rank 1's; each rank's rows went through a shuffled BN batch
    shuffled_rows = torch.cat([ranks[0]['shuffled'], ranks[1]['shuffled']])
    assert sorted(shuffled_rows[:, 0].tolist()) == [0, 2, 4, 100, 102, 104]
    assert not torch.allclose(newest, torch.zeros_like(newest))


def test_moco_backbone_initialises_the_detector(tmp_path):
    """A detector config takes the MoCo checkpoint's query backbone through init_cfg."""
    from pathlib import Path

    from mmengine.config import Config
    moco = build()
    moco.train_step(two_view_batch(), optimizer(moco))
    checkpoint = tmp_path / 'moco.pth'
    torch.save({'state_dict': moco.state_dict(), 'meta': {'iter': 1}}, checkpoint)
    config = Path(__file__).resolve().parents[2] / 'configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py'
    detector_cfg = Config.fromfile(str(config)).model
    detector_cfg.backbone.init_cfg = dict(type='Pretrained', checkpoint=str(checkpoint), prefix='backbone.body.')
    detector = MODELS.build(detector_cfg)
    detector.init_weights()
    body = detector.backbone.body.state_dict()
    assert 'layer3.0.conv1.weight' in body and not any(key.startswith('layer4') for key in body)
    moco_body = moco.backbone.body.state_dict()
    for key, value in body.items():
        torch.testing.assert_close(value, moco_body[key])
    # a wrong prefix finds no weights and says which keys are missing
    detector_cfg.backbone.init_cfg.prefix = 'momentum_backbone.'
    with pytest.raises(ValueError, match='missing in the checkpoint'):
        MODELS.build(detector_cfg).init_weights()


def test_bn_splits_normalise_groups_separately_and_shuffle_the_keys():
    model = build(bn_splits=2)
    data = model.data_preprocessor(two_view_batch(batch_size=4), True)
    view = data['inputs']
    whole = build()  # same weights (same seed), one BN group
    grouped = model.extract_feat(view)
    by_halves = torch.cat([whole.extract_feat(view[:2]), whole.extract_feat(view[2:])])
    torch.testing.assert_close(grouped, by_halves)
    assert not torch.allclose(grouped, whole.extract_feat(view), atol=1e-4)
    # keys: shuffled, encoded in two groups, put back in the batch's order
    torch.manual_seed(5)
    keys = model.embed_keys(view)
    torch.manual_seed(5)
    order = torch.randperm(4)
    shuffled = view[order]
    features = torch.cat([whole.momentum_backbone(half)[-1].mean((2, 3)) for half in shuffled.chunk(2)])
    expected = F.normalize(whole.momentum_head(features), dim=1)[order.argsort()]
    torch.testing.assert_close(keys, expected)
    model.train_step(two_view_batch(batch_size=4), optimizer(model))
    with pytest.raises(ValueError, match='bn_splits=2'):
        model.train_step(two_view_batch(batch_size=3), optimizer(model))
