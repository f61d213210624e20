import pytest
import torch

from vmem.utils import register_all_modules


@pytest.fixture(autouse=True, scope='session')
def _vmem_scope():
    register_all_modules(init_default_scope=True)


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope='session')
def real_asset():
    """``real_asset(name)``: the path of a fetched real file (vmem.utils.assets). Missing
    files fail the test under CI (``make test`` fetches them first) and skip it elsewhere."""
    import os

    from vmem.utils.assets import AssetError, asset_path

    def get(name: str):
        try:
            return asset_path(name)
        except AssetError as error:
            if os.environ.get('CI'):
                pytest.fail(str(error))
            pytest.skip(str(error))
    return get
