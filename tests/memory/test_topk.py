"""`topk` against a brute-force reference, for every metric, backend and block layout."""
import math

import pytest
import torch
import torch.nn.functional as F

from vmem.memory.retrieval import available_backends, topk
from vmem.memory.retrieval.torch_chunked import _row_topk, block_shape, select_topk

CPU_BACKENDS = available_backends('cpu')


def reference(queries, keys, k, metric, mask=None):
    if metric == 'ip':
        scores = queries @ keys.T
    elif metric == 'cosine':
        scores = F.normalize(queries, dim=1) @ F.normalize(keys, dim=1).T
    else:
        scores = -torch.cdist(queries.double(), keys.double()).float()
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    values, indices = scores.topk(k, dim=1)
    return (-values if metric == 'l2' else values), indices


def assert_same_topk(result, ref, keys_scores=None, atol=1e-4):
    values, indices = ref
    torch.testing.assert_close(result.scores, values, atol=atol, rtol=1e-4)
    # Indices may differ only where scores tie to rounding.
    differ = result.indices != indices
    if differ.any():
        assert torch.allclose(result.scores[differ], values[differ], atol=atol)


@pytest.mark.parametrize('backend', CPU_BACKENDS)
@pytest.mark.parametrize('metric', ['ip', 'cosine', 'l2'])
def test_matches_reference(backend, metric, generator):
    queries = torch.randn(37, 24, generator=generator)
    keys = torch.randn(1001, 24, generator=generator)
    result = topk(queries, keys, 7, metric=metric, backend=backend)
    assert result.scores.shape == (37, 7) and result.indices.dtype == torch.long
    assert_same_topk(result, reference(queries, keys, 7, metric))


@pytest.mark.parametrize('chunk_elements', [1, 100, 3000, 1 << 23])
@pytest.mark.parametrize('k', [1, 5, 64])
def test_chunk_layouts_agree(chunk_elements, k, generator):
    # Tiny chunks force many query and key blocks and merges; results must not change.
    queries = torch.randn(300, 16, generator=generator)
    keys = torch.randn(700, 16, generator=generator)
    result = topk(queries, keys, k, backend='torch', chunk_elements=chunk_elements)
    assert_same_topk(result, reference(queries, keys, k, 'ip'))


def test_block_shape_bounds_memory():
    for n, N, chunk, k in [(25088, 16384, 1 << 23, 9), (256, 1 << 20, 1 << 23, 16),
                           (300, 20000, 1 << 23, 75), (256, 65536, 1 << 22, 1024),
                           (10, 10, 1 << 23, 1), (1000, 1000, 5000, 3), (7, 9000, 100, 50)]:
        rows, cols = block_shape(n, N, chunk, k)
        assert rows * cols <= chunk, (n, N, chunk)
        assert 1 <= rows <= n and 1 <= cols <= N


@pytest.mark.parametrize('length,k', [(20000, 75), (20003, 9), (65536, 1024), (4096, 16)])
def test_two_stage_selection_is_exact(length, k, generator):
    scores = torch.randn(6, length, generator=generator)
    values, indices = select_topk(scores, k)
    expected = scores.topk(k, dim=1)
    torch.testing.assert_close(values, expected.values)
    torch.testing.assert_close(scores.gather(1, indices), values)


@pytest.mark.parametrize('length,k', [(625, 32), (40, 40), (7, 1)])
def test_row_selection_matches_torch_topk(length, k, generator):
    scores = torch.randn(5, length, generator=generator)
    scores[0, ::3] = -math.inf   # masked keys
    values, indices = _row_topk(scores, k)
    expected = scores.topk(k, dim=1)
    torch.testing.assert_close(values, expected.values)
    assert indices.dtype == torch.long and torch.equal(scores.gather(1, indices), values)
    _, unordered = _row_topk(scores, k, ordered=False)
    assert torch.equal(unordered.sort(dim=1).values, indices.sort(dim=1).values)


def test_two_stage_selection_with_clustered_winners():
    # All winners inside one group stride: the group test must still find each of them.
    scores = torch.zeros(2, 16384)
    scores[:, 5::1024] = torch.arange(16, dtype=torch.float32) + 1
    values, indices = select_topk(scores, 16)
    assert sorted(indices[0].tolist()) == list(range(5, 16384, 1024))


@pytest.mark.parametrize('backend', CPU_BACKENDS)
@pytest.mark.parametrize('metric', ['ip', 'l2'])
def test_mask_excludes_keys_and_pads(backend, metric, generator):
    queries = torch.randn(5, 8, generator=generator)
    keys = torch.randn(200, 8, generator=generator)
    mask = torch.zeros(200, dtype=torch.bool)
    mask[[3, 50, 199]] = True
    result = topk(queries, keys, 5, metric=metric, mask=mask, backend=backend)
    found = result.indices[:, :3]
    assert set(found.flatten().tolist()) <= {3, 50, 199}
    assert (result.indices[:, 3:] == -1).all()
    padding = math.inf if metric == 'l2' else -math.inf
    assert (result.scores[:, 3:] == padding).all()
    assert_same_topk(type(result)(result.scores[:, :3], found), tuple(t[:, :3] for t in reference(queries, keys, 5, metric, mask)))


def test_half_precision_inputs(generator):
    queries = torch.randn(20, 16, generator=generator).half()
    keys = torch.randn(300, 16, generator=generator).half()
    result = topk(queries, keys, 4)
    assert result.scores.dtype == torch.float32
    assert_same_topk(result, reference(queries.float(), keys.float(), 4, 'ip'), atol=1e-3)


def test_empty_queries():
    result = topk(torch.empty(0, 4), torch.randn(10, 4), 3)
    assert result.scores.shape == (0, 3) and result.indices.shape == (0, 3)


def test_queries_that_need_grad_are_fine(generator):
    queries = torch.randn(4, 8, generator=generator, requires_grad=True)
    assert topk(queries, torch.randn(50, 8, generator=generator), 2).scores.shape == (4, 2)


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(queries=torch.randn(3)), ValueError, 'queries must be 2-D'),
    (dict(keys=torch.randn(2, 3, 4)), ValueError, 'keys must be 2-D'),
    (dict(queries=torch.randn(3, 5)), ValueError, 'dim 5'),
    (dict(queries=torch.randint(0, 3, (3, 4))), TypeError, 'queries must be a floating'),
    (dict(keys=torch.randn(10, 4).double()), TypeError, 'share a dtype'),
    (dict(k=11), ValueError, 'k=11 is larger'),
    (dict(k=0), ValueError, 'k must be a positive int'),
    (dict(keys=torch.empty(0, 4)), ValueError, 'keys is empty'),
    (dict(queries=torch.tensor([[0.0, float('nan'), 0, 0]])), ValueError, 'queries contain NaN'),
    (dict(keys=torch.randn(10, 4).index_fill_(0, torch.tensor([2]), float('inf'))), ValueError, 'keys contain NaN or Inf'),
    (dict(metric='dot'), ValueError, 'metric must be one of'),
    (dict(backend='magic'), ValueError, 'backend must be one of'),
    (dict(mask=torch.ones(9, dtype=torch.bool)), ValueError, 'mask must be a bool tensor of shape'),
    (dict(precision='bf16', backend='torch'), ValueError, "needs backend='triton'"),
    (dict(queries=[[1.0, 2.0, 3.0, 4.0]]), TypeError, 'queries must be a torch.Tensor'),
])
def test_bad_input_is_named(kwargs, error, match):
    args = dict(queries=torch.randn(3, 4), keys=torch.randn(10, 4), k=2)
    args.update(kwargs)
    queries, keys, k = args.pop('queries'), args.pop('keys'), args.pop('k')
    with pytest.raises(error, match=match):
        topk(queries, keys, k, **args)


def test_meta_device_mismatch_is_named():
    with pytest.raises(ValueError, match='queries are on cpu but keys are on meta'):
        topk(torch.randn(3, 4), torch.empty(10, 4, device='meta'), 2)


@pytest.mark.skipif('faiss' not in CPU_BACKENDS, reason='faiss-cpu not installed')
def test_faiss_and_torch_backends_agree(generator):
    queries = torch.randn(50, 32, generator=generator)
    keys = torch.randn(4000, 32, generator=generator)
    ours, theirs = topk(queries, keys, 20, backend='torch'), topk(queries, keys, 20, backend='faiss')
    assert_same_topk(ours, (theirs.scores, theirs.indices))


def test_triton_backend_through_topk_in_the_interpreter():
    """`topk(backend='triton')` (metric transforms, mask, padding) on CPU via TRITON_INTERPRET."""
    pytest.importorskip('triton')
    import os
    import subprocess
    import sys
    script = '''
import torch
from vmem.memory.retrieval import topk
g = torch.Generator().manual_seed(0)
q, b = torch.randn(9, 20, generator=g), torch.randn(150, 20, generator=g)
for metric in ['ip', 'cosine', 'l2']:
    fused, chunked = topk(q, b, 5, metric=metric, backend='triton'), topk(q, b, 5, metric=metric, backend='torch')
    assert torch.allclose(fused.scores, chunked.scores, atol=1e-5), metric
    assert torch.equal(fused.indices, chunked.indices), metric
mask = torch.zeros(150, dtype=torch.bool); mask[[4, 77]] = True
masked = topk(q, b, 4, mask=mask, backend='triton')
assert set(masked.indices[:, :2].flatten().tolist()) <= {4, 77} and (masked.indices[:, 2:] == -1).all()
print('ok')
'''
    env = {**os.environ, 'TRITON_INTERPRET': '1'}
    result = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and 'ok' in result.stdout, result.stderr[-3000:]


@pytest.mark.parametrize('n,N', [(300, 2500), (6, 200_000)])  # rows split, keys split
def test_cpu_workers_are_exact_and_restore_thread_counts(n, N, generator):
    from vmem.memory.retrieval import cpu_threads
    queries = torch.randn(n, 256, generator=generator)
    keys = torch.randn(N, 256, generator=generator)
    threads = torch.get_num_threads()
    blas = cpu_threads.openblas_controls()
    blas_threads = blas[1]() if blas else None
    with torch_threads(2):
        result = topk(queries, keys, 7, backend='torch', metric='l2')
        assert torch.get_num_threads() == 2
    assert_same_topk(result, reference(queries, keys, 7, 'l2'))
    assert torch.get_num_threads() == threads
    if blas:
        assert blas[1]() == blas_threads


class torch_threads:
    def __init__(self, count):
        self.count = count

    def __enter__(self):
        self.saved = torch.get_num_threads()
        torch.set_num_threads(self.count)

    def __exit__(self, *exc):
        torch.set_num_threads(self.saved)


def test_one_torch_thread_searches_with_single_threaded_openblas(generator, monkeypatch):
    from vmem.memory.retrieval import cpu_threads, torch_chunked
    controls = cpu_threads.openblas_controls()
    if controls is None:
        pytest.skip("numpy's OpenBLAS is not found here")
    used = []
    block_scores = torch_chunked._block_scores

    def spy(*args, numpy_gemm):
        used.append((numpy_gemm, controls[1]()))
        return block_scores(*args, numpy_gemm=numpy_gemm)

    monkeypatch.setattr(torch_chunked, '_block_scores', spy)
    queries = torch.randn(40, 24, generator=generator)
    keys = torch.randn(3000, 24, generator=generator)
    threads, blas_threads = torch.get_num_threads(), controls[1]()
    torch.set_num_threads(1)
    try:
        result = topk(queries, keys, 9, chunk_elements=20000)
    finally:
        torch.set_num_threads(threads)
    assert used and all(numpy_gemm and blas == 1 for numpy_gemm, blas in used)
    assert controls[1]() == blas_threads  # restored
    assert_same_topk(result, reference(queries, keys, 9, 'ip'))
