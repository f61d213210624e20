"""Fused MIPS top-k Triton kernel, checked on CPU through the Triton interpreter.

TRITON_INTERPRET must be set before triton is first imported, and other tests in this
process may already have imported it, so every check runs in one subprocess.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip('triton')

MODULE = Path(__file__).resolve().parents[2] / 'vmem' / 'memory' / 'retrieval' / 'triton_fused.py'

SCRIPT = r'''
import importlib.util, sys, time, traceback
import torch

spec = importlib.util.spec_from_file_location('triton_fused', sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
torch.manual_seed(0)
failures = []


def check(name, *args, **kwargs):
    t0 = time.time()
    try:
        errs = compare(*args, **kwargs)
    except Exception:
        errs = ['raised:\n' + traceback.format_exc()]
    status = 'FAIL' if errs else 'ok'
    print(f'{status:4} {name:38} {time.time() - t0:5.2f}s ' + '; '.join(errs), flush=True)
    if errs:
        failures.append(name)


def compare(q, keys, k, scale=None, bias=None, precision='fp32', masked=None):
    s, i = mod.fused_mips_topk(q, keys, k, key_scale=scale, key_bias=bias, precision=precision)
    ref = q.float() @ keys.float().T
    if scale is not None:
        ref = ref * scale
    if bias is not None:
        ref = ref + bias
    rs, ri = ref.topk(k, dim=1)
    n = q.shape[0]
    errs = []
    if s.shape != (n, k) or i.shape != (n, k):
        errs.append(f'shapes {tuple(s.shape)} {tuple(i.shape)}')
    elif s.dtype != torch.float32 or i.dtype != torch.int64:
        errs.append(f'dtypes {s.dtype} {i.dtype}')
    else:
        fin = torch.isfinite(rs)
        if not torch.equal(torch.isfinite(s), fin):
            errs.append(f'finite pattern differs in {(torch.isfinite(s) != fin).sum()} entries')
        elif not torch.allclose(s[fin], rs[fin], rtol=1e-5, atol=1e-5):
            errs.append(f'scores max abs err {(s[fin] - rs[fin]).abs().max():.3g}')
        if not bool((s[:, :-1] >= s[:, 1:]).all()):
            errs.append('scores not descending')
        ii = i.clamp(0, keys.shape[0] - 1)
        if not bool(((i >= 0) & (i < keys.shape[0]))[fin].all()):
            errs.append('index out of range')
        elif not torch.allclose(ref.gather(1, ii)[fin], s[fin], rtol=1e-5, atol=1e-5):
            # index may differ from the reference only at near-ties
            errs.append('returned index does not carry the returned score')
        for r in range(n):
            row = i[r][fin[r]]
            if row.unique().numel() != row.numel():
                errs.append(f'duplicate indices in row {r}')
                break
            if masked is not None and bool(masked[row].any()):
                errs.append(f'masked key returned in row {r}')
                break
    return errs


n, N, d = 37, 301, 45  # none a multiple of any block size
q, keys = torch.randn(n, d), torch.randn(N, d)
scale, bias = torch.rand(N) + 0.5, torch.randn(N)
for k in (1, 10, 64, 128):
    check(f'fp32 k={k}', q, keys, k)
check('scale+bias k=10', q, keys, 10, scale, bias)
masked = torch.rand(N) < 0.3
check('masked bias k=10', q, keys, 10, scale, bias.masked_fill(masked, float('-inf')),
      masked=masked)
few = torch.ones(N, dtype=torch.bool)
few[torch.randperm(N)[:6]] = False  # only 6 finite keys for k=10
check('fewer finite than k', q, keys, 10, None, torch.zeros(N).masked_fill(few, float('-inf')),
      masked=few)
check('fp16 k=10', q.half(), keys.half(), 10, scale, bias)
check('bf16 inputs k=10', q.bfloat16(), keys.bfloat16(), 10)
check('precision=bf16 k=10 (rescored)', q, keys, 10, scale, bias, precision='bf16')
check('precision=tf32 k=10 (rescored)', q, keys, 10, precision='tf32')
check('precision=bf16 k=64 (2x oversample)', q, keys, 64, precision='bf16')
check('precision=bf16 k=100 (exact fallback)', q, keys, 100, precision='bf16')
check('tiny d=3 N=5 k=N', torch.randn(3, 3), torch.randn(5, 3), 5)
check('long bank n=3 k=2 (tile skipping)', torch.randn(3, 16), torch.randn(5000, 16), 2)
dup = torch.randn(40, 20).repeat(4, 1)  # exact ties everywhere
check('duplicate keys k=16', torch.randn(9, 20), dup, 16)

sup = [mod.supports(k) for k in (1, 64, 128, 129, 256)]
if sup != [True, True, True, False, False]:
    print('FAIL supports', sup)
    failures.append('supports')
try:
    mod.fused_mips_topk(q, keys, 4, precision='fp8')
    failures.append('bad precision accepted')
except ValueError:
    pass
print('FAILURES: ' + ', '.join(failures) if failures else 'ALL OK')
sys.exit(1 if failures else 0)
'''


def test_fused_mips_topk_interpreter():
    env = {**os.environ, 'TRITON_INTERPRET': '1'}
    proc = subprocess.run([sys.executable, '-c', SCRIPT, str(MODULE)], env=env,
                          capture_output=True, text=True, timeout=300)
    report = f'--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr[-4000:]}'
    assert proc.returncode == 0, report
    assert 'ALL OK' in proc.stdout, report
