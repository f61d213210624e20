"""Runner extensions (hooks); importing registers them."""
from .random_state_hook import RandomStateHook  # noqa: F401
from .visualization_hook import DetVisualizationHook  # noqa: F401
