"""Runner extensions (hooks); importing registers them."""
from .random_state_hook import RandomStateHook  # noqa: F401
