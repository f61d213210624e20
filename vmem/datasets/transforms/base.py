"""The transform interface: a callable on a results dict that returns a dict or None."""
from __future__ import annotations

from typing import Optional


class BaseTransform:
    """Base of vmem's data transforms (our stand-in for mmcv's ``BaseTransform``).

    A deterministic transform overrides ``transform(results)``. A random one splits its work
    into ``sample_params(results)`` (draw the random decisions) and ``apply(results, params)``
    (use them), so ``ApplyToFrames`` can draw once on the key frame and apply the same
    decisions to every reference frame. Returning ``None`` drops the sample; mmengine's
    datasets then fetch another one in training.
    """

    def __call__(self, results: dict) -> Optional[dict]:
        return self.transform(results)

    def transform(self, results: dict) -> Optional[dict]:
        return self.apply(results, self.sample_params(results))

    def sample_params(self, results: dict) -> dict:
        return {}

    def apply(self, results: dict, params: dict) -> Optional[dict]:
        raise NotImplementedError(f'{type(self).__name__} must override transform() or apply()')

    @property
    def has_random_params(self) -> bool:
        """Whether this transform draws parameters that frames of one clip should share."""
        return type(self).apply is not BaseTransform.apply

    def __repr__(self) -> str:
        fields = ', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))
        return f'{type(self).__name__}({fields})'
