"""Linear probe: a linear classifier trained on frozen features.

The standard measure of self-supervised representations (MoCo, SimCLR): how much class
information a single linear layer can read from the features. Features are computed
once (`vmem.apis.extract_features`) and the probe trains on the cached tensors, so no
backbone forward runs per epoch; ~10k x 512 features train for 100 epochs in seconds
on a CPU.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .knn_classifier import accuracy_from_scores, check_labelled_splits, check_labels


def standardise(train: Tensor, test: Tensor, *, eps: float = 1e-6) -> tuple[Tensor, Tensor]:
    """Both sets shifted and scaled by the training set's per-dimension mean and std.

    Backbone features differ in scale by orders of magnitude across models and dimensions
    (post-ReLU averages); standardising makes one learning rate work for all of them,
    where the MoCo paper needed lr=30 for its raw features. Test statistics are not used.
    """
    mean = train.mean(dim=0, keepdim=True)
    std = train.std(dim=0, keepdim=True, unbiased=False).clamp_min(eps)
    return (train - mean) / std, (test - mean) / std


def train_linear_probe(train_features: Tensor, train_labels: Tensor, test_features: Tensor,
                       test_labels: Tensor, *, num_classes: int, epochs: int = 100, lr: float = 0.1,
                       weight_decay: float = 5e-4, batch_size: int = 256, seed: int = 0) -> dict:
    """Train a linear classifier on standardised frozen features and test it.

    SGD with Nesterov momentum 0.9 and a per-step cosine learning-rate schedule to zero
    over ``epochs`` passes of shuffled mini-batches of ``batch_size``; cross-entropy loss.
    The weights start at zero (the problem is convex, so no random init is needed) and
    the shuffling uses a private generator seeded with ``seed``: one seed gives the same
    result on a device every time, and the global RNG is left untouched.

    Runs on the device of ``train_features``. Returns accuracies in percent:
    ``{'top1', 'top5' (with at least 5 classes), 'train_top1'}``.
    """
    check_labelled_splits(('train_features', train_features, 'train_labels', train_labels),
                          ('test_features', test_features), num_classes=num_classes)
    check_labels('test_labels', test_labels, num=test_features.shape[0], num_classes=num_classes)
    for name, value in (('epochs', epochs), ('batch_size', batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f'{name} must be a positive int, got {value!r}')
    if not lr > 0:
        raise ValueError(f'lr must be positive, got {lr!r}')
    if not weight_decay >= 0:
        raise ValueError(f'weight_decay must be >= 0, got {weight_decay!r}')

    device = train_features.device
    train_x, test_x = standardise(train_features.float(), test_features.to(device).float())
    train_y, test_y = train_labels.to(device).long(), test_labels.to(device).long()
    classifier = torch.nn.Linear(train_x.shape[1], num_classes).to(device)
    torch.nn.init.zeros_(classifier.weight)
    torch.nn.init.zeros_(classifier.bias)
    optimizer = torch.optim.SGD(classifier.parameters(), lr=lr, momentum=0.9, nesterov=True,
                                weight_decay=weight_decay)
    steps_per_epoch = math.ceil(train_x.shape[0] / batch_size)
    total_steps = epochs * steps_per_epoch
    generator = torch.Generator(device='cpu').manual_seed(seed)

    with torch.enable_grad():   # callers may sit under no_grad (e.g. an eval hook)
        step = 0
        for _ in range(epochs):
            order = torch.randperm(train_x.shape[0], generator=generator).to(device)
            for start in range(0, train_x.shape[0], batch_size):
                for group in optimizer.param_groups:
                    group['lr'] = 0.5 * lr * (1 + math.cos(math.pi * step / total_steps))
                batch = order[start:start + batch_size]
                loss = F.cross_entropy(classifier(train_x[batch]), train_y[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1

    with torch.no_grad():
        results = accuracy_from_scores(classifier(test_x), test_y)
        results['train_top1'] = accuracy_from_scores(classifier(train_x), train_y, topk_values=(1,))['top1']
    return results
