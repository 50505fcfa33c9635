"""Sampling a saved model as users of char-rnn and nanoGPT expect: --temperature=0 is greedy, --top_k=K draws
among the K likeliest, --prime_file=PATH primes from a file; each checked against the listing's forward pass
(the oracle) replayed on the saved weights."""
import numpy as np
import pytest

from common import (SCRIPTS, assert_clean_error, load_script, run_in_process, run_main,
                    saved_params, small_args, oracle_step, zero_state_of)


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    """A float64 model of each script, trained a little (its weights are the saved ones)."""
    out = {}
    for script in SCRIPTS:
        tmp = tmp_path_factory.mktemp(script[:-3])
        args = small_args(script, tmp, '--dtype=float64', '--max_iters=150', '--learning_rate=0.1')
        run_main(load_script(script), args)
        out[script] = tmp / 'out' / 'ck.npz'
    return out


def logits_after(script, params, chars, text, primed):
    """The oracle's y_t after reading text from a zero state (eq. (26)-(27), one-hot per step): text starts with
    the prime, or (primed False) after a newline, as sampling starts."""
    ixes = [chars.index('\n')] * (not primed) + [chars.index(ch) for ch in text]
    h, p = zero_state_of(script, params), None
    for ix in ixes:
        h, p = oracle_step(script, params, h, ix)
    return np.log(p)


def model_of(script, path):
    m = load_script(script)
    params, meta = saved_params(m, path)
    return params, meta['chars']


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('extra', [['--temperature=0'], ['--top_k=1'], ['--top_k=1', '--temperature=3']])
def test_temperature_0_and_top_k_1_take_the_likeliest_character_each_time(script, extra, models, capsys):
    r = run_in_process(capsys, script, f'--checkpoint_path={models[script]}', '--generate=25', '--prime=th', *extra)
    params, chars = model_of(script, models[script])
    text = r.stdout[:-1]
    assert r.returncode == 0 and text.startswith('th') and len(text) == 27, r.stderr
    for i in range(2, len(text)):
        assert chars[int(np.argmax(logits_after(script, params, chars, text[:i], True)))] == text[i], (i, text)


@pytest.mark.parametrize('script', SCRIPTS)
def test_top_k_draws_only_among_the_k_likeliest_and_varies_with_the_seed(script, models, capsys):
    outs = []
    for seed in (1, 2, 3):
        r = run_in_process(capsys, script, f'--checkpoint_path={models[script]}', '--generate=30', '--top_k=3',
                           '--temperature=2', f'--seed={seed}')
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout[:-1])
    params, chars = model_of(script, models[script])
    for text in outs:
        for i in range(len(text)):
            top = np.argsort(logits_after(script, params, chars, text[:i], False))[-3:]
            assert chars.index(text[i]) in top, (i, text)
    assert len(set(outs)) > 1, 'a draw, not the argmax: seeds differ'


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_prime_file_primes_as_the_same_text_given_as_prime(script, models, tmp_path, capsys):
    (tmp_path / 'prime.txt').write_text('the q', encoding='utf-8')
    ck = f'--checkpoint_path={models[script]}'
    a = run_in_process(capsys, script, ck, '--generate=40', f'--prime_file={tmp_path / "prime.txt"}')
    b = run_in_process(capsys, script, ck, '--generate=40', '--prime=the q')
    assert a.returncode == 0 and a.stdout == b.stdout and a.stdout.startswith('the q'), a.stderr
    assert_clean_error(run_in_process(capsys, script, ck, '--generate=4', f'--prime_file={tmp_path / "none.txt"}'),
                       f'cannot read --prime_file={tmp_path / "none.txt"} as UTF-8 text (No such file')
    assert_clean_error(run_in_process(capsys, script, ck, '--generate=4', '--prime=a',
                                      f'--prime_file={tmp_path / "prime.txt"}'), 'give --prime or --prime_file')
    (tmp_path / 'odd.txt').write_text('Z', encoding='utf-8')
    assert_clean_error(run_in_process(capsys, script, ck, '--generate=4', f'--prime_file={tmp_path / "odd.txt"}'),
                       "--prime_file has 'Z', which is not in the model's vocabulary")


@pytest.mark.parametrize('script', SCRIPTS)
def test_help_says_what_the_seed_and_the_temperature_do_to_a_sample(script, capsys):
    r = run_in_process(capsys, script, '--help')
    seed = [line for line in r.stdout.splitlines() if line.strip().startswith('--seed=')][0]
    temperature = [line for line in r.stdout.splitlines() if line.strip().startswith('--temperature=')][0]
    assert 'same sample' in seed and all(w in temperature for w in ('safer', 'repetitive', 'varied', 'misspelt',
                                                                    'greedy'))
    assert any(line.strip().startswith('--top_k=0') for line in r.stdout.splitlines())


def test_names_sampled_with_top_k_1_are_the_greedy_ones_whatever_the_seed(tmp_path, capsys):
    names = 'helium\nneon\nargon\nkrypton\nxenon\nradon\n'
    args = small_args('min_char_rnn.py', tmp_path, '--per_line=True', '--max_iters=300', '--learning_rate=0.1',
                      text=names)
    run_main(load_script('min_char_rnn.py'), args)
    ck = f'--checkpoint_path={tmp_path / "out" / "ck.npz"}'
    outs = [run_in_process(capsys, 'min_char_rnn.py', ck, '--lines=4', *extra).stdout
            for extra in (['--top_k=1', '--seed=1'], ['--top_k=1', '--seed=2'], ['--temperature=0'])]
    assert outs[0] == outs[1] == outs[2] and outs[0].count('\n') == 4
    drawn = {run_in_process(capsys, 'min_char_rnn.py', ck, '--lines=4', '--temperature=3', f'--seed={s}').stdout
             for s in (1, 2, 3)}
    assert len(drawn) > 1, 'without top_k the names are drawn'
