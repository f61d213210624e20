"""Fused similarity + top-k ("maximum inner product search") kernel in Triton.

The n x N score matrix is never materialised.  The grid is (query blocks, bank splits):
each program owns BLOCK_M queries and a contiguous run of key tiles, scores each tile with
`tl.dot`, and folds it into a running top-K kept in registers.  Each program writes its K
survivors to a candidate buffer of shape [n, splits, K] (int64), and one `torch.topk` over
the last two dims merges the splits.  Splits only exist to fill the GPU when n is small, and
every split spans >= 4 tiles of 128 keys, so the buffer holds at most N / 4 entries per row.

A candidate is one int64: (score mapped to an order-preserving int32) << 32 | key index.
Sorting that single word orders by score and carries the index along for free, and makes
every candidate distinct, so selection is deterministic (ties prefer the larger index).
"""
from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl

# The running top-K ([BLOCK_M, K] int64) and a packed tile ([BLOCK_M, BLOCK_N] int64, with
# BLOCK_N >= K) live in registers.  K = 128 already needs BLOCK_M = 32 at 8 warps to avoid
# spills; K = 256 would need BLOCK_N = 256 and spills, so larger k use the caller's fallback.
_MAX_K = 128
_SENTINEL = -(2 ** 63)  # below every packed score, including -inf; marks "no candidate"
_SENTINEL_C = tl.constexpr(_SENTINEL)  # jit code may only read constexpr globals
_PRECISIONS = ('fp32', 'tf32', 'bf16')


def supports(k: int) -> bool:
    """Whether `fused_mips_topk` handles this k (see `_MAX_K` for why it is capped)."""
    return 1 <= k <= _MAX_K


@triton.constexpr_function
def _log2(x: int) -> int:
    return x.bit_length() - 1


@triton.jit
def _ordered(x):
    # float32 -> int32 with the same order under signed compare: negative floats get their
    # magnitude bits flipped so that a larger magnitude becomes a smaller integer.
    bits = x.to(tl.int32, bitcast=True)
    return tl.where(bits >= 0, bits, bits ^ 0x7FFFFFFF)


# Bitonic selection on a [M, 2, 2, ..., 2] "hypercube" view of each row: axis a <-> bit
# (ndim - 1 - a) of the column index.  Hand-rolled instead of tl.topk/tl.sort because those
# find partners with an xor reduction, which the CPU interpreter runs element by element
# (minutes per call); sum/max reductions are vectorised there and cost the same on GPU.
@triton.jit
def _bit(RANK: tl.constexpr, AX: tl.constexpr):
    return tl.reshape(tl.arange(0, 2), [1] * AX + [2] + [1] * (RANK - AX - 1))


@triton.jit
def _cas(h, desc, AX: tl.constexpr):
    # sum - self is the partner along AX; int64 add wraps, so this is exact for any value.
    y = tl.sum(h, axis=AX, keep_dims=True) - h
    swap = (h > y) != (desc ^ _bit(len(h.shape), AX)).to(tl.int1)
    return tl.where(swap, y, h)


@triton.jit
def _merge(h, desc, LOG: tl.constexpr):
    # sorts each bitonic run of 2**LOG along the innermost LOG bits; desc: 0, 1 or a 0/1 mask
    L: tl.constexpr = len(h.shape) - 1
    for i in tl.static_range(LOG):
        h = _cas(h, desc, L - LOG + 1 + i)
    return h


@triton.jit
def _topk_ascending(x, K: tl.constexpr):
    # K largest of each row of x [M, BN], ascending.  Sort runs of K (alternating direction),
    # then repeatedly fold pairs of opposite runs with max (top-K of the pair, bitonic) and
    # re-merge, halving the width each time.
    M: tl.constexpr = x.shape[0]
    LOG_N: tl.constexpr = _log2(x.shape[1])
    LOG_K: tl.constexpr = _log2(K)
    h = tl.reshape(x, [M] + [2] * LOG_N)
    for s in tl.static_range(1, LOG_K + 1):
        if s < LOG_N:
            h = _merge(h, _bit(LOG_N + 1, LOG_N - s), s)
        else:
            h = _merge(h, 0, s)
    for j in tl.static_range(LOG_N - LOG_K):  # LOG_N - j bit axes remain before this fold
        h = tl.max(h, axis=LOG_N - j - LOG_K)
        if LOG_N - j - 1 > LOG_K:
            h = _merge(h, _bit(LOG_N - j, LOG_N - j - 1 - LOG_K), LOG_K)
        else:
            h = _merge(h, 0, LOG_K)
    return tl.reshape(h, [M, K])


@triton.jit
def _mips_topk_kernel(q_ptr, k_ptr, scale_ptr, bias_ptr, out_ptr, n, N, d, tiles_per_split,
                      K: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                      BLOCK_D: tl.constexpr, HAS_SCALE: tl.constexpr, HAS_BIAS: tl.constexpr,
                      CAST_BF16: tl.constexpr, IN_PREC: tl.constexpr, UPCAST: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_s = tl.program_id(1)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < n
    rows64 = rows.to(tl.int64)  # n * d and N * d may exceed int32
    offs_d = tl.arange(0, BLOCK_D)
    best = tl.full([BLOCK_M, K], _SENTINEL_C, tl.int64)

    t_begin = pid_s * tiles_per_split
    t_end = tl.minimum(t_begin + tiles_per_split, tl.cdiv(N, BLOCK_N))
    for t in range(t_begin, t_end):
        cols = t * BLOCK_N + tl.arange(0, BLOCK_N)
        col_ok = cols < N
        cols64 = cols.to(tl.int64)
        acc = tl.zeros([BLOCK_M, BLOCK_N], dtype=tl.float32)
        for d0 in range(0, d, BLOCK_D):
            dd = d0 + offs_d
            d_ok = dd < d
            qt = tl.load(q_ptr + rows64[:, None] * d + dd[None, :],
                         mask=row_ok[:, None] & d_ok[None, :], other=0.0)
            kt = tl.load(k_ptr + cols64[:, None] * d + dd[None, :],
                         mask=col_ok[:, None] & d_ok[None, :], other=0.0)
            if CAST_BF16:
                qt = qt.to(tl.bfloat16)
                kt = kt.to(tl.bfloat16)
            if UPCAST:  # CPU interpreter only: its tl.dot multiplies raw bf16 bit patterns
                qt = qt.to(tl.float32)
                kt = kt.to(tl.float32)
            acc = tl.dot(qt, tl.trans(kt), acc, input_precision=IN_PREC)
        if HAS_SCALE:
            acc = acc * tl.load(scale_ptr + cols, mask=col_ok, other=1.0)[None, :]
        if HAS_BIAS:
            acc = acc + tl.load(bias_ptr + cols, mask=col_ok, other=0.0)[None, :]

        # Skip tiles that beat no row's current K-th best (common for small K on long
        # splits), deciding on fp32 row maxima before paying for packing and sorting.
        # OR-ing in the largest index lets ties through (later tiles have larger indices),
        # so skipping never changes which candidates survive.
        row_max = tl.max(tl.where(col_ok[None, :], acc, float('-inf')), axis=1)
        beats = ((_ordered(row_max).to(tl.int64) << 32) | 0xFFFFFFFF) > tl.min(best, axis=1)
        if tl.max((beats & row_ok).to(tl.int32), axis=0) > 0:
            packed = (_ordered(acc).to(tl.int64) << 32) | cols64[None, :]
            packed = tl.where(row_ok[:, None] & col_ok[None, :], packed, _SENTINEL_C)
            # best (descending) vs. the tile's top (ascending): their elementwise max is
            # exactly the K largest of the union and is bitonic, so one merge re-sorts it.
            merged = tl.maximum(best, _topk_ascending(packed, K))
            h = _merge(tl.reshape(merged, [BLOCK_M] + [2] * _log2(K)), 1, _log2(K))
            best = tl.reshape(h, [BLOCK_M, K])

    out = out_ptr + rows64[:, None] * (tl.num_programs(1) * K) + pid_s * K \
        + tl.arange(0, K)[None, :]
    tl.store(out, best, mask=row_ok[:, None])


def _next_pow2(x: int) -> int:
    return 1 << (x - 1).bit_length()


def _unpack(packed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    key = (packed >> 32).to(torch.int32)
    scores = torch.where(key >= 0, key, key ^ 0x7FFFFFFF).view(torch.float32)
    scores = scores.masked_fill(packed == _SENTINEL, float('-inf'))
    return scores, packed & 0xFFFFFFFF


def _rescore(queries: torch.Tensor, keys: torch.Tensor, cand: torch.Tensor, k: int,
             key_scale: torch.Tensor | None, key_bias: torch.Tensor | None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    # Elementwise multiply + sum rather than einsum/bmm: cuBLAS may silently use TF32,
    # and the whole point here is exact fp32.  Chunk rows to bound the gathered keys.
    n, kc = cand.shape
    step = max(1, (1 << 26) // max(1, kc * keys.shape[1]))
    out_s, out_i = [], []
    for r0 in range(0, n, step):
        idx = cand[r0:r0 + step]
        s = (queries[r0:r0 + step, None, :].float() * keys[idx].float()).sum(-1)
        if key_scale is not None:
            s = s * key_scale[idx]
        if key_bias is not None:
            s = s + key_bias[idx]
        v, j = s.topk(k, dim=1)
        out_s.append(v)
        out_i.append(idx.gather(1, j))
    return torch.cat(out_s), torch.cat(out_i)


def fused_mips_topk(queries: torch.Tensor, keys: torch.Tensor, k: int, *,
                    key_scale: torch.Tensor | None = None,
                    key_bias: torch.Tensor | None = None,
                    precision: str = 'fp32') -> tuple[torch.Tensor, torch.Tensor]:
    """score[i, j] = (queries[i] . keys[j]) * key_scale[j] + key_bias[j]; returns the k largest
    scores per row, descending, as float32 [n, k], and their int64 key indices [n, k]."""
    if precision not in _PRECISIONS:
        raise ValueError(f'precision must be one of {_PRECISIONS}, got {precision!r}')
    if not supports(k):
        raise ValueError(f'k={k} exceeds the fused kernel limit {_MAX_K}; check supports(k)')
    (n, d), N, dev = queries.shape, keys.shape[0], queries.device
    if n == 0:
        return (torch.empty(0, k, device=dev, dtype=torch.float32),
                torch.empty(0, k, device=dev, dtype=torch.int64))

    is_fp32 = queries.dtype == torch.float32
    # 16-bit products are exact in the fp32 accumulator, so only these two modes are lossy.
    cast_bf16 = precision == 'bf16' and queries.dtype != torch.bfloat16
    lossy = cast_bf16 or (precision == 'tf32' and is_fp32)
    kc = k
    if lossy:
        # Oversample, then re-score exactly.  If the cap leaves less than 2x slack the
        # approximate ranking could drop true top-k keys, so compute exactly instead.
        kc = min(N, 4 * k, _MAX_K)
        if kc < min(N, 2 * k):
            lossy, cast_bf16, kc = False, False, k
    in_prec = 'tf32' if (lossy and not cast_bf16) else 'ieee'  # ignored for 16-bit operands

    K = max(2, _next_pow2(kc))  # >= 2 keeps the bitonic merge non-degenerate
    # Spill-free per ptxas (sm_90a, 8 warps): 64 x 128 x 64 tiles only for uncast 16-bit
    # dots with K <= 32, else 32 x 128 (BLOCK_D 64 / 32).  _topk_ascending needs BLOCK_N >= K.
    native16 = not is_fp32 and not cast_bf16
    block_m = 64 if native16 and K <= 32 else 32
    block_n = 128
    block_d = min(64 if native16 else 32, max(16, _next_pow2(d)))
    m_blocks = triton.cdiv(n, block_m)
    num_tiles = triton.cdiv(N, block_n)
    if dev.type == 'cuda':  # fill the GPU when n is small; >= 4 tiles per split bounds
        # the candidate buffer to splits * K <= N / 4 entries per row
        sms = torch.cuda.get_device_properties(dev).multi_processor_count
        splits = min(triton.cdiv(4 * sms, m_blocks), num_tiles // 4)
    else:  # CPU interpreter (tests): keep >1 split so the cross-split merge is exercised
        splits = 2
    splits = max(1, min(num_tiles, splits))
    tiles_per_split = triton.cdiv(num_tiles, splits)
    splits = triton.cdiv(num_tiles, tiles_per_split)

    cand = torch.empty(n, splits, K, device=dev, dtype=torch.int64)
    dummy = queries  # never read when its HAS_* flag is off
    with torch.cuda.device(dev) if dev.type == 'cuda' else contextlib.nullcontext():
        _mips_topk_kernel[(m_blocks, splits)](
            queries, keys,
            key_scale if key_scale is not None else dummy,
            key_bias if key_bias is not None else dummy,
            cand, n, N, d, tiles_per_split,
            K=K, BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_D=block_d,
            HAS_SCALE=key_scale is not None, HAS_BIAS=key_bias is not None,
            CAST_BF16=cast_bf16, IN_PREC=in_prec, UPCAST=dev.type != 'cuda',
            num_warps=8, num_stages=3)
    scores, idx = _unpack(cand.view(n, splits * K).topk(kc, dim=1).values)  # descending
    if lossy:
        return _rescore(queries, keys, idx, k, key_scale, key_bias)
    return scores, idx

