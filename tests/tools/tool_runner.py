"""Running the command-line tools in a subprocess, with the test-local toy modules importable."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOY = ROOT / 'tests' / 'tools' / 'toy'
TOY_TRAIN = str(TOY / 'toy_train.py')
TOY_TEST = str(TOY / 'toy_test.py')
if str(TOY) not in sys.path:  # configs import toy_modules (custom_imports) in this process too
    sys.path.insert(0, str(TOY))


def tool_env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TOY), str(ROOT)]), OMP_NUM_THREADS='1')
    env.update(extra)
    return env


def run_tool(*args, expect_ok=True, env=None, timeout=120):
    result = subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, env=env or tool_env(),
                            capture_output=True, text=True, timeout=timeout)
    if expect_ok:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


def write_config(path, base, **assignments):
    """A config file inheriting ``base`` and setting top-level keys (as Python literals)."""
    lines = [f'_base_ = [{str(base)!r}]'] + [f'{key} = {value!r}' for key, value in assignments.items()]
    path.write_text('\n'.join(lines) + '\n')
    return str(path)
