"""Collective helpers for contrastive training under DDP; identities on one process."""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


@torch.no_grad()
def gather_from_all_ranks(tensor: Tensor) -> Tensor:
    """Concatenate ``tensor`` [n, ...] of every rank along dim 0, rank order (no gradient).

    MoCo's queue takes the keys of the whole global batch, so every rank's queue holds
    the same entries. All ranks must pass the same shape (drop the last partial batch)."""
    size = world_size()
    if size == 1:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(size)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


@torch.no_grad()
def shuffle_across_ranks(images: Tensor) -> tuple[Tensor, Tensor]:
    """A random permutation of the global batch; this rank gets its share of it.

    MoCo's "shuffling BN": the key encoder's BatchNorm statistics then come from other
    samples than the query encoder's, so the model cannot find the positive through the
    batch statistics (an information leak that lowers the loss without learning). Returns
    the shuffled images and the index that `unshuffle_across_ranks` needs. On one process
    it is a no-op: a permutation alone does not change whole-batch statistics (MoCo's
    ``bn_splits`` makes BN groups within a process)."""
    size = world_size()
    if size == 1:
        return images, torch.arange(images.shape[0], device=images.device)
    local = images.shape[0]
    everything = gather_from_all_ranks(images)
    permutation = torch.randperm(everything.shape[0], device=images.device)
    dist.broadcast(permutation, src=0)  # one permutation for all ranks
    rank = dist.get_rank()
    mine = permutation[rank * local:(rank + 1) * local]
    return everything[mine], permutation.argsort()


@torch.no_grad()
def unshuffle_across_ranks(keys: Tensor, restore: Tensor) -> Tensor:
    """Undo `shuffle_across_ranks` on the key encoder's output: this rank gets the keys of
    its own samples back, in their original order."""
    size = world_size()
    if size == 1:
        return keys  # shuffle_across_ranks did not permute
    local = keys.shape[0]
    everything = gather_from_all_ranks(keys)
    rank = dist.get_rank()
    return everything[restore[rank * local:(rank + 1) * local]]
