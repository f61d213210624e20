"""MoCHi: harder negatives synthesised from the hardest entries of a MoCo queue."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vmem.memory import MemoryBank
from vmem.registry import MODELS


@MODELS.register_module()
class HardNegativeMixer(nn.Module):
    """Kalantidis et al., "Hard Negative Mixing for Contrastive Learning" (NeurIPS 2020).

    For each query the ``num_hardest`` (N) queue entries most similar to it are found with
    the bank's shared ``topk`` retrieval. From them:

    * ``num_mixed`` (s) negatives ``normalize(a * n_i + (1 - a) * n_j)``, ``a ~ U(0, 1)``,
      for random pairs i, j of the hardest;
    * ``num_query_mixed`` (s') negatives ``normalize(b * q + (1 - b) * n_j)``,
      ``b ~ U(0, max_query_weight)`` (0.5 in the paper, so the query never dominates).

    They are detached (no gradient flows into the synthetic points) and used for this step
    only: nothing is written to the queue.

    Args:
        num_hardest: N, hardest queue entries per query.
        num_mixed: s, negatives mixed from pairs of the hardest.
        num_query_mixed: s', negatives mixed from the query and one of the hardest.
        max_query_weight: upper bound of the query's share in the s' mixes.
    """

    def __init__(self, *, num_hardest: int = 1024, num_mixed: int = 1024, num_query_mixed: int = 512,
                 max_query_weight: float = 0.5) -> None:
        super().__init__()
        if isinstance(num_hardest, bool) or not isinstance(num_hardest, int) or num_hardest < 1:
            raise ValueError(f'HardNegativeMixer: num_hardest must be a positive int, got {num_hardest!r}')
        for name, value in (('num_mixed', num_mixed), ('num_query_mixed', num_query_mixed)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f'HardNegativeMixer: {name} must be an int >= 0, got {value!r}')
        if not 0.0 < max_query_weight <= 1.0:
            raise ValueError(f'HardNegativeMixer: max_query_weight must be in (0, 1], got {max_query_weight}')
        self.num_hardest, self.num_mixed, self.num_query_mixed = num_hardest, num_mixed, num_query_mixed
        self.max_query_weight = max_query_weight

    def extra_repr(self) -> str:
        return f'N={self.num_hardest}, s={self.num_mixed}, s\'={self.num_query_mixed}'

    @torch.no_grad()
    def forward(self, queries: Tensor, queue: MemoryBank) -> Tensor:
        """``queries`` [B, d] (L2-normalised) -> synthetic negatives [B, s + s', d]."""
        if queries.ndim != 2 or queries.shape[1] != queue.dim:
            raise ValueError(f'HardNegativeMixer: queries must be [B, {queue.dim}], got {tuple(queries.shape)}')
        queries = queries.detach()
        batch = queries.shape[0]
        num_hardest = min(self.num_hardest, queue.size)
        hardest = queue.topk(queries, num_hardest, metric='ip').indices  # [B, N] slots
        hard = queue.gather(hardest, columns=('keys',)).keys  # [B, N, d]
        device, dtype = queries.device, queries.dtype
        mixes = []
        if self.num_mixed:
            first = torch.randint(num_hardest, (batch, self.num_mixed), device=device)
            second = torch.randint(num_hardest, (batch, self.num_mixed), device=device)
            weight = torch.rand(batch, self.num_mixed, 1, device=device, dtype=dtype)
            mixed = torch.lerp(_take(hard, second), _take(hard, first), weight)
            mixes.append(F.normalize(mixed, dim=2))
        if self.num_query_mixed:
            partner = torch.randint(num_hardest, (batch, self.num_query_mixed), device=device)
            weight = torch.rand(batch, self.num_query_mixed, 1, device=device, dtype=dtype) * self.max_query_weight
            mixed = torch.lerp(_take(hard, partner), queries.unsqueeze(1), weight)
            mixes.append(F.normalize(mixed, dim=2))
        if not mixes:
            return queries.new_zeros(batch, 0, queue.dim)
        return torch.cat(mixes, dim=1)


def _take(rows: Tensor, index: Tensor) -> Tensor:
    """``rows`` [B, N, d], ``index`` [B, M] -> [B, M, d]: per-query picks."""
    return torch.gather(rows, 1, index.unsqueeze(2).expand(-1, -1, rows.shape[2]))
