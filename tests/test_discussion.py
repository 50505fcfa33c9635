"""The tools of docs/discussion.md: gradient_reach.py (dJ_t/dh_{t-k} against finite differences on tiny models)
and loss_vs_size.py (parameters counted by hand, held-out loss as the run printed it), and their command lines."""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from common import ROOT, SCRIPTS, GATED, TEXT, harness, ck_meta, load_tool, random_model, run_script, small_args, split_layers

LAYERS = {'min_char_rnn.py': 1, 'rnn3.py': 3}


def loss_at_t(script, params, codes, t, s=None, l=None, delta=None):
    """J_t = -log p_t(codes[t+1]), run step by step from a zero state; delta is added to h^l_s as soon as it is
    computed (so the layers above at step s read the changed state)."""
    Wxh, Whh, bh, Why, by = split_layers(script, params)
    h = [np.zeros(len(b)) for b in bh]
    for step in range(t + 1):
        below = np.eye(len(by))[codes[step]]
        for layer in range(len(Whh)):
            h[layer] = np.tanh(Wxh[layer].dot(below) + Whh[layer].dot(h[layer]) + bh[layer])
            if step == s and layer == l:
                h[layer] = h[layer] + delta
            below = h[layer]
    y = Why.dot(h[-1]) + by
    return -(y[codes[t + 1]] - np.log(np.exp(y).sum()))


def gated_loss_at_t(script, params, codes, t, s=None, row=None, delta=None):
    """J_t of lstm.py or gru.py, run step by step from a zero state with each gate's own equation; delta is added
    to h_s (row 0) or to c_s (row 1: LSTM, and h_s recomputed from it, o_s tanh(c_s)) as soon as it is computed."""
    Wxh, Whh, Why, bh, by = params
    H, sig = Whh.shape[1], lambda x: 1 / (1 + np.exp(-x))
    h, c = np.zeros(H), np.zeros(H)
    for step in range(t + 1):
        x = np.eye(len(by))[codes[step]]
        if script == 'lstm.py':
            a = Wxh.dot(x) + Whh.dot(h) + bh
            i, f, o, g = sig(a[:H]), sig(a[H:2 * H]), sig(a[2 * H:3 * H]), np.tanh(a[3 * H:])
            c = f * c + i * g + (delta if step == s and row == 1 else 0)
            h = o * np.tanh(c)
        else:
            a = Wxh.dot(x) + bh
            r, z = sig(a[:H] + Whh[:H].dot(h)), sig(a[H:2 * H] + Whh[H:2 * H].dot(h))
            g = np.tanh(a[2 * H:] + Whh[2 * H:].dot(r * h))
            h = z * h + (1 - z) * g
        h = h + (delta if step == s and row == 0 else 0)
    y = Why.dot(h) + by
    return -(y[codes[t + 1]] - np.log(np.exp(y).sum()))


@pytest.mark.parametrize('script', SCRIPTS)
def test_gradient_k_steps_back_equals_finite_differences_for_every_layer(script):
    """rnn3.py: every layer; lstm.py: h and the cell state c (a "layer" each); with finite differences."""
    rng = np.random.default_rng(3)
    m, params, _ = random_model(script, LAYERS.get(script, 1), 4, 5, rng, scale=0.8)
    codes, ts, K, eps = rng.integers(0, 5, 40), np.array([12, 25, 38]), 9, 1e-6
    t_tool = load_tool('gradient_reach.py')
    got = list(t_tool.backward(m, params, codes, ts, K))
    rows = LAYERS.get(script, 2 if script == 'lstm.py' else 1)
    assert len(got) == K + 1 and all(len(g) == rows for g in got)
    J = gated_loss_at_t if script in GATED else loss_at_t
    checked = 0
    for k in range(K + 1):
        for layer in range(rows):
            for i, t in enumerate(ts):
                want = [(J(script, params, codes, t, t - k, layer, eps * e)
                         - J(script, params, codes, t, t - k, layer, -eps * e)) / (2 * eps)
                        for e in np.eye(4)]
                np.testing.assert_allclose(got[k][layer][i], want, rtol=1e-5, atol=1e-9)
                checked += np.abs(want).max() > 1e-4
    assert checked > 0.8 * (K + 1) * rows * len(ts), 'most gradients are not negligible'
    r = t_tool.reach(m, params, codes, ts, K)
    assert r.shape == (K + 1, rows)
    assert np.allclose(r, [[np.linalg.norm(g[layer], axis=1).mean() for layer in range(rows)] for g in got])


def test_positions_are_spread_over_the_text_after_a_warm_up_and_before_the_last_target():
    t_tool = load_tool('gradient_reach.py')
    ts = t_tool.positions(1000, 50, 300)
    assert len(ts) == 300 and ts[0] == 50 + t_tool.WARM_UP and ts[-1] == 998 and np.all(np.diff(ts) > 0)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    out = {}
    for script in SCRIPTS:
        tmp = tmp_path_factory.mktemp(script[:-3])
        args = small_args(script, tmp, '--max_iters=30', '--hidden_size=5', *(['--num_layers=2'] * (script == 'rnn3.py')))
        assert run_script(script, *args).returncode == 0
        out[script] = tmp / 'out' / 'ck.npz'
    return out


def run_tool(name, *args, cwd=None):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'tools', name), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def assert_tool_error(r, name, message):
    """Exit 1, no traceback, and a last stderr line 'name: error: ...' that holds message."""
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 1 and 'Traceback' not in r.stderr and message in last, r.stderr
    assert last.startswith(f'{name}: error: ')


@pytest.mark.parametrize('script', SCRIPTS)
def test_the_table_has_a_row_per_k_and_a_norm_and_ratio_per_layer(script, trained):
    r = run_tool('gradient_reach.py', str(trained[script]), '--k=30', '--positions=100', '--chars=1000', cwd=trained[script].parent.parent)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()[2:]]
    layers = 2 if script in ('rnn3.py', 'lstm.py') else 1   # rnn3.py here: 2 layers; lstm.py: h and c
    assert [int(row[0]) for row in rows] == list(range(31)) and all(len(row) == 1 + 2 * layers for row in rows)
    assert all(float(row[2]) == 1 for row in rows[:1])
    for row in rows:
        for layer in range(layers):
            assert float(row[2 + 2 * layer]) == pytest.approx(float(row[1 + 2 * layer]) / float(rows[0][1 + 2 * layer]),
                                                              rel=5e-3, abs=1e-6)


@pytest.mark.parametrize('args, message', [
    (['missing.npz'], 'no checkpoint at missing.npz'),
    ([], 'give one or more CHECKPOINT'),
    (['CK', '--k=-1'], '--k must be a whole number from 0 to 1000'),
    (['CK', '--positions=x'], '--positions must be a whole number'),
    (['CK', '--chars=200'], 'need at least'),
    (['CK', '--out=reach.txt'], '--out is the figure to write'),
    (['CK', '--bogus=1'], "unknown option '--bogus=1'"),
    (['CK', '--text=missing.txt'], 'cannot read missing.txt as UTF-8 text'),
    (['README.md'], 'is not a usable saved model checkpoint (BadZipFile: File is not a zip file)'),
])
def test_bad_input_is_one_line_error(args, message, trained):
    ck = trained['min_char_rnn.py']
    r = run_tool('gradient_reach.py', *[str(ck) if a == 'CK' else os.path.join(ROOT, a) if a == 'README.md' else a
                                        for a in args], cwd=ck.parent.parent)
    assert_tool_error(r, 'gradient_reach.py', message)


def test_a_per_line_model_is_refused(tmp_path):
    names = 'hydrogen\nhelium\nlithium\n' * 20
    args = small_args('min_char_rnn.py', tmp_path, '--max_iters=5', '--per_line=True', text=names)
    assert run_script('min_char_rnn.py', *args).returncode == 0
    assert_tool_error(run_tool('gradient_reach.py', str(tmp_path / 'out' / 'ck.npz'), cwd=tmp_path), 'gradient_reach.py',
                      'is a per_line model')


def test_the_figure_is_written_when_matplotlib_is_installed(trained, tmp_path):
    pytest.importorskip('matplotlib')
    ck = trained['rnn3.py']
    r = run_tool('gradient_reach.py', str(ck), '--k=30', '--positions=50', '--chars=1000', f'--out={tmp_path / "reach.png"}', cwd=ck.parent.parent)
    assert r.returncode == 0 and (tmp_path / 'reach.png').read_bytes()[:4] == b'\x89PNG', r.stderr


@pytest.fixture(scope='module')
def sizes(tmp_path_factory):
    """Two small models with a held-out tail: (checkpoint, the held-out loss the run printed last)."""
    out = {}
    for script, hidden in (('min_char_rnn.py', 7), ('rnn3.py', 4), ('lstm.py', 3), ('gru.py', 5)):
        tmp = tmp_path_factory.mktemp(script[:-3])
        r = run_script(script, *small_args(script, tmp, '--max_iters=40', f'--hidden_size={hidden}', '--val_fraction=0.1',
                                           '--eval_every=20', *(['--num_layers=2'] * (script == 'rnn3.py'))))
        assert r.returncode == 0, r.stderr
        out[script] = tmp / 'out' / 'ck.npz', float(re.findall(r'held-out loss: ([\d.]+)', r.stdout)[-1])
    return out


def test_loss_vs_size_counts_the_weights_and_gives_the_last_held_out_loss(sizes, tmp_path):
    V = len(set(TEXT))
    r = run_tool('loss_vs_size.py', *(str(c) for c, _ in sizes.values()))
    rows = [line.split('|')[1:-1] for line in r.stdout.splitlines()[2:]]
    assert r.returncode == 0 and len(rows) == 4, r.stderr
    want = {'min_char_rnn.py': 7 * V + 7 * 7 + V * 7 + 7 + V,
            'rnn3.py': 4 * V + 4 * 4 + 2 * 4 * 4 + 2 * 4 + V * 4 + V,       # Wxh, Wxh2, Whh, Whh2, bh, bh2, Why, by
            'lstm.py': 4 * 3 * (V + 3 + 1) + V * 3 + V, 'gru.py': 3 * 5 * (V + 5 + 1) + V * 5 + V}   # a block a gate
    for row in rows:
        script = row[0].strip()
        assert int(row[2].replace(',', '')) == want[script] and int(row[3].replace(',', '')) == 40
        assert float(row[4]) == pytest.approx(sizes[script][1], abs=1e-4)
        assert float(row[5]) == pytest.approx(ck_meta(sizes[script][0])['smooth_loss'] / 25, abs=1e-4), 'per character'
    assert [int(row[2].replace(',', '')) for row in rows] == sorted(want.values()), 'rows by size'


@pytest.mark.parametrize('args, message', [
    (['missing.npz'], 'no checkpoint at missing.npz'),
    ([], 'give one or more CHECKPOINT'),
    (['NOVAL'], 'has no held-out loss'),
    (['CK', '--out=x.txt'], '--out is the figure to write'),
    (['CK', '--k=3'], "unknown option '--k=3'"),
])
def test_loss_vs_size_bad_input_is_one_line_error(args, message, sizes, trained):
    ck = {'CK': str(sizes['min_char_rnn.py'][0]), 'NOVAL': str(trained['min_char_rnn.py'])}
    assert_tool_error(run_tool('loss_vs_size.py', *(ck.get(a, a) for a in args)), 'loss_vs_size.py', message)


def test_loss_vs_size_draws_the_figure_when_matplotlib_is_installed(sizes, tmp_path):
    pytest.importorskip('matplotlib')
    r = run_tool('loss_vs_size.py', *(str(c) for c, _ in sizes.values()), f'--out={tmp_path / "size.png"}')
    assert r.returncode == 0 and (tmp_path / 'size.png').read_bytes()[:4] == b'\x89PNG', r.stderr


def test_loss_by_position_finds_the_share_of_the_ups_and_downs_that_the_text_explains(tmp_path):
    """A hand-built log: passes of 40 iterations (1,001 characters, seq_length 25), each pass lower than the last,
    a bump where the text is hard (iterations 20-29 of each pass) and, in a second log, as much noise again."""
    text = ('a' * 99 + '\n') * 10 + 'z'
    checkpoint = position_checkpoint(tmp_path, text, 25)
    iters = np.arange(0, 40 * 8, 2)
    bump = np.where((iters % 40 >= 20) & (iters % 40 < 30), 3.0, 0.0)
    noise = np.random.default_rng(0).standard_normal(len(iters))
    outputs = []
    for name, loss in (('clean', 50 - iters // 40 * 0.5 + bump), ('noisy', 50 + bump + noise * bump.std())):
        shutil.copy(checkpoint, tmp_path / f'{name}.npz')
        (tmp_path / f'{name}.csv').write_text('iter,smooth_loss,loss_per_char,val_loss_per_char,elapsed_s\n' + ''.join(
            f'{i},{x:.6f},{x / 25:.6f},,0\n' for i, x in zip(iters, loss)))
        r = run_tool('loss_by_position.py', str(tmp_path / f'{name}.csv'))
        assert r.returncode == 0, r.stderr
        outputs.append(r.stdout)
    share = [int(re.search(r'explains (\d+)%', out).group(1)) for out in outputs]
    assert outputs[0].startswith(f'{tmp_path / "clean.csv"}: 6 passes of 40 iterations (passes 2 to 7)') and share[0] == 100
    assert 35 <= share[1] <= 65, share            # the noise has the bump's variance: about half
    assert 'highest at character 500' in outputs[0] and 'swings -0.75 to +2.25' in outputs[0]
    r = run_tool('loss_by_position.py', str(tmp_path / 'clean.csv'), '--skip=6')
    assert r.returncode == 1 and r.stderr.strip() == ('loss_by_position.py: error: the log has 7 whole passes of 40 '
                                                      'iterations; need 8 (--skip=6)')


def position_checkpoint(tmp_path, text, seq_length):
    """A real checkpoint (one iteration of min_char_rnn.py) trained on text, for a hand-built log beside it."""
    r = run_script('min_char_rnn.py', *small_args('min_char_rnn.py', tmp_path, '--max_iters=1', '--print_every=1',
                                                  f'--seq_length={seq_length}', '--sample_length=1', text=text))
    assert r.returncode == 0, r.stderr
    return tmp_path / 'out' / 'ck.npz'


@pytest.mark.parametrize('length', [1000, 1001, 1002, 1025, 1026])
def test_loss_by_position_counts_the_iterations_of_a_pass_as_the_training_loop_does(tmp_path, length):
    """1,000 characters at seq_length 25 (a multiple): the loop trains at p = 0, 25, ... while p + 26 <= 1,000."""
    per_pass, p = 0, 0
    while p + 25 + 1 <= length:                  # the listing's loop, written out
        per_pass, p = per_pass + 1, p + 25
    shutil.copy(position_checkpoint(tmp_path, 'ab' * (length // 2) + 'a' * (length % 2), 25), tmp_path / 'log.npz')
    (tmp_path / 'log.csv').write_text(harness.HEADER + '\n' + ''.join(
        f'{i},{50 - i / 1000:.6f},2.0,,0,,\n' for i in range(0, 8 * per_pass, 3)))
    r = run_tool('loss_by_position.py', str(tmp_path / 'log.csv'))
    assert r.returncode == 0 and f'passes of {per_pass} iterations' in r.stdout, r.stdout + r.stderr


def write_log(path, evals):
    """A loss log with a held-out loss at each (iteration, loss) of evals, and a row without one between."""
    rows = [harness.HEADER]
    for n, val in evals:
        rows += [f'{n},50.0,2.0,{val},1.0,1.0,0.0', f'{n + 1},50.0,2.0,,1.1,,']
    path.write_text('\n'.join(rows) + '\n')
    return str(path)


def test_heldout_table_gives_each_labels_seed_mean_and_half_range_at_equal_iterations(tmp_path):
    a = write_log(tmp_path / 'a.csv', [(0, 4.0), (100, 2.0), (200, 1.5)])
    b = write_log(tmp_path / 'b.csv', [(0, 4.0), (100, 2.2), (200, 1.9)])
    c = write_log(tmp_path / 'c.csv', [(0, 4.5), (100, 3.0), (200, 2.5), (300, 2.0)])
    r = run_tool('heldout_table.py', f'{a}=gru', f'{b}=gru', f'{c}=rnn')
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == '| held-out loss (nats/char) | seeds | 0 | 100 | 200 |', 'the iterations all logs share'
    assert lines[2] == '| gru | 2 | 4.0000 +- 0.0000 | 2.1000 +- 0.1000 | 1.7000 +- 0.2000 |'
    assert lines[3] == '| rnn | 1 | 4.5000 | 3.0000 | 2.5000 |' and len(lines) == 4
    r = run_tool('heldout_table.py', f'{c}=rnn', '--iters=300')
    assert r.stdout.splitlines()[2] == '| rnn | 1 | 2.0000 |'
    assert_tool_error(run_tool('heldout_table.py', f'{a}=gru', '--iters=300'), 'heldout_table.py',
                      'has no held-out loss at iteration 300')
    assert_tool_error(run_tool('heldout_table.py', a), 'heldout_table.py', 'give one or more LOG.csv=label')
    assert_tool_error(run_tool('heldout_table.py', f'{c}=rnn', '--until=200', '--iters=300'), 'heldout_table.py',
                      'has no held-out loss at iteration 300')
