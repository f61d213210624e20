"""k-NN classifier, linear probe and feature extraction on synthetic features (CPU, fast)."""
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vmem.apis import extract_features
from vmem.models.selfsup import knn_accuracy, knn_predict, train_linear_probe
from vmem.structures import DetDataSample


def clustered(num, *, num_classes, dim=32, spread=0.3, seed=0):
    """Features around one random centre per class, and their labels."""
    generator = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(num_classes, dim, generator=torch.Generator().manual_seed(123)), dim=1)
    labels = torch.randint(0, num_classes, (num,), generator=generator)
    return centres[labels] + spread * torch.randn(num, dim, generator=generator) / dim ** 0.5, labels


def brute_force_vote(bank, bank_labels, queries, *, num_classes, k, temperature):
    """The InstDisc vote written out with a full similarity matrix and Python loops."""
    similarity = F.normalize(queries, dim=1) @ F.normalize(bank, dim=1).T
    scores = torch.zeros(len(queries), num_classes)
    for row in range(len(queries)):
        values, indices = similarity[row].sort(descending=True)
        for value, index in zip(values[:k], indices[:k]):
            scores[row, bank_labels[index]] += torch.exp(value / temperature)
    return scores


# -- k-NN -------------------------------------------------------------------------------------
def test_knn_separable_features_are_all_right():
    bank, bank_labels = clustered(500, num_classes=10, seed=0)
    queries, labels = clustered(200, num_classes=10, seed=1)
    result = knn_accuracy(bank, bank_labels, queries, labels, num_classes=10, k=20)
    assert result == {'top1': 100.0, 'top5': 100.0}


def test_knn_shuffled_labels_is_near_chance():
    bank, bank_labels = clustered(2000, num_classes=10, seed=0)
    queries, labels = clustered(1000, num_classes=10, seed=1)
    shuffled = bank_labels[torch.randperm(len(bank_labels), generator=torch.Generator().manual_seed(0))]
    result = knn_accuracy(bank, shuffled, queries, labels, num_classes=10, k=20)
    assert 5.0 < result['top1'] < 17.0   # chance is 10%
    assert 35.0 < result['top5'] < 65.0   # chance is 50%


@pytest.mark.parametrize('k,temperature,chunk_size', [(1, 0.07, 100), (7, 0.07, 3), (50, 0.5, 16), (60, 0.1, 8)])
def test_knn_vote_equals_brute_force(k, temperature, chunk_size):
    generator = torch.Generator().manual_seed(k)
    bank, queries = torch.randn(60, 16, generator=generator), torch.randn(20, 16, generator=generator)
    bank_labels = torch.randint(0, 4, (60,), generator=generator)
    scores = knn_predict(bank, bank_labels, queries, num_classes=4, k=k, temperature=temperature,
                         chunk_size=chunk_size)
    expected = brute_force_vote(bank, bank_labels, queries, num_classes=4, k=k, temperature=temperature)
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-4)


def test_knn_searches_through_the_shared_topk():
    import vmem.models.selfsup.knn_classifier as knn
    bank, bank_labels = clustered(50, num_classes=3)
    with mock.patch.object(knn, 'topk', wraps=knn.topk) as shared_topk:
        knn_predict(bank, bank_labels, bank[:10], num_classes=3, k=5, chunk_size=4)
    assert shared_topk.call_count == 3   # 10 queries in chunks of 4
    assert all(call.kwargs['metric'] == 'cosine' and call.args[2] == 5 for call in shared_topk.call_args_list)


def test_knn_bank_smaller_than_k_votes_with_all_of_it():
    bank, bank_labels = torch.eye(3), torch.tensor([0, 1, 1])
    scores = knn_predict(bank, bank_labels, torch.tensor([[1.0, 0.0, 0.0]]), num_classes=2, k=20, temperature=1.0)
    torch.testing.assert_close(scores, torch.tensor([[torch.e, 2.0]]))


def test_top5_only_with_five_classes_or_more():
    bank, bank_labels = clustered(40, num_classes=4)
    assert set(knn_accuracy(bank, bank_labels, bank, bank_labels, num_classes=4, k=3)) == {'top1'}


@pytest.mark.parametrize('change,argument', [
    (dict(k=0), 'k'), (dict(k=-3), 'k'), (dict(temperature=0.0), 'temperature'),
    (dict(query_features=torch.randn(5, 7)), 'dim'),
    (dict(bank_labels=torch.tensor([0, 1, 2, 3, 9] * 4)), 'bank_labels'),
    (dict(bank_labels=torch.tensor([0, -1] * 10)), 'bank_labels'),
    (dict(bank_labels=torch.zeros(19, dtype=torch.long)), 'bank_labels'),
    (dict(query_labels=torch.tensor([5, 0, 0, 0, 0])), 'query_labels'),
    (dict(bank_features=torch.zeros(0, 8), bank_labels=torch.zeros(0, dtype=torch.long)), 'empty'),
    (dict(num_classes=0), 'num_classes'),
])
def test_knn_bad_input_names_the_argument(change, argument):
    arguments = dict(bank_features=torch.randn(20, 8), bank_labels=torch.arange(20) % 5,
                     query_features=torch.randn(5, 8), query_labels=torch.arange(5), num_classes=5, k=3,
                     temperature=0.07)
    arguments.update(change)
    with pytest.raises(ValueError, match=argument):
        knn_accuracy(arguments.pop('bank_features'), arguments.pop('bank_labels'),
                     arguments.pop('query_features'), arguments.pop('query_labels'), **arguments)


# -- linear probe -----------------------------------------------------------------------------
def linearly_separable(num, *, seed):
    """Labels of a fixed random linear map's argmax, keeping points with a margin: separable
    by a linear classifier but not clustered, and scaled unevenly per dimension (which
    standardisation undoes)."""
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(4 * num, 24, generator=generator)
    logits = features @ torch.randn(24, 6, generator=torch.Generator().manual_seed(7))
    best_two = logits.topk(2, dim=1).values
    keep = (best_two[:, 0] - best_two[:, 1] > 1.0).nonzero().squeeze(1)[:num]
    return features[keep] * torch.logspace(-2, 2, 24), logits[keep].argmax(dim=1)


def test_linear_probe_separates_linearly_separable_data():
    train, train_labels = linearly_separable(1500, seed=0)
    test, test_labels = linearly_separable(500, seed=1)
    result = train_linear_probe(train, train_labels, test, test_labels, num_classes=6, epochs=30)
    assert result['train_top1'] > 99.0 and result['top1'] > 98.0
    assert set(result) == {'top1', 'top5', 'train_top1'}


def test_linear_probe_is_deterministic_per_seed():
    train, train_labels = linearly_separable(300, seed=0)
    test, test_labels = linearly_separable(200, seed=1)

    def probe(seed):
        return train_linear_probe(train, train_labels, test, test_labels, num_classes=6, epochs=3,
                                  batch_size=32, lr=0.5, seed=seed)

    torch.manual_seed(0)
    first = probe(0)
    torch.manual_seed(1)   # the global RNG plays no part
    assert probe(0) == first
    assert any(probe(seed) != first for seed in (1, 2, 3))


@pytest.mark.parametrize('change,argument', [
    (dict(epochs=0), 'epochs'), (dict(batch_size=0), 'batch_size'), (dict(lr=0.0), 'lr'),
    (dict(test_features=torch.randn(4, 3)), 'dim'), (dict(train_labels=torch.full((10,), 6)), 'train_labels'),
    (dict(test_labels=torch.tensor([0, 1, 2])), 'test_labels'),
])
def test_linear_probe_bad_input_names_the_argument(change, argument):
    arguments = dict(train_features=torch.randn(10, 4), train_labels=torch.arange(10) % 6,
                     test_features=torch.randn(4, 4), test_labels=torch.arange(4), num_classes=6)
    arguments.update(change)
    with pytest.raises(ValueError, match=argument):
        train_linear_probe(arguments.pop('train_features'), arguments.pop('train_labels'),
                           arguments.pop('test_features'), arguments.pop('test_labels'), **arguments)


# -- feature extraction -----------------------------------------------------------------------
class MeanColourModel(nn.Module):
    """The stand-in a MoCo model is to the evaluation: a preprocessor and extract_feat."""

    def __init__(self):
        super().__init__()
        from vmem.models.data_preprocessors import DetDataPreprocessor
        self.data_preprocessor = DetDataPreprocessor(pad_size_divisor=1)
        self.scale = nn.Parameter(torch.ones(1))
        self.batch_norm = nn.BatchNorm1d(3)

    def extract_feat(self, inputs):
        return self.batch_norm(inputs.mean(dim=(2, 3))) * self.scale


def labelled_batches(labels, *, batch_size=3, drop_label_at=None):
    """Images whose colour is their class, packed as a labelled dataloader would."""
    items = []
    for index, label in enumerate(labels):
        sample = DetDataSample()
        if index != drop_label_at:
            sample.set_metainfo(dict(gt_label=label))
        image = torch.zeros(3, 8, 8, dtype=torch.uint8)
        image[label] = 200
        items.append(dict(inputs=image, data_samples=sample))
    return [dict(inputs=[item['inputs'] for item in items[start:start + batch_size]],
                 data_samples=[item['data_samples'] for item in items[start:start + batch_size]])
            for start in range(0, len(items), batch_size)]


def test_extract_features_in_order_in_eval_mode():
    model = MeanColourModel().train()
    labels = [0, 1, 2, 2, 1, 0, 1]
    features, got = extract_features(model, labelled_batches(labels))
    assert got.dtype == torch.long and got.tolist() == labels
    assert features.shape == (7, 3) and features.dtype == torch.float32
    assert features.argmax(dim=1).tolist() == labels
    assert model.training   # mode restored
    assert model.batch_norm.num_batches_tracked.item() == 0   # ran with running statistics
    result = knn_accuracy(features, got, features, got, num_classes=3, k=2)
    assert result['top1'] == 100.0


def test_extract_features_names_missing_label_and_method():
    with pytest.raises(ValueError, match='sample 4 .*gt_label'):
        extract_features(MeanColourModel(), labelled_batches([0, 1, 2, 0, 1], drop_label_at=4))
    with pytest.raises(TypeError, match='extract_feat'):
        extract_features(nn.Linear(2, 2), labelled_batches([0]))
