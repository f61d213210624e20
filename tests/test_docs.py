"""The docs cannot rot: every example in README.md and docs/ runs, the site builds strictly,
and the README stays a front door. The rules for examples are in tests/docs_examples.py."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from docs_examples import Block, DirectiveError, check_command, parse_page, shell_commands

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / 'docs'
RUNNER = Path(__file__).with_name('docs_examples.py')
PAGES = [ROOT / 'README.md', *sorted(DOCS.rglob('*.md'))]
README_MAX_LINES = 250


def page_name(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.fixture(scope='session')
def example_files(tmp_path_factory):
    """What every page's scratch folder starts with: clip.mp4, frames/, image.jpg."""
    import cv2
    from vmem.video import VideoWriter
    folder = tmp_path_factory.mktemp('doc_fixtures')
    (folder / 'frames').mkdir()
    rng = np.random.default_rng(0)
    background = rng.integers(40, 90, size=(96, 128, 3), dtype=np.uint8)
    with VideoWriter(str(folder / 'clip.mp4'), fps=12) as writer:
        for index in range(24):
            frame = background.copy()
            frame[30:60, 10 + 3 * index:40 + 3 * index] = (220, 60, 40)   # a red box moving right
            frame[50:80, 90 - 2 * index:110 - 2 * index] = (40, 200, 90)  # a green one moving left
            writer.write(frame)
            cv2.imwrite(str(folder / 'frames' / f'{index:06d}.jpg'), frame[:, :, ::-1])
    shutil.copy(folder / 'frames' / '000000.jpg', folder / 'image.jpg')
    return folder


def scratch_for(tmp_path: Path, example_files: Path) -> Path:
    for name in ('configs', 'tools', 'demo'):
        (tmp_path / name).symlink_to(ROOT / name)
    for item in example_files.iterdir():
        target = tmp_path / item.name
        shutil.copytree(item, target) if item.is_dir() else shutil.copy(item, target)
    return tmp_path


@pytest.mark.parametrize('page', PAGES, ids=page_name)
def test_page_examples_run(page, tmp_path, example_files):
    blocks = parse_page(page, name=page_name(page))
    if not any(block.runs for block in blocks):
        pytest.skip('no runnable examples')
    scratch = scratch_for(tmp_path, example_files)
    env = {'PYTHONPATH': str(ROOT), 'PATH': f'{Path(sys.executable).parent}:/usr/bin:/bin',
           'OMP_NUM_THREADS': '1', 'HOME': str(tmp_path), 'MPLBACKEND': 'Agg'}
    result = subprocess.run([sys.executable, str(RUNNER), str(page), str(scratch), page_name(page)],
                            cwd=scratch, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]


def test_skipped_examples_say_why():
    skipped = [(block.where(), block.skip) for page in PAGES for block in parse_page(page, name=page_name(page))
               if block.skip is not None]
    for where, reason in skipped:
        assert len(reason) >= 10, f'{where}: skip reason too short: {reason!r}'
    print('\n'.join(f'{where}: skipped, {reason}' for where, reason in skipped))


def test_readme_is_a_front_door():
    lines = (ROOT / 'README.md').read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f'README.md has {len(lines)} lines (at most {README_MAX_LINES})'


def _slug(heading: str) -> str:
    from markdown.extensions.toc import slugify
    return slugify(heading, '-')


def _anchors(page: Path) -> set[str]:
    text = re.sub(r'^```.*?^```', '', page.read_text(), flags=re.S | re.M)
    return {_slug(match) for match in re.findall(r'^#{1,6}\s+(.+?)\s*$', text, flags=re.M)}


def test_readme_links_resolve():
    """mkdocs checks the links inside docs/; this checks the README's, anchors included."""
    text = (ROOT / 'README.md').read_text()
    text = re.sub(r'^```.*?^```', '', text, flags=re.S | re.M)
    broken = []
    for target in re.findall(r'\]\(([^)\s]+)\)', text):
        if re.match(r'^[a-z]+://', target):
            continue
        path, _, anchor = target.partition('#')
        file = (ROOT / path) if path else ROOT / 'README.md'
        if not file.exists():
            broken.append(f'{target}: no such file')
        elif anchor and file.suffix == '.md' and anchor not in _anchors(file):
            broken.append(f'{target}: no heading #{anchor} in {path or "README.md"}')
    assert not broken, 'README.md has broken links:\n' + '\n'.join(broken)


def _mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    # Not -q: mkdocs counts warnings for --strict only when they are logged.
    env = dict(os.environ, NO_MKDOCS_2_WARNING='1')
    return subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--strict', '-f', str(config),
                           '-d', str(site)], capture_output=True, text=True, timeout=300, env=env)


def test_mkdocs_build_strict(tmp_path):
    result = _mkdocs_build(ROOT / 'mkdocs.yml', tmp_path / 'site')
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


# ---------------------------------------------------------------- the checks themselves can fail

def test_a_broken_link_fails_the_strict_build(tmp_path):
    config = tmp_path / 'mkdocs.yml'
    (tmp_path / 'docs').mkdir()
    (tmp_path / 'docs' / 'index.md').write_text('# Home\n\nSee [the page](missing.md).\n')
    config.write_text((ROOT / 'mkdocs.yml').read_text().split('\nnav:')[0] + '\nnav:\n  - Home: index.md\n')
    result = _mkdocs_build(config, tmp_path / 'site')
    assert result.returncode != 0 and 'missing.md' in result.stdout + result.stderr


def test_a_failing_example_names_its_page_and_line(tmp_path, example_files):
    page = tmp_path / 'page.md'
    page.write_text('# Page\n\n```python\nx = 1\n```\n\n```python\nassert x == 2, "API changed"\n```\n')
    (tmp_path / 'scratch').mkdir()
    scratch = scratch_for(tmp_path / 'scratch', example_files)
    result = subprocess.run([sys.executable, str(RUNNER), str(page), str(scratch), 'page.md'],
                            cwd=scratch, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert 'FAILED: page.md:7' in result.stderr and 'API changed' in result.stderr


def test_directives_are_parsed(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('\n'.join([
        '<!-- example: skip needs a CUDA GPU -->', '```bash', 'python tools/train.py a.py', '```',
        '<!-- example: sub 144 => 2 ; iter_3000 => iter_2 -->', '<!-- example: parse-only -->',
        '```bash', 'python x.py --n 144 \\', '    --ckpt iter_3000.pth  # comment', '```',
        '<!-- example: setup', 'y = 3', '-->', '```text', 'output', '```', '']))
    skipped, checked, setup, text = parse_page(page)
    assert skipped.skip == 'needs a CUDA GPU' and not skipped.runs
    assert checked.parse_only and shell_commands(checked.runnable_code()) == \
        ['python x.py --n 2      --ckpt iter_2.pth  # comment']
    assert setup.hidden and setup.code == 'y = 3\n' and setup.runs
    assert text.language == 'text' and not text.runs
    page.write_text('<!-- example: skip -->\n```bash\nls\n```\n')
    with pytest.raises(DirectiveError, match='reason'):
        parse_page(page)
    page.write_text('<!-- example: parse-only -->\nsome prose\n```bash\nls\n```\n')
    with pytest.raises(DirectiveError, match='right before'):
        parse_page(page)


def test_parse_only_refuses_a_wrong_flag_and_a_missing_config():
    check_command('python tools/train.py configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py '
                  '--cfg-options train_cfg.max_iters=2', cwd=ROOT)
    with pytest.raises(ValueError, match='refused the arguments'):
        check_command('python tools/train.py configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py --no-such-flag',
                      cwd=ROOT)
    with pytest.raises(FileNotFoundError, match='config file not found'):
        check_command('python tools/train.py configs/faster_rcnn/no_such_config.py', cwd=ROOT)
    with pytest.raises(Exception, match='no_such_key'):
        check_command('python tools/train.py configs/faster_rcnn/faster_rcnn_r10t_synthvid_tiny.py '
                      '--cfg-options no_such_key=1', cwd=ROOT)


def test_substitution_that_does_not_apply_is_an_error():
    block = Block('page.md', 3, 'bash', 'python tools/train.py a.py\n', substitutions=[('144', '2')])
    with pytest.raises(ValueError, match='does not occur'):
        block.runnable_code()
