"""Small building blocks shared by the models."""
from .context_attention import ContextAttention
from .geo import GEO, GEOLayer

__all__ = ['ContextAttention', 'GEO', 'GEOLayer']
