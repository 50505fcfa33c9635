"""Numerical gradient check of a script's lossFun, as the check passed around for min-char-rnn does it: in
float64, for each parameter array, the analytic gradient against central differences at random entries. Prints
each array's largest relative error |a - n| / (|a| + |n|) and fails (exit 1) if one is above 1e-5.

usage: python tools/gradient_check.py SCRIPT [--checks=10] [--hidden_size=8] [--seq_length=10] [--seed=0]

SCRIPT is a model script (min_char_rnn.py, rnn3.py, or a copy of one); its own lossFun is checked on a random
model (weights ~ randn * 0.1, a random hprev) of its settings at the top, with these sizes, and the vocabulary
of its input_file read as far as the first 100,000 characters. float64 throughout: in float32, differences of
losses round to noise (a relative error near 1), whatever the gradient.
"""
import importlib.util
import os
import sys

import numpy as np

from cli import fail, parse

OPTIONS = dict(checks=10, hidden_size=8, seq_length=10, seed=0)
DELTA, BOUND = 1e-5, 1e-5                        # the central difference's step; the largest error passing


def load(path):
    """The script at path as a module (its harness.py beside it, as when it runs)."""
    if not path.endswith('.py') or not os.path.isfile(path):
        fail(f'SCRIPT must be a model script (.py file), got {path!r}')
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    if not all(hasattr(m, f) for f in ('lossFun', 'shapes', 'init_params', 'unflatten', 'zero_state')):
        fail(f'{path} is not a model script: it has no lossFun, shapes, init_params, unflatten, zero_state')
    return m


def check(m, vocab_size, T, checks, rng):
    """(name, largest relative error) for each parameter array of m's lossFun, a random model and sequence."""
    theta = m.init_params(vocab_size, rng)
    theta += rng.standard_normal(theta.shape) * 0.1          # weights and biases away from zero
    params, names = m.unflatten(theta, vocab_size), list(m.shapes(vocab_size))
    hprev = rng.uniform(-0.5, 0.5, m.zero_state().shape)
    inputs, targets = list(rng.integers(0, vocab_size, T)), list(rng.integers(0, vocab_size, T))   # lists
    _, grads, _ = m.lossFun(inputs, targets, hprev, params)
    for name, param, dparam in zip(names, params, grads):
        worst = 0.0
        for i in zip(*(rng.integers(0, n, checks) for n in param.shape)):
            old = param[i]
            param[i] = old + DELTA
            plus = m.lossFun(inputs, targets, hprev, params)[0]
            param[i] = old - DELTA
            minus = m.lossFun(inputs, targets, hprev, params)[0]
            param[i] = old
            num, ana = (plus - minus) / (2 * DELTA), dparam[i]
            worst = max(worst, abs(ana - num) / max(abs(ana) + abs(num), 1e-12))
        yield name, worst


def main(argv):
    opts, paths = parse(argv, OPTIONS, __doc__)
    if len(paths) != 1:
        fail('give one SCRIPT (see --help)')
    try:
        sizes = {k: int(opts.get(k, v)) for k, v in OPTIONS.items()}
    except ValueError:
        fail('--checks, --hidden_size, --seq_length and --seed are whole numbers')
    if min(sizes['checks'], sizes['hidden_size'], sizes['seq_length']) < 1 or sizes['seed'] < 0:
        fail('--checks, --hidden_size and --seq_length must be at least 1, --seed at least 0')
    m = load(paths[0])
    m.dtype, m.hidden_size, m.seq_length = 'float64', sizes['hidden_size'], sizes['seq_length']
    try:
        text_file = os.path.join(os.path.dirname(os.path.abspath(paths[0])), m.input_file)
        with open(text_file, encoding='utf-8') as f:
            vocab_size = min(len(set(f.read(100000))), 100)
    except (OSError, UnicodeDecodeError):
        vocab_size = 20                          # no text to hand: a vocabulary of 20 symbols
    print(f'{os.path.basename(paths[0])}: lossFun against central differences (delta {DELTA}), float64, '
          f'vocab_size {vocab_size}, hidden_size {m.hidden_size}, T {m.seq_length}, '
          f'{sizes["checks"]} entries an array')
    results = list(check(m, vocab_size, m.seq_length, sizes['checks'], np.random.default_rng(sizes['seed'])))
    for name, worst in results:
        print(f'  {name:<8} largest relative error {worst:.3e}' + ('   FAILS' if worst > BOUND else ''))
    bad = [name for name, worst in results if not worst <= BOUND]
    if bad:
        fail(f'the gradient of {", ".join(bad)} differs from central differences by more than {BOUND}')
    print(f'all {len(results)} arrays within {BOUND}')


if __name__ == '__main__':
    main(sys.argv[1:])
