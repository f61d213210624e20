import pytest
import torch

from vmem.utils import register_all_modules


@pytest.fixture(autouse=True, scope='session')
def _vmem_scope():
    register_all_modules(init_default_scope=True)


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(0)
