"""Small building blocks shared by the models."""
from .geo import GEO, GEOLayer

__all__ = ['GEO', 'GEOLayer']
