"""--per_line=True: one name per training sequence, as the names note trains them."""
import math
import os
import types

import numpy as np
import pytest

from common import (ROOT, SCRIPTS, assert_clean_error, harness, load_script, run_main, loss_lines, oracle_for_script, oracle_update,
                    record_lossFun, run_script, saved_params, script_params, small_args)

NAMES = 'helium\nneon\n\nargon\nkrypton\nxenon\nradon\noganesson\n'      # one empty line, skipped
LINES = [line for line in NAMES.split('\n') if line]


def per_line_args(script, tmp_path, *extra, text=NAMES):
    return small_args(script, tmp_path, '--per_line=True', '--dtype=float64', *extra, text=text)


@pytest.mark.parametrize('script', SCRIPTS)
def test_each_line_becomes_newline_line_newline(script):
    chars = sorted(set('ab\ncd\ne'))
    data = np.array([chars.index(ch) for ch in 'ab\n\ncd\ne'])   # an empty line, and no final newline
    nl = chars.index('\n')
    want = [[nl, chars.index('a'), chars.index('b'), nl], [nl, chars.index('c'), chars.index('d'), nl],
            [nl, chars.index('e'), nl]]
    assert [list(s) for s in harness.split_lines(data, nl)] == want


@pytest.mark.parametrize('script', SCRIPTS)
def test_every_pass_trains_each_line_once_from_a_zero_state_in_a_new_seeded_order(script, tmp_path, capsys):
    def run(seed):
        m = load_script(script)
        calls = record_lossFun(m)
        run_main(m, per_line_args(script, tmp_path / str(seed), f'--max_iters={3 * len(LINES)}', f'--seed={seed}'))
        seen = [(tuple(inputs), tuple(targets), bool(np.any(hprev))) for inputs, targets, hprev, _, _ in calls]
        chars = sorted(set(NAMES))
        return seen, [''.join(chars[i] for i in inputs[1:]) for inputs, _, _ in seen]
    calls, names = run(1)
    nl = sorted(set(NAMES)).index('\n')
    assert all(inputs[0] == nl and targets[-1] == nl and inputs[1:] == targets[:-1] and not state
               for inputs, targets, state in calls)
    passes = [names[i:i + len(LINES)] for i in range(0, len(names), len(LINES))]
    assert all(sorted(p) == sorted(LINES) for p in passes)
    assert len({tuple(p) for p in passes}) == 3, 'reshuffled every pass'
    assert run(1)[1] == names and run(2)[1] != names, 'the order follows the seed'


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_per_line_step_matches_the_listing_oracle(script, tmp_path, capsys):
    """One iteration equals the oracle's loss, gradients and Adagrad update on the line it trained."""
    m = load_script(script)
    trained = []
    lossFun = m.lossFun
    m.lossFun = lambda inputs, targets, hprev, params: trained.append(
        (inputs.copy(), targets.copy(), hprev.copy(), [p.copy() for p in params])) or lossFun(inputs, targets, hprev, params)
    run_main(m, per_line_args(script, tmp_path, '--max_iters=1', '--learning_rate=0.1'))
    [(inputs, targets, hprev, before)] = trained
    loss, grads, _ = oracle_for_script(script, inputs, targets, hprev, before)
    oracle_update(before, grads, [np.zeros_like(g) for g in grads], 0.1)
    after = saved_params(m, tmp_path / 'out' / 'ck.npz')[0]
    for got, want in zip(after, before):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    first = loss_lines(capsys.readouterr().out)[0][1]
    mean_targets = np.mean([len(line) + 1 for line in LINES])
    assert abs(first - (0.999 * mean_targets * math.log(len(set(NAMES))) + 0.001 * loss)) < 1e-6


@pytest.mark.parametrize('script', SCRIPTS)
def test_sampled_names_stop_at_the_newline_or_at_sample_length(script):
    m = load_script(script)
    m.hidden_size, m.num_layers, m.dtype, m.sample_length = 4, 2, 'float64', 7
    params = [p * 0 for p in script_params(m, 3, np.random.default_rng(0))]
    params[-1][:] = [0.0, 50.0, 0.0]                 # by: the model always says 1
    run = types.SimpleNamespace(m=m, chars=['a', '\n', 'b'], rng=np.random.default_rng(0))
    assert harness.names_sample(run, params, k=3) == [1, 1], 'index 1 is the newline here: every name ends at once'
    run.chars = ['\n', 'a', 'b']                    # the newline is 0, never drawn: each name capped at sample_length
    assert harness.names_sample(run, params, k=2) == [1] * 7 + [0] + [1] * 7


@pytest.mark.parametrize('script', SCRIPTS)
def test_per_line_run_stopped_and_resumed_prints_what_one_run_prints(script, tmp_path):
    extra = ['--print_every=7', '--sample_length=20']
    whole = run_script(script, *per_line_args(script, tmp_path / 'a', '--max_iters=40', *extra))
    first = run_script(script, *per_line_args(script, tmp_path / 'b', '--max_iters=17', *extra))
    second = run_script(script, *per_line_args(script, tmp_path / 'b', '--max_iters=40', *extra), '--resume=True')
    assert whole.returncode == first.returncode == second.returncode == 0, second.stderr
    assert first.stdout + second.stdout == whole.stdout
    samples = whole.stdout.split('----\n')[2::2]
    assert all(len(s.splitlines()) == 5 for s in samples), samples     # five names, one a line


@pytest.mark.parametrize('script', SCRIPTS)
def test_lines_samples_names_that_begin_with_the_prime(script, tmp_path):
    args = per_line_args(script, tmp_path, '--max_iters=300', '--learning_rate=0.1')
    assert run_script(script, *args).returncode == 0
    r = run_script(script, *args, '--lines=6', '--prime=ar')
    names = r.stdout.split('\n')
    assert r.returncode == 0 and len(names) == 7 and names[-1] == '' and all(n.startswith('ar') for n in names[:-1])


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_name_after_a_prime_ends_at_the_newline_not_at_the_primes_last_character(script, tmp_path, capsys):
    """A model made to say 'r' after anything: each name is the prime, then 'r' up to sample_length."""
    args = per_line_args(script, tmp_path, '--max_iters=1', '--sample_length=7', text='ar\nbr\n')
    run_main(load_script(script), args)
    path = tmp_path / 'out' / 'ck.npz'
    with np.load(path, allow_pickle=False) as ck:
        arrays = {k: ck[k] * 0 if k[0] in 'Wb' else ck[k] for k in ck.files}
    arrays['by'][sorted(set('ar\nbr\n')).index('r')] = 50.0
    np.savez(path, **arrays)
    capsys.readouterr()
    run_main(load_script(script), args + ['--lines=3', '--prime=ar'])
    assert capsys.readouterr().out == 'arrrrrrrr\n' * 3


BAD_NAME_FILES = [('\n\n\n', 'has no non-empty line'), ('x' * 1001 + '\nab\n', 'a line of 1001 characters')]


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('text, message', BAD_NAME_FILES, ids=['empty lines', 'long line'])
def test_per_line_input_without_names_or_with_a_huge_line_is_one_line_error(script, text, message, tmp_path):
    assert_clean_error(run_script(script, *per_line_args(script, tmp_path, '--max_iters=5', text=text)), message)


def test_the_shipped_element_list_is_the_notes_setup():
    path = os.path.join(ROOT, 'data', 'elements.txt')
    text = open(path, encoding='utf-8').read()
    assert len(text.splitlines()) == 118 and len(set(text)) == 25 and text == text.lower()
