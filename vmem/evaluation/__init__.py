"""Metrics; importing registers them."""
from . import metrics  # noqa: F401
