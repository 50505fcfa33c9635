"""The training loop, sampling, held-out loss and argument parsing, each against an independent computation."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from common import (SCRIPTS, harness, load_script, run_main, loss_lines, oracle_for_script, random_model, record_lossFun,
                    saved_params, small_args, greedy_oracle, zero_state_of)

LAYERS = {'min_char_rnn.py': 1, 'rnn3.py': 3}


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('length, starts', [(51, [0, 25, 0, 25, 0]), (50, [0, 0, 0, 0, 0]), (77, [0, 25, 50, 0, 25])])
def test_chunks_of_seq_length_walk_the_text_and_wrap_with_a_fresh_state(script, length, starts, tmp_path, capsys):
    """Iteration n trains inputs text[p:p+25] and targets text[p+1:p+26]; at the end of the text p and h reset."""
    text = ''.join(chr(97 + (i * 7) % 26) for i in range(length))
    m = load_script(script)
    calls = record_lossFun(m)
    run_main(m, small_args(script, tmp_path, f'--max_iters={len(starts)}', text=text))
    codes = np.array([sorted(set(text)).index(ch) for ch in text])
    assert [len(c[0]) for c in calls] == [25] * len(starts)
    for n, (p, (inputs, targets, hprev, _, _)) in enumerate(zip(starts, calls)):
        assert list(inputs) == list(codes[p:p + 25]) and list(targets) == list(codes[p + 1:p + 26]), n
        if p == 0:
            assert not hprev.any(), f'iteration {n} starts the text: h is reset'
        else:
            assert np.array_equal(hprev, calls[n - 1][4]), f'iteration {n} carries h from iteration {n - 1}'


@pytest.mark.parametrize('script', SCRIPTS)
def test_the_sample_every_print_every_starts_from_hprev_and_the_chunks_first_character(script, tmp_path, capsys):
    """The listing samples with sample(hprev, inputs[0], 200) just before lossFun of the same iteration."""
    m = load_script(script)
    calls, sample = record_lossFun(m), m.sample
    samples = []
    m.sample = lambda h, seed_ix, n, *a: samples.append((h.copy(), seed_ix, n)) or sample(h, seed_ix, n, *a)
    run_main(m, small_args(script, tmp_path, '--max_iters=7', '--print_every=3', '--sample_length=11'))
    assert len(samples) == 3
    for (h, seed_ix, n), (inputs, _, hprev, _, _) in zip(samples, calls[::3]):
        assert seed_ix == inputs[0] and n == 11 and np.array_equal(h, hprev)
    assert calls[3][2].any(), 'the third sample starts from a state that is not zero'


@pytest.mark.parametrize('script', SCRIPTS)
def test_printed_loss_is_the_smoothed_loss_recurrence(script, tmp_path, capsys):
    m = load_script(script)
    calls = record_lossFun(m)
    run_main(m, small_args(script, tmp_path, '--max_iters=6', '--print_every=1', '--sample_length=5'))
    printed = [loss for _, loss in loss_lines(capsys.readouterr().out)]
    smooth, want = 25 * math.log(m_vocab(tmp_path)), []
    for *_, loss, _ in calls:
        smooth = 0.999 * smooth + 0.001 * loss
        want.append(smooth)
    assert len(printed) == 6 and np.allclose(printed, want, rtol=0, atol=2e-6), (printed, want)


def m_vocab(tmp_path):
    return len(set((tmp_path / 'input.txt').read_text()))


@pytest.mark.parametrize('script', SCRIPTS)
def test_sample_at_near_zero_temperature_is_the_oracles_argmax_decoding_from_h(script):
    """On random weights (chaotic, so any slip in the state shows) with a different bias per layer."""
    rng = np.random.default_rng(16 if script == 'lstm.py' else 12)
    m, params, hprev = random_model(script, LAYERS.get(script, 1), 8, 6, rng, scale=0.8)
    if script == 'lstm.py':                      # its gates settle on one character unless pushed harder
        params = [p * 5 if k in (0, 2) else p for k, p in enumerate(params)]   # Wxh, Why
    ixes, h = m.sample(hprev, 4, 40, params, np.random.default_rng(0), temperature=1e-9)
    assert ixes == greedy_oracle(script, params, [4], 40, h=hprev)
    assert len(set(ixes)) > 4


def random_weights(path, scale, **set_to):
    """A checkpoint's weights and biases (not Adagrad's memory) made random (randn * scale), or set as given."""
    rng = np.random.default_rng(9)
    with np.load(path, allow_pickle=False) as ck:
        arrays = {k: ck[k] for k in ck.files}
    for k in arrays:
        if k[0] in 'Wb':
            arrays[k] = set_to[k] if k in set_to else rng.standard_normal(arrays[k].shape) * scale
    np.savez(path, **arrays)


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('how', ['--generate=30', '--lines=2'])
def test_sampling_uses_the_dtype_the_checkpoint_records(script, how, tmp_path, capsys):
    """A float64 model sampled by a script whose top says float32 (and by one told --dtype=float32)."""
    args = small_args(script, tmp_path, '--max_iters=1')
    run_main(load_script(script), args + ['--dtype=float64'])
    for given, want in ([], np.float64), (['--dtype=float32'], np.float32):
        m, seen = load_script(script), set()
        sample = m.sample
        m.sample = lambda h, ix, n, params, *a: seen.update([h.dtype, *(p.dtype for p in params)]) or sample(
            h, ix, n, params, *a)
        run_main(m, args + [how, *given])
        assert seen == {np.dtype(want)}, seen


@pytest.mark.parametrize('script', SCRIPTS)
def test_generate_after_a_prime_continues_from_the_state_the_prime_leaves(script, tmp_path, capsys):
    """--temperature near 0 makes sampling argmax decoding, which the oracle can redo; the saved weights
    are made random first, so that a wrong state after the prime changes what is generated."""
    args = small_args(script, tmp_path, '--max_iters=1', '--dtype=float64')
    run_main(load_script(script), args)
    path = tmp_path / 'out' / 'ck.npz'
    random_weights(path, {'lstm.py': 5.0, 'gru.py': 3.0}.get(script, 0.8))   # gates: varied only if larger
    capsys.readouterr()
    m = load_script(script)
    run_main(m, args + ['--generate=40', '--prime=the qu', '--temperature=1e-9'])
    text = capsys.readouterr().out
    params, meta = saved_params(m, path)
    prime_ix = [meta['chars'].index(ch) for ch in 'the qu']
    want = ''.join(meta['chars'][ix] for ix in greedy_oracle(script, params, prime_ix, 40))
    assert text == 'the qu' + want + '\n' and len(set(want)) > 3


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('args, want', [(['--lines=3'], 'a\na\na\n'),
                                        (['--lines=2', '--prime=a\n'], 'a\na\n'),      # the prime's line counts
                                        (['--generate=6', '--lines=3'], 'a\na\na\n'),  # a piece of exactly 3 lines
                                        (['--generate=5', '--lines=3'], 'a\na\na\n'),
                                        (['--generate=3'], 'a\na\n')])
def test_lines_ends_after_exactly_k_lines_counting_those_of_the_prime(script, args, want, tmp_path, capsys):
    """A hand-made model that after 'a' says a newline and after a newline 'a', one unit a layer."""
    common = small_args(script, tmp_path, '--max_iters=1', '--hidden_size=1', text='a\n' * 50)
    run_main(load_script(script), common)
    path = tmp_path / 'out' / 'ck.npz'
    gated = {'lstm.py': [[9, 9], [-9, -9], [9, 9], [-3, 3]], 'gru.py': [[0, 0], [-9, -9], [-3, 3]]}   # i, o open,
    Wxh = np.array(gated.get(script, [[-3, 3]]), float)   # f and z shut: h follows the candidate as the tanh
    random_weights(path, 0, Wxh=Wxh, Wxh2=np.array([[3.0]]), Wxh3=np.array([[3.0]]), Why=np.array([[10.0], [-10.0]]))
    capsys.readouterr()
    run_main(load_script(script), common + args + ['--temperature=1e-9'])
    assert capsys.readouterr().out == want


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('per_line', [False, True])
def test_held_out_loss_is_the_mean_loss_per_predicted_character(script, per_line):
    rng = np.random.default_rng(3)
    m, params, _ = random_model(script, LAYERS.get(script, 1), 6, 5, rng, scale=0.7)
    m.seq_length, m.per_line = 7, per_line
    zero = zero_state_of(script, params)
    if per_line:
        val = [np.concatenate(([4], rng.integers(0, 4, k), [4])) for k in (3, 9, 1)]
        total = sum(oracle_for_script(script, s[:-1], s[1:], zero, params)[0] for s in val)
        want = total / sum(len(s) - 1 for s in val)
    else:
        val = rng.integers(0, 5, 30)                            # chunks of 7 characters, carried state, last one short
        h, total = zero, 0.0
        for i in range(0, 29, 7):
            chunk = val[i:i + 8]
            loss, _, h = oracle_for_script(script, chunk[:-1], chunk[1:], h, params)
            total += loss
        want = total / 29
    run = SimpleNamespace(m=m, val_data=val, params=params, n=7, val_iter=None)
    m.eval_every = 7
    harness.held_out(run)
    assert run.val_iter == 7 and abs(run.val_loss - want) < 1e-12


PARSED = [('--resume=1', 'resume', True), ('--resume=0', 'resume', False), ('--resume=False', 'resume', False),
          ('--resume=TRUE', 'resume', True), ('--learning_rate=3e-3', 'learning_rate', 0.003),
          ('--prime=a=b', 'prime', 'a=b'), ('--seq_length=9', 'seq_length', 9)]


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('arg, name, value', PARSED)
def test_command_line_values_are_typed_as_the_setting_is(script, arg, name, value):
    blocks = harness.read_block(load_script(script)) + harness.read_block(harness)   # the script's, the run options
    kinds = {k: harness.KIND.get(k, float) for k in [n for _, n, _ in blocks if n]}   # forget_bias: a float
    assert harness.parse(arg, [], kinds) == (name, value) and type(harness.parse(arg, [], kinds)[1]) is type(value)


@pytest.mark.parametrize('script', SCRIPTS)
def test_checkpoints_are_written_every_checkpoint_every_iterations_and_at_the_end(script, tmp_path, capsys, monkeypatch):
    m = load_script(script)
    saved, save = [], harness.save_checkpoint
    monkeypatch.setattr(harness, 'save_checkpoint', lambda run: saved.append((run.n, run.p)) or save(run))
    run_main(m, small_args(script, tmp_path, '--max_iters=25', '--checkpoint_every=10'))
    assert saved == [(10, 250), (20, 500), (25, 625)]


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('bad', [math.inf, math.nan])
def test_a_loss_that_is_not_finite_stops_the_run_before_the_update(script, bad, tmp_path, capsys):
    m = load_script(script)
    lossFun, count = m.lossFun, []

    def breaking(inputs, targets, hprev, params):
        loss, grads, h = lossFun(inputs, targets, hprev, params)
        count.append(1)
        return (bad if len(count) == 4 else loss), grads, h
    m.lossFun = breaking
    with pytest.raises(SystemExit) as e:
        run_main(m, small_args(script, tmp_path, '--max_iters=10'))
    assert f'loss became {bad} at iteration 3; the last checkpoint is kept' in str(e.value)
    assert not (tmp_path / 'out' / 'ck.npz').exists()


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('clip', [0.05, 0])
def test_the_log_records_the_gradients_norm_and_the_fraction_clipping_changes_on_printing_iterations(script, clip,
                                                                                                     tmp_path, capsys):
    """grad_norm is the 2-norm of the whole gradient before clipping; clipped_fraction the share of its entries
    beyond [-clip, clip] (0 with clip = 0); both only on the rows of printing iterations."""
    m = load_script(script)
    grads, lossFun = [], m.lossFun

    def recording(*args):
        loss, g, h = lossFun(*args)
        grads.append(np.concatenate([x.ravel() for x in g]).astype(np.float64))   # before update clips it
        return loss, g, h
    m.lossFun = recording
    run_main(m, small_args(script, tmp_path, '--max_iters=7', '--print_every=3', f'--clip={clip}', '--dtype=float64',
                      '--val_fraction=0.2'))
    rows = [row.split(',') for row in (tmp_path / 'out' / 'ck.csv').read_text().splitlines()]
    assert rows[0][5:] == ['grad_norm', 'clipped_fraction'] and [row[0] for row in rows[1:]] == ['0', '3', '6', '7']
    for row, n in zip(rows[1:], [0, 3, 6]):
        g = grads[n]
        want = np.mean(np.abs(g) > clip) if clip else 0
        assert float(row[5]) == pytest.approx(np.sqrt(g @ g), rel=1e-5) and float(row[6]) == pytest.approx(want, rel=1e-5)
        assert clip == 0 or 0 < want < 1
    assert rows[-1][5:] == ['', ''], 'the closing held-out row has no gradient'
