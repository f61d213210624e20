"""A folder of unlabeled images, e.g. a user's own photos for self-supervised pretraining."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from mmengine.dataset import BaseDataset

from vmem.registry import DATASETS

DEFAULT_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


@DATASETS.register_module()
class UnlabeledImageFolder(BaseDataset):
    """Every image under ``data_root``, one item each: ``dict(img_path=..., img_id=i)``.

    Paths are sorted, so ``img_id`` and ``max_images`` pick the same images on every run and
    every rank. There are no labels: pair it with ``LoadFrame``, ``ContrastiveViews`` and
    ``PackContrastiveInputs``.

    Args:
        data_root: the folder to scan.
        pipeline: the transforms.
        extensions: file name endings to take (case-insensitive).
        recursive: also scan sub-folders (an ImageNet-style class layout then just works).
        max_images: keep only the first this many (sorted) images, for quick tries.
        **kwargs: passed to mmengine's ``BaseDataset`` (``indices``, ``lazy_init``, ...).

    A missing folder raises ``FileNotFoundError``, a folder without images ``ValueError``;
    both name the folder and the extensions looked for.
    """

    def __init__(self, *, data_root: str, pipeline: Sequence = (),
                 extensions: Sequence[str] = DEFAULT_EXTENSIONS, recursive: bool = True,
                 max_images: Optional[int] = None, **kwargs) -> None:
        if isinstance(extensions, str):
            extensions = (extensions,)
        self.extensions = tuple(ext.lower() if ext.startswith('.') else f'.{ext.lower()}'
                                for ext in extensions)
        if not self.extensions:
            raise ValueError('UnlabeledImageFolder: extensions is empty')
        if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, int)
                                       or max_images < 1):
            raise ValueError(f'max_images must be a positive int or None, got {max_images!r}')
        self.recursive = recursive
        self.max_images = max_images
        super().__init__(data_root=str(data_root), pipeline=list(pipeline), **kwargs)

    def load_data_list(self) -> list[dict]:
        root = Path(self.data_root)
        if not root.is_dir():
            raise FileNotFoundError(f'UnlabeledImageFolder: {str(root)!r} is not a folder '
                                    f'(looking for {", ".join(self.extensions)} images)')
        candidates = root.rglob('*') if self.recursive else root.iterdir()
        paths = sorted(str(path) for path in candidates
                       if path.suffix.lower() in self.extensions and path.is_file())
        if not paths:
            where = ' or its sub-folders' if self.recursive else ''
            raise ValueError(f'UnlabeledImageFolder: no {", ".join(self.extensions)} images in '
                             f'{str(root)!r}{where}')
        if self.max_images is not None:
            paths = paths[:self.max_images]
        return [dict(img_path=path, img_id=index) for index, path in enumerate(paths)]
