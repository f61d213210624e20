"""The MLP projection head of MoCo v2 / SimCLR."""
from __future__ import annotations

from torch import Tensor, nn

from vmem.registry import MODELS


@MODELS.register_module()
class ProjectionHead(nn.Module):
    """``Linear(in, hidden) -> ReLU -> Linear(hidden, out)``: MoCo v2's head (2048 -> 128
    for ResNet-50). The contrastive loss acts on its output; downstream tasks use the
    backbone features before it, which keep more of the information the loss ignores.

    Args:
        in_dim: backbone feature size (pooled channels).
        hidden_dim: width of the hidden layer.
        out_dim: size of the embedding the queue stores.
    """

    def __init__(self, *, in_dim: int, hidden_dim: int = 2048, out_dim: int = 128) -> None:
        super().__init__()
        for name, value in (('in_dim', in_dim), ('hidden_dim', hidden_dim), ('out_dim', out_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f'ProjectionHead: {name} must be a positive int, got {value!r}')
        self.in_dim, self.hidden_dim, self.out_dim = in_dim, hidden_dim, out_dim
        self.layers = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True),
                                    nn.Linear(hidden_dim, out_dim))

    def forward(self, features: Tensor) -> Tensor:
        return self.layers(features)
