from .checkpoint import enable_safe_checkpoints
from .setup_env import register_all_modules

__all__ = ['enable_safe_checkpoints', 'register_all_modules']
