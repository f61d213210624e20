"""A frozen copy of an encoder that follows it by an exponential moving average."""
from __future__ import annotations

import copy

import torch
from torch import nn


class MomentumEncoder(nn.Module):
    """MoCo's key encoder: starts as a copy of ``source`` and then moves towards it by
    ``update`` (``theta_k <- m * theta_k + (1 - m) * theta_q``), never by gradients.

    Parameters follow the average; buffers (BatchNorm running statistics) are the key
    encoder's own, updated by its forward passes in train mode, as in MoCo. The copy is a
    submodule, so it is saved in checkpoints and resumed with the rest of the model.
    """

    def __init__(self, source: nn.Module) -> None:
        super().__init__()
        self.encoder = copy.deepcopy(source)
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(False)

    def forward(self, *args, **kwargs):
        return self.encoder(*args, **kwargs)

    @torch.no_grad()
    def update(self, source: nn.Module, momentum: float) -> None:
        mine = list(self.encoder.parameters())
        theirs = [parameter.detach() for parameter in source.parameters()]
        if len(mine) != len(theirs):
            raise ValueError(f'MomentumEncoder.update: the source has {len(theirs)} parameters, '
                             f'the copy {len(mine)}; it must be the module the copy was made from')
        # one fused kernel over all parameters: the key encoder is updated every step
        torch._foreach_lerp_(mine, theirs, 1.0 - momentum)

    @torch.no_grad()
    def copy_from(self, source: nn.Module) -> None:
        """Reset the copy to ``source``'s current weights (and buffers)."""
        self.encoder.load_state_dict(source.state_dict())
