"""Training runs as in the paper: first loss, learning, sampling, printed format."""
import math
import re

import numpy as np
import pytest

from common import SCRIPTS, HARNESS, TEXT, load_script, run_main, loss_lines, run_script, script_params, small_args


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('dtype', ['float32', 'float64'])
def test_first_printed_loss_is_seq_length_times_ln_vocab_size(script, dtype, tmp_path, capsys):
    run_main(load_script(script), small_args(script, tmp_path, '--max_iters=1', f'--dtype={dtype}'))
    [(n, loss)] = loss_lines(capsys.readouterr().out)
    assert n == 0
    assert abs(loss - 25 * math.log(len(set(TEXT)))) < 1e-3


@pytest.mark.parametrize('script', SCRIPTS)
def test_training_on_repetitive_text_cuts_held_out_loss_tenfold(script, tmp_path, capsys):
    run_main(load_script(script), small_args(script, tmp_path, '--max_iters=3001', '--learning_rate=0.1',
                                        '--val_fraction=0.1', '--eval_every=3000', '--print_every=3000'))
    held_out = [float(x) for x in re.findall(r'held-out loss: ([\d.]+) nats/char', capsys.readouterr().out)]
    assert len(held_out) == 3                                  # at 0, 3000 and the end, 3001
    assert held_out[1] < held_out[0] / 10, held_out


@pytest.mark.parametrize('script', SCRIPTS)
def test_sample_gives_n_vocabulary_indices_the_same_for_the_same_seed(script):
    m = load_script(script)
    m.hidden_size, m.num_layers = 8, 2
    params = script_params(m, 11, np.random.default_rng(0))
    h = m.zero_state()
    a, h_after = m.sample(h, 3, 300, params, np.random.default_rng(5))
    b, _ = m.sample(h, 3, 300, params, np.random.default_rng(5))
    c, _ = m.sample(h, 3, 300, params, np.random.default_rng(6))
    assert len(a) == 300 and set(a) <= set(range(11)) and len(set(a)) > 5
    assert a == b and a != c
    assert not np.array_equal(h_after, h) and not h.any(), 'sample returns the new state, keeps the old'


@pytest.mark.parametrize('script, temperature', [(s, T) for s in SCRIPTS for T in (1.0, 0.5, 2.0)
                                                  if s in HARNESS or T == 0.5])   # the gated: the same lines
def test_sample_frequencies_follow_softmax_of_logits_over_temperature(script, temperature):
    m = load_script(script)
    m.hidden_size, m.num_layers, m.dtype = 4, 2, 'float64'
    params = [p * 0 for p in script_params(m, 3, np.random.default_rng(0))]
    params[-1][:] = np.log([0.2, 0.3, 0.5])        # by: with zero weights p = softmax(by / T)
    h = m.zero_state()
    ixes, _ = m.sample(h, 0, 100000, params, np.random.default_rng(1), temperature)
    want = np.exp(params[-1] / temperature) / np.exp(params[-1] / temperature).sum()
    np.testing.assert_allclose(np.bincount(ixes, minlength=3) / 100000, want, atol=0.006)


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_run_prints_loss_lines_and_samples_in_the_papers_format(script, tmp_path):
    r = run_script(script, *small_args(script, tmp_path, '--max_iters=250', '--sample_length=60'))
    assert r.returncode == 0, r.stderr
    assert [n for n, _ in loss_lines(r.stdout)] == [0, 100, 200]
    blocks = r.stdout.split('----\n')               # '', loss line, sample, loss line, sample, ...
    assert all(re.fullmatch(r'iter \d+, loss: \d+\.\d{6}( .*)?\n', b) for b in blocks[1::2])
    assert all(len(b) == 61 and set(b[:-1]) <= set(TEXT) for b in blocks[2::2])
    assert 'stopped at iteration 250' in r.stderr
    assert (tmp_path / 'out' / 'ck.npz').exists() and (tmp_path / 'out' / 'ck.csv').exists()


@pytest.mark.parametrize('script', SCRIPTS)
def test_weights_start_as_randn_times_0_01_and_biases_at_zero(script):
    """The paper's listing: np.random.randn(...) * 0.01 for Wxh, Whh, Why; zeros for bh, by (lstm.py: but the
    forget gate's block of bh, which starts at forget_bias)."""
    m = load_script(script)
    m.hidden_size, m.num_layers, m.forget_bias = 80, 3, 1.5
    params = script_params(m, 65, np.random.default_rng(0))
    weights = [p for p in params if p.ndim == 2]
    biases = [p for p in params if p.ndim == 1]
    assert (len(weights), len(biases)) == ((7, 4) if script == 'rnn3.py' else (3, 2))
    for W in weights:
        assert abs(W.mean()) < 0.001 and 0.0095 < W.std() < 0.0105, (W.shape, W.std())
    if script == 'lstm.py':                      # blocks i, f, o, g of 80 rows
        assert np.all(biases[0][80:160] == 1.5) and not biases[0][:80].any() and not biases[0][160:].any()
        biases = biases[1:]
    assert all(not b.any() for b in biases)
