"""Weighted k-nearest-neighbour classification of frozen features.

The k-NN monitor of instance discrimination (Wu et al., 2018) and MoCo: a query's k most
cosine-similar bank features vote for their classes with weight ``exp(sim / T)``. It
needs no training, so it measures how well the features group classes as they are, and
it is cheap enough to run after every epoch. The neighbour search is the shared
`vmem.memory.topk`, so it scales to large banks with bounded memory and uses the Triton
kernel on CUDA.
"""
from __future__ import annotations

import torch
from torch import Tensor

from vmem.memory import topk


def check_features(name: str, features: Tensor) -> None:
    """Raise naming ``name`` unless ``features`` is a floating [num, dim] tensor."""
    if not isinstance(features, Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, got {type(features).__name__}')
    if features.ndim != 2:
        raise ValueError(f'{name} must be 2-D [num, dim], got shape {tuple(features.shape)}')
    if not features.is_floating_point():
        raise TypeError(f'{name} must be a floating-point tensor, got {features.dtype}')


def check_labels(name: str, labels: Tensor, *, num: int, num_classes: int) -> None:
    """Raise ValueError naming ``name`` unless ``labels`` is an int [num] tensor in
    [0, num_classes)."""
    if not isinstance(labels, Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, got {type(labels).__name__}')
    if labels.ndim != 1 or labels.shape[0] != num:
        raise ValueError(f'{name} must have shape [{num}] (one label per feature), '
                         f'got {tuple(labels.shape)}')
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(f'{name} must be an integer tensor, got {labels.dtype}')
    if num and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ValueError(f'{name} must lie in [0, num_classes={num_classes}), got values in '
                         f'[{int(labels.min())}, {int(labels.max())}]')


def check_num_classes(num_classes: int) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')


def check_labelled_splits(labelled: tuple, queries: tuple, *, num_classes: int) -> None:
    """Checks shared by k-NN and the linear probe: ``labelled`` is (name, features, name,
    labels) of the bank / training split, ``queries`` (name, features) of the split to
    classify; raise naming the argument that is wrong."""
    features_name, features, labels_name, labels = labelled
    queries_name, query_features = queries
    check_features(features_name, features)
    check_features(queries_name, query_features)
    check_num_classes(num_classes)
    if features.shape[0] == 0:
        raise ValueError(f'{features_name} is empty: there is nothing to learn from')
    if query_features.shape[1] != features.shape[1]:
        raise ValueError(f'{queries_name} have dim {query_features.shape[1]} but {features_name} '
                         f'have dim {features.shape[1]}')
    check_labels(labels_name, labels, num=features.shape[0], num_classes=num_classes)


@torch.no_grad()
def knn_predict(bank_features: Tensor, bank_labels: Tensor, query_features: Tensor, *,
                num_classes: int, k: int = 20, temperature: float = 0.07,
                chunk_size: int = 4096) -> Tensor:
    """Class scores [Q, num_classes] of each query from its ``k`` nearest bank features.

    Score of class c for query q: the sum over q's k most cosine-similar bank features
    of label c of ``exp(cos(q, b) / temperature)``. A low temperature lets the closest
    neighbours dominate the vote (0.07 is the papers' value). A bank smaller than ``k``
    votes with all of its features.

    Args:
        bank_features: [N, D] features of labelled samples (e.g. the training split).
        bank_labels: [N] integer labels in [0, num_classes).
        query_features: [Q, D] features to classify, on the bank's device.
        num_classes: number of classes (the score columns).
        k: number of neighbours that vote.
        temperature: softness of the similarity weights, > 0.
        chunk_size: queries per retrieval call; bounds the [chunk, k] intermediates.
    """
    check_labelled_splits(('bank_features', bank_features, 'bank_labels', bank_labels),
                          ('query_features', query_features), num_classes=num_classes)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f'k must be a positive int, got {k!r}')
    if not temperature > 0:
        raise ValueError(f'temperature must be positive, got {temperature!r}')
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f'chunk_size must be a positive int, got {chunk_size!r}')

    device = bank_features.device
    # float32 throughout: retrieval needs one dtype, and exp(1 / T) overflows half precision.
    bank = bank_features.float()
    queries = query_features.to(device=device, dtype=torch.float32)
    labels = bank_labels.to(device=device, dtype=torch.long)
    k = min(k, bank.shape[0])
    scores = torch.zeros(queries.shape[0], num_classes, dtype=torch.float32, device=device)
    for start in range(0, queries.shape[0], chunk_size):
        nearest = topk(queries[start:start + chunk_size], bank, k, metric='cosine')
        weights = nearest.scores.div(temperature).exp_()
        scores[start:start + chunk_size].scatter_add_(1, labels[nearest.indices], weights)
    return scores


def accuracy_from_scores(scores: Tensor, labels: Tensor, *, topk_values: tuple[int, ...] = (1, 5)) -> dict:
    """Top-k accuracies in percent, ``{'top1': ..., 'top5': ...}``; a k larger than the
    number of classes is left out (there are not k classes to rank)."""
    num_classes = scores.shape[1]
    wanted = [k for k in topk_values if k <= num_classes]
    if labels.numel() == 0:
        return {f'top{k}': float('nan') for k in wanted}
    ranked = scores.topk(max(wanted), dim=1).indices
    hits = ranked == labels.to(ranked.device).view(-1, 1)
    return {f'top{k}': 100.0 * hits[:, :k].any(dim=1).float().mean().item() for k in wanted}


def knn_accuracy(bank_features: Tensor, bank_labels: Tensor, query_features: Tensor,
                 query_labels: Tensor, *, num_classes: int, k: int = 20, temperature: float = 0.07,
                 chunk_size: int = 4096) -> dict:
    """k-NN classification accuracy of labelled queries against a labelled bank.

    Returns ``{'top1': %, 'top5': %}`` (top5 only with at least 5 classes), in percent
    as the MoCo and InstDisc papers report it. Arguments as in `knn_predict`, plus
    ``query_labels`` [Q] in [0, num_classes).
    """
    check_num_classes(num_classes)
    check_features('query_features', query_features)
    check_labels('query_labels', query_labels, num=query_features.shape[0], num_classes=num_classes)
    scores = knn_predict(bank_features, bank_labels, query_features, num_classes=num_classes,
                         k=k, temperature=temperature, chunk_size=chunk_size)
    return accuracy_from_scores(scores, query_labels)
