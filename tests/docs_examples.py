"""Extracting and running the fenced code blocks of README.md and docs/ (used by test_docs.py).

Rules, as the docs' authors write them (see docs/index.md, "How the examples are tested"):
- ``python`` blocks run; all python blocks of one page share one namespace, in order.
- ``bash`` blocks run with ``bash -e`` in the same scratch folder, the venv's bin first on PATH.
- other languages (``text``, ``console``, ``yaml``, none) are never run.
- HTML comments right before a fence are directives:
  ``<!-- example: skip REASON -->``, ``<!-- example: parse-only -->`` (bash: check each
  ``python SCRIPT ARGS`` against the script's argparse and load every ``configs/*.py`` argument,
  without running), ``<!-- example: sub OLD => NEW ; OLD2 => NEW2 -->`` (quick settings), and
  ``<!-- example: setup`` ... ``-->``, a hidden python block run before the next block.

Run as ``python docs_examples.py PAGE.md SCRATCH_DIR`` it executes one page and exits 1 with
the page and line of the first failing block.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import runpy
import shlex
import subprocess
import sys
import traceback
from pathlib import Path

RUN_LANGUAGES = ('python', 'bash')
FENCE = re.compile(r'^(\s*)(`{3,})\s*([\w+-]*)\s*$')
DIRECTIVE = re.compile(r'^\s*<!--\s*example:\s*(skip|parse-only|sub)\b(.*?)-->\s*$')
SETUP_START = re.compile(r'^\s*<!--\s*example:\s*setup\s*$')
# Commands that must never run unmarked: installs, downloads, the long quick start.
NEVER_RUN_UNMARKED = re.compile(r'^(pip|make|git|wget|curl|apt|apt-get|sudo|conda)\b')


@dataclasses.dataclass
class Block:
    page: str
    line: int                 # 1-based line of the opening fence (or of the setup comment)
    language: str
    code: str
    skip: str | None = None   # the reason, when skipped
    parse_only: bool = False
    substitutions: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    hidden: bool = False

    @property
    def runs(self) -> bool:
        return self.language in RUN_LANGUAGES and self.skip is None

    def where(self) -> str:
        return f'{self.page}:{self.line}'

    def runnable_code(self) -> str:
        code = self.code
        for old, new in self.substitutions:
            if old not in code:
                raise ValueError(f'{self.where()}: substitution {old!r} does not occur in the block')
            code = code.replace(old, new)
        return code


class DirectiveError(ValueError):
    pass


def _parse_substitutions(text: str, where: str) -> list[tuple[str, str]]:
    pairs = []
    for part in text.split(';'):
        if not part.strip():
            continue
        if '=>' not in part:
            raise DirectiveError(f'{where}: a sub directive needs OLD => NEW, got {part.strip()!r}')
        old, new = part.split('=>', 1)
        pairs.append((old.strip(), new.strip()))
    return pairs


def parse_page(path: Path, *, name: str | None = None) -> list[Block]:
    """The page's fenced blocks with their directives, and its hidden setup blocks."""
    name = name or path.name
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    pending: dict = dict(skip=None, parse_only=False, substitutions=[])
    i = 0
    while i < len(lines):
        line = lines[i]
        where = f'{name}:{i + 1}'
        if SETUP_START.match(line):
            end = i + 1
            while end < len(lines) and lines[end].strip() != '-->':
                end += 1
            if end == len(lines):
                raise DirectiveError(f'{where}: setup comment is not closed by a line "-->"')
            blocks.append(Block(name, i + 1, 'python', '\n'.join(lines[i + 1:end]) + '\n', hidden=True))
            i = end + 1
            continue
        directive = DIRECTIVE.match(line)
        if directive:
            kind, rest = directive.group(1), directive.group(2).strip()
            if kind == 'skip':
                if not rest:
                    raise DirectiveError(f'{where}: skip needs a reason')
                pending['skip'] = rest
            elif kind == 'parse-only':
                pending['parse_only'] = True
            else:
                pending['substitutions'] += _parse_substitutions(rest, where)
            i += 1
            continue
        fence = FENCE.match(line)
        if fence:
            indent, ticks, language = fence.groups()
            end = i + 1
            while end < len(lines) and not re.match(rf'^\s*{ticks}\s*$', lines[end]):
                end += 1
            body = [text[len(indent):] if text.startswith(indent) else text for text in lines[i + 1:end]]
            block = Block(name, i + 1, language.lower(), '\n'.join(body) + '\n', **pending)
            if block.parse_only and block.language != 'bash':
                raise DirectiveError(f'{where}: parse-only is for bash blocks')
            blocks.append(block)
            pending = dict(skip=None, parse_only=False, substitutions=[])
            i = end + 1
            continue
        if line.strip() and any((pending['skip'], pending['parse_only'], pending['substitutions'])):
            raise DirectiveError(f'{where}: a directive must come right before a fenced block')
        i += 1
    return blocks


def shell_commands(code: str) -> list[str]:
    """A bash block's commands: comments dropped, backslash continuations joined."""
    commands, current = [], ''
    for raw in code.splitlines():
        text = raw.rstrip()
        if not current and (not text.strip() or text.lstrip().startswith('#')):
            continue
        if text.endswith('\\'):
            current += text[:-1] + ' '
            continue
        commands.append((current + text).strip())
        current = ''
    if current.strip():
        commands.append(current.strip())
    return commands


# ---------------------------------------------------------------- parse-only checks

class _ArgumentsParsed(Exception):
    def __init__(self, namespace):
        super().__init__('parsed')
        self.namespace = namespace


def check_command(command: str, *, cwd: Path) -> None:
    """Check one shell command without running it: its script exists, argparse accepts its
    arguments, and every configs/*.py argument loads (with the command's --cfg-options)."""
    words = shlex.split(command, comments=True)
    while words and re.match(r'^[A-Z_][A-Z0-9_]*=', words[0]):   # leading VAR=value
        words = words[1:]
    if not words:
        return
    if words[0] in ('bash', 'sh'):
        script = cwd / words[1]
        if not script.is_file():
            raise FileNotFoundError(f'script not found: {words[1]}')
        return
    if words[0] not in ('python', 'python3'):
        raise ValueError(f'parse-only checks python and bash commands only, got: {command}')
    if words[1] == '-m':
        raise ValueError(f'parse-only cannot check "python -m": {command}')
    script, args = words[1], words[2:]
    if not (cwd / script).is_file():
        raise FileNotFoundError(f'script not found: {script}')
    namespace = _parse_with_script(cwd / script, args)
    options = getattr(namespace, 'cfg_options', None)
    for value in [*args, *vars(namespace).values()]:
        if isinstance(value, str) and value.startswith('configs/') and value.endswith('.py'):
            _check_config(cwd / value, options)


def _parse_with_script(script: Path, args: list[str]):
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(parser, args_=None, namespace=None):
        raise _ArgumentsParsed(original(parser, args_, namespace))

    argparse.ArgumentParser.parse_args = parse_and_stop
    argv, path = sys.argv, list(sys.path)
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.parent))
    try:
        runpy.run_path(str(script), run_name='__main__')
    except _ArgumentsParsed as parsed:
        return parsed.namespace
    except SystemExit as stop:
        raise ValueError(f'{script.name} refused the arguments {args} (exit {stop.code})') from None
    finally:
        argparse.ArgumentParser.parse_args = original
        sys.argv, sys.path[:] = argv, path
    raise ValueError(f'{script.name} ran to the end without parsing arguments with argparse')


def _check_config(path: Path, options) -> None:
    from vmem.utils.config_check import check_registered_types
    from vmem.utils.runner_args import load_config
    cfg = load_config(str(path), options)
    check_registered_types(cfg, config_path=str(path))


# ---------------------------------------------------------------- running a page

def run_block(block: Block, namespace: dict, *, cwd: Path) -> None:
    code = block.runnable_code()
    if block.language == 'python':
        exec(compile(code, block.where(), 'exec'), namespace)
        return
    commands = shell_commands(code)
    if block.parse_only:
        for command in commands:
            check_command(command, cwd=cwd)
        return
    for command in commands:
        if NEVER_RUN_UNMARKED.match(command):
            raise ValueError(f'{block.where()}: "{command}" must not run in the tests; '
                             'mark its block <!-- example: skip REASON -->')
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ['PATH']]))
    result = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', code], cwd=cwd, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'{block.where()}: bash exited {result.returncode}\n'
                           f'{result.stdout[-3000:]}\n{result.stderr[-3000:]}')


def run_page(page: Path, cwd: Path, *, name: str) -> int:
    os.chdir(cwd)
    sys.path.insert(0, str(cwd))
    namespace: dict = {'__name__': '__docs_example__'}
    for block in parse_page(page, name=name):
        if not block.runs:
            continue
        try:
            run_block(block, namespace, cwd=cwd)
        except BaseException:  # noqa: BLE001 - report every failure with the page and line
            print(f'FAILED: {block.where()} ({block.language}{", hidden setup" if block.hidden else ""})',
                  file=sys.stderr)
            traceback.print_exc()
            return 1
        print(f'ok: {block.where()}', flush=True)
    return 0


if __name__ == '__main__':
    page_arg, scratch_arg, name_arg = sys.argv[1:4]
    sys.exit(run_page(Path(page_arg).resolve(), Path(scratch_arg).resolve(), name=name_arg))
