"""Top-k retrieval over a bank of keys: chunked torch, fused Triton (CUDA), faiss (CPU)."""
from .topk import BACKENDS, METRICS, TopkResult, available_backends, topk

__all__ = ['BACKENDS', 'METRICS', 'TopkResult', 'available_backends', 'topk']
