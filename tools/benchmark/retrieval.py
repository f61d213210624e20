"""Top-k retrieval benchmark: vmem's `topk` against plain torch and faiss-cpu.

    python tools/benchmark/retrieval.py                 # CPU table (about 5 minutes)
    python tools/benchmark/retrieval.py --device cuda   # GPU table (torch vs Triton)
    python tools/benchmark/retrieval.py --quick         # tiny shapes, a smoke run

Times are medians over repeats, taken interleaved (vmem, torch, faiss, vmem, ...) so a
noisy shared machine slows all columns alike; the ratios are the result to read.
``--memory`` also measures each method's peak extra memory, each in a fresh process.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from vmem.memory.retrieval import available_backends, topk  # noqa: E402
from vmem.memory.retrieval.torch_chunked import DEFAULT_CHUNK_ELEMENTS  # noqa: E402


@dataclass(frozen=True)
class Workload:
    name: str
    n: int
    N: int
    d: int
    k: int
    cpu_n: int  # queries on CPU, where the full n would take minutes per run


WORKLOADS = [
    Workload('MAMBA proposals', 300, 20000, 1024, 75, 300),
    Workload('Context R-CNN month', 300, 8640, 2057, 64, 300),
    Workload('PatchCore batch', 25088, 16384, 1536, 9, 4096),
    Workload('MoCHi queue', 256, 65536, 128, 1024, 256),
    Workload('retrieval 1M', 4096, 1048576, 256, 16, 256),
]
QUICK = [Workload('quick', 64, 5000, 64, 10, 64), Workload('quick large k', 32, 8192, 32, 512, 32)]
# Plain torch materialises the whole n x N score matrix; past this it goes in query chunks.
PLAIN_TORCH_MAX_ELEMENTS = 1 << 30
PAUSE_BETWEEN_METHODS_S = 0.3


def plain_torch(queries, keys, k):
    rows = max(1, PLAIN_TORCH_MAX_ELEMENTS // keys.shape[0])
    parts = [(queries[i:i + rows] @ keys.T).topk(k, dim=1) for i in range(0, len(queries), rows)]
    return torch.cat([p.values for p in parts]), torch.cat([p.indices for p in parts])


def make_methods(queries, keys, k, device):
    methods = {'vmem': lambda: topk(queries, keys, k), 'torch': lambda: plain_torch(queries, keys, k)}
    if device == 'cpu' and 'faiss' in available_backends('cpu'):
        import faiss
        index = faiss.IndexFlatIP(keys.shape[1])  # built once, outside the timing
        index.add(keys.numpy())
        query_array = queries.numpy()
        methods['faiss'] = lambda: index.search(query_array, k)
    return methods


def synchronize(device):
    if device == 'cuda':
        torch.cuda.synchronize()


def make_data(workload, device, seed=0):
    generator = torch.Generator().manual_seed(seed)
    n = workload.cpu_n if device == 'cpu' else workload.n
    queries = torch.randn(n, workload.d, generator=generator)
    keys = torch.randn(workload.N, workload.d, generator=generator)
    return queries.to(device), keys.to(device), n


def time_workload(workload, device, repeats):
    queries, keys, n = make_data(workload, device)
    methods = make_methods(queries, keys, workload.k, device)
    times = {name: [] for name in methods}
    for fn in methods.values():  # warm-up: kernels compiled, pages touched
        fn()
    synchronize(device)
    for _ in range(repeats):
        for name, fn in methods.items():
            # torch, OpenBLAS and faiss each keep spin-waiting threads for a moment after
            # a call; let them go idle so no method runs against another's spinners.
            time.sleep(PAUSE_BETWEEN_METHODS_S)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append((time.perf_counter() - start) * 1e3)
    return n, {name: statistics.median(values) for name, values in times.items()}


def _rss_kib(field):
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def measure_peak_memory(workload_name, method, device):
    """Run in a fresh process: peak memory (MiB) one call adds on top of its inputs."""
    workload = next(w for w in WORKLOADS + QUICK if w.name == workload_name)
    queries, keys, _ = make_data(workload, device)
    fn = make_methods(queries, keys, workload.k, device)[method]
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    Path('/proc/self/clear_refs').write_text('5')  # resets the peak-RSS counter
    before = _rss_kib('VmRSS')
    fn()
    return (_rss_kib('VmHWM') - before) / 1024


def peak_memory(workload, method, device):
    code = ('import json, sys; sys.argv = [""]; '
            f'sys.path.insert(0, {str(Path(__file__).parent)!r}); import retrieval; '
            f'print(json.dumps(retrieval.measure_peak_memory({workload.name!r}, {method!r}, {device!r})))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def check_agreement(workload, device):
    """vmem and plain torch must return the same neighbours (scores equal to rounding)."""
    queries, keys, _ = make_data(workload, device, seed=1)
    ours, reference = topk(queries, keys, workload.k), plain_torch(queries, keys, workload.k)
    gap = (ours.scores - reference[0]).abs().max().item()
    if gap > 1e-3 * max(1.0, reference[0].abs().max().item()):
        raise AssertionError(f'{workload.name}: vmem and torch scores differ by {gap}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--quick', action='store_true', help='tiny shapes: checks the script runs')
    parser.add_argument('--memory', action='store_true', help='also measure peak memory per method')
    args = parser.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is visible')
    workloads = QUICK if args.quick else WORKLOADS

    print(f'# top-k retrieval, {args.device}: {platform.processor() or platform.machine()}, '
          f'{torch.get_num_threads()} threads, torch {torch.__version__}, '
          f'{time.strftime("%Y-%m-%d")}; median of {args.repeats}; ms')
    print(f'# vmem backend: {"triton" if args.device == "cuda" else "torch (chunked)"}, '
          f'chunk {DEFAULT_CHUNK_ELEMENTS} scores; faiss: IndexFlatIP.search, index built untimed')
    header = '| workload (n, N, d, k) | vmem ms | torch ms | faiss ms | torch / vmem | faiss / vmem |'
    if args.memory:
        header += ' peak MiB vmem / torch / faiss |'
    print(header)
    print('|' + '---|' * (header.count('|') - 1))
    for workload in workloads:
        check_agreement(workload, args.device)
        n, times = time_workload(workload, args.device, args.repeats)
        note = '' if n == workload.n else f' (n={n} on CPU)'
        faiss_ms = times.get('faiss')
        vmem_ms, torch_ms = times['vmem'], times['torch']
        faiss_cell = '-' if faiss_ms is None else f'{faiss_ms:.1f}'
        faiss_ratio = '-' if faiss_ms is None else f'{faiss_ms / vmem_ms:.2f}x'
        row = (f'| {workload.name} ({workload.n}, {workload.N}, {workload.d}, {workload.k}){note} '
               f'| {vmem_ms:.1f} | {torch_ms:.1f} | {faiss_cell} | {torch_ms / vmem_ms:.2f}x '
               f'| {faiss_ratio} |')
        if args.memory:
            peaks = [f'{peak_memory(workload, m, args.device):.0f}' for m in times]
            row += ' ' + ' / '.join(peaks) + ' |'
        print(row, flush=True)


if __name__ == '__main__':
    main()
