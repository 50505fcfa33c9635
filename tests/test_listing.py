"""The scripts as a student reads and uses them beside the paper: run alone (no harness.py), the block at the
top edited as Python allows, lossFun imported and called with the listing's arguments, the gradient check."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from common import (ROOT, SCRIPTS, TEXT, ck_meta, harness, listing, load_script, oracle_for_script, random_model,
                    run_path)

SMALL_TOP = {'min_char_rnn.py': dict(hidden_size='12', max_iters='301'),
             'rnn3.py': dict(hidden_size='10', num_layers='2', max_iters='101'),
             'lstm.py': dict(hidden_size='8', max_iters='201'), 'gru.py': dict(hidden_size='8', max_iters='201')}
LAYERS = {'min_char_rnn.py': 1, 'rnn3.py': 3}


def copy_script(folder, script, lines=None, with_harness=True):
    """The script in folder (with input.txt, and harness.py unless with_harness is False), each setting named in
    lines given the new text of its line at the top."""
    source = open(os.path.join(ROOT, script), encoding='utf-8').read()
    for name, line in (lines or {}).items():
        source, count = re.subn(rf'^{name} = .*$', line.replace('\\', r'\\'), source, count=1, flags=re.M)
        assert count == 1, name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / script).write_text(source, encoding='utf-8')
    (folder / 'input.txt').write_text(TEXT, encoding='utf-8')
    if with_harness:
        (folder / 'harness.py').write_bytes(open(os.path.join(ROOT, 'harness.py'), 'rb').read())
    return folder / script


def small(script):
    return {k: f'{k} = {v}' for k, v in SMALL_TOP[script].items()}


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_script_copied_alone_runs_the_listings_loop_writes_nothing_and_prints_what_it_prints_with_harness(
        script, tmp_path):
    alone = copy_script(tmp_path / 'alone', script, small(script), with_harness=False)
    before = listing(tmp_path / 'alone')
    r = run_path(alone, cwd=tmp_path / 'alone')
    assert r.returncode == 0, r.stderr
    assert listing(tmp_path / 'alone') == before, 'alone, a script writes no file'
    note = r.stderr.strip().splitlines()
    assert len(note) == 1 and 'harness.py' in note[0] and 'checkpoints' in note[0] and 'command line' in note[0]
    iters = [int(n) for n in re.findall(r'^iter (\d+), loss: ', r.stdout, re.M)]
    assert iters == list(range(0, int(SMALL_TOP[script]['max_iters']), 100))
    with_harness = copy_script(tmp_path / 'with', script, small(script))
    h = run_path(with_harness, cwd=tmp_path / 'with')
    assert h.returncode == 0 and os.path.exists(tmp_path / 'with' / 'out' / f'{script[:-3]}.npz'), h.stderr
    assert r.stdout == h.stdout, 'the same transcript, with harness.py or without'


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('args, lines, words', [(['--max_iters=5'], {}, 'the command line needs harness.py'),
                                                ([], {'per_line': 'per_line = True'}, 'per_line needs harness.py'),
                                                ([], {'input_file': "input_file = 'gone.txt'"}, 'gone.txt')])
def test_a_script_alone_refuses_what_needs_harness_and_bad_input_in_one_line(script, args, lines, words, tmp_path):
    path = copy_script(tmp_path, script, dict(small(script), **lines), with_harness=False)
    r = run_path(path, *args, cwd=tmp_path)
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 1 and 'Traceback' not in r.stderr and r.stdout == ''
    assert last.startswith(f'{script}: error: ') and words in last, r.stderr


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('with_harness', [True, False])
def test_without_numpy_a_script_says_how_to_install_it_in_one_line(script, with_harness, tmp_path):
    path = copy_script(tmp_path / 'run', script, with_harness=with_harness)
    (tmp_path / 'site').mkdir()
    (tmp_path / 'site' / 'sitecustomize.py').write_text("import sys\nsys.modules['numpy'] = None\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / 'site'))
    r = subprocess.run([sys.executable, str(path), '--max_iters=1'][:3 if with_harness else 2], cwd=tmp_path / 'run',
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [
        f'{script}: error: needs NumPy: python -m pip install numpy'], r.stderr


EDITED = {'hidden_size': 'hidden_size=7', 'seq_length': 'seq_length\t=\t9\t# my own words',
          'max_iters': 'max_iters = 3 * 10**1', 'learning_rate': 'learning_rate = 1e-1   # the appendix value',
          'seed': '# seed = 1337\nseed = (\n    5)'}


@pytest.mark.parametrize('script', SCRIPTS)
def test_every_assignment_python_accepts_at_the_top_is_a_setting_and_a_commented_one_is_neither(script, tmp_path):
    path = copy_script(tmp_path, script, dict(small(script), **EDITED))
    source = open(path, encoding='utf-8').read()   # and a line moved: print_every after checkpoint_every
    line = re.search(r'^print_every = .*\n', source, re.M).group(0)
    source = source.replace(line, '', 1)
    source = re.sub(r'^(checkpoint_every = .*\n)', lambda m: m.group(1) + line.replace('100 ', '10  '), source, flags=re.M)
    open(path, 'w', encoding='utf-8').write(source)
    r = run_path(path, '--help', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    shown = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(r'^  --(\w+)=(\S*) +(.*)$', r.stdout, re.M)}
    assert shown['hidden_size'][0] == '7' and shown['seq_length'] == ('9', 'my own words')
    assert shown['max_iters'][0] == '30' and shown['learning_rate'] == ('0.1', 'the appendix value')
    assert shown['seed'][0] == '5' and shown['print_every'][0] == '10'
    headings = [line for line in r.stdout.splitlines() if line.endswith(':') and not line.startswith(' ')]
    assert not any('seed' in h for h in headings) and len(headings) == 3, headings   # the two groups, run options
    assert 'seed = 1337' not in r.stdout
    r = run_path(path, cwd=tmp_path)
    config = ck_meta(tmp_path / 'out' / f'{script[:-3]}.npz')['config']
    assert r.returncode == 0 and r.stdout.count('iter ') == 3, r.stderr
    assert (config['hidden_size'], config['seq_length'], config['max_iters'], config['learning_rate'],
            config['seed'], config['print_every']) == (7, 9, 30, 0.1, 5, 10)


@pytest.mark.parametrize('script', SCRIPTS)
def test_read_block_lists_names_in_order_with_their_comments_and_skips_commented_out_assignments(script, tmp_path):
    path = copy_script(tmp_path, script, {'clip': 'clip=2.0# tight\n#clip = 5.0\n# a heading of my own'})
    block = harness.read_block(load_script(script, str(tmp_path)))
    names = [name for _, name, _ in block if name]
    before = 'forget_bias' if script == 'lstm.py' else 'learning_rate'   # the setting above clip's line
    assert names.index('clip') == names.index(before) + 1 and names.count('clip') == 1
    at = [entry for entry in block if entry[1] == 'clip'][0]
    assert at == ('', 'clip', 'tight') and block[block.index(at) + 1] == ('a heading of my own', '', '')
    assert open(path, encoding='utf-8').read().count('#clip = 5.0') == 1


@pytest.mark.parametrize('script', SCRIPTS)
def test_read_block_takes_several_names_a_line_an_indented_heading_and_a_comment_after_a_value_on_two_lines(script,
                                                                                                        tmp_path):
    copy_script(tmp_path, script, {'clip': 'clip = 5.0\nwarmup, decay = 10, 0.5   # two of mine\n    # my group\n'
                                           'patience = (\n    3)   # three'})
    block = harness.read_block(load_script(script, str(tmp_path)))
    at = block.index(('', 'clip', ''))
    assert block[at + 1:at + 5] == [('', 'warmup', 'two of mine'), ('', 'decay', 'two of mine'),
                                    ('my group', '', ''), ('', 'patience', 'three')], block[at:at + 5]


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_setting_really_deleted_from_the_block_still_ends_in_the_line_that_names_it(script, tmp_path):
    path = copy_script(tmp_path, script, {'clip': '# clip = 5.0'})
    r = run_path(path, '--max_iters=2', cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == (
        f'{script}: error: the setting clip is missing from the block at the top of {script}: put its line back')


@pytest.mark.parametrize('script', SCRIPTS)
def test_lossFun_takes_the_listings_arguments_lists_of_ints_and_a_column_hprev(script):
    rng = np.random.default_rng(3)
    V, H, T = 9, 6, 7
    m, params, hprev = random_model(script, LAYERS.get(script, 1), H, V, rng)
    inputs, targets = [int(i) for i in rng.integers(0, V, T)], [int(i) for i in rng.integers(0, V, T)]
    want_loss, want_grads, want_h = oracle_for_script(script, np.array(inputs), np.array(targets), hprev, params)
    for h in (hprev, hprev[..., None], hprev.tolist()):         # (H,) or the listing's (H, 1); a list too
        loss, grads, last = m.lossFun(inputs, targets, h, params)
        assert abs(loss - want_loss) < 1e-10 and last.shape == np.shape(hprev)
        assert all(np.allclose(g, w, rtol=0, atol=1e-10) for g, w in zip(grads, want_grads))
        np.testing.assert_allclose(last, want_h, rtol=0, atol=1e-10)


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('change', ['targets', 'hprev', 'nested'])
def test_lossFun_refuses_other_shapes_in_one_line_that_names_them(script, change):
    rng = np.random.default_rng(4)
    m, params, hprev = random_model(script, LAYERS.get(script, 1), 5, 6, rng)
    inputs, targets = [1, 2, 3], [2, 3, 4]
    args = dict(targets=(inputs, targets[:2], hprev), hprev=(inputs, targets, np.zeros(hprev.size + 1)),
                nested=([inputs], [targets], hprev))[change]
    with pytest.raises(ValueError) as e:
        m.lossFun(*args, params)
    shape = str(np.shape(hprev))
    assert str(e.value) == (f'lossFun takes inputs, targets of T ints each and hprev of shape {shape} or '
                            f'{shape[:-1].rstrip(",")}, 1), not {np.shape(args[0])}, {np.shape(args[1])} and '
                            f'{np.shape(args[2])}')


def gradient_check(path, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'gradient_check.py'), str(path), *args],
                          capture_output=True, text=True, cwd=ROOT)


@pytest.mark.parametrize('script', SCRIPTS)
def test_the_gradient_check_tool_passes_on_each_script_and_reports_every_array(script):
    r = gradient_check(script, '--checks=4')
    m = load_script(script)
    assert r.returncode == 0 and r.stderr == '', r.stderr
    reported = re.findall(r'^  (\w+) +largest relative error (\S+)$', r.stdout, re.M)
    assert [name for name, _ in reported] == list(m.shapes(5)) and all(float(e) < 1e-5 for _, e in reported)


@pytest.mark.parametrize('script, before, after, wrong', [
    ('min_char_rnn.py', 'dhraws[t] = dhraw = dtanhs[t] * dh ', 'dhraws[t] = dhraw = dh ', 'Wxh, Whh, bh'),
    ('rnn3.py', 'dWhy, dby = np.dot(dys.T, hs[-1, :-1])', 'dWhy, dby = np.dot(dys.T, hs[0, :-1])', 'Why')])
def test_the_gradient_check_tool_fails_loudly_on_a_wrong_gradient(script, before, after, wrong, tmp_path):
    source = open(os.path.join(ROOT, script), encoding='utf-8').read()
    assert before in source
    (tmp_path / script).write_text(source.replace(before, after), encoding='utf-8')
    r = gradient_check(tmp_path / script)
    assert r.returncode == 1 and r.stderr.strip() == (
        f'gradient_check.py: error: the gradient of {wrong} differs from central differences by more than 1e-05')
    assert r.stdout.count('FAILS') == len(wrong.split(', '))
