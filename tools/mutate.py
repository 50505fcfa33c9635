"""Mutation testing: seed realistic one-line bugs into each script, count the ones the test suite catches.

usage: python tools/mutate.py [--jobs=2] [--only=SCRIPT] [--list]

Each mutant replaces one exact piece of a script (it must occur there exactly once) in a fresh copy of
the repository, then runs `python -m pytest -x -q tests` there on the tests of that script (ids
naming the other script are left out). A mutant is killed when that run fails or times out (600 s).
Prints one line per mutant, then the score per script and per area, and the survivors with the
reason recorded here for each one that is known to survive (EQUIVALENT or UNTESTED ...).
"""
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOTH = ('min_char_rnn.py', 'rnn3.py')

# (scripts, area, piece of the script, what it becomes)
MUTANTS = [
    # data loading
    (BOTH, 'data', "chars = sorted(set(text)) or ['\\n']", "chars = sorted(set(text[1:])) or ['\\n']"),
    (BOTH, 'data', 'for a, b in zip(np.append(-1, ends[:-1]), ends) if b > a + 1]', 'for a, b in zip(np.append(-1, ends[:-1]), ends) if b > a]'),
    (BOTH, 'data', 'np.concatenate(([nl], data[a + 1:b], [nl]))', 'np.concatenate(([nl], data[a:b], [nl]))'),
    (BOTH, 'data', "data, val_data = data[:len(data) - n_val], (data[len(data) - n_val:]",
     "data, val_data = data[:len(data) - n_val + 1], (data[len(data) - n_val:]"),
    (BOTH, 'data', 'if max(map(len, data)) > MAX_LINE + 2:', 'if max(map(len, data)) > MAX_LINE + 3:'),
    (BOTH, 'data', 'if per_line else (seq_length + 1, 2)', 'if per_line else (seq_length + 1, 1)'),
    (BOTH, 'data', 'if len(data) < seq_length + 1 and not per_line:', 'if len(data) < seq_length and not per_line:'),
    # forward
    (('min_char_rnn.py',), 'forward', 'np.tanh(xh_t + Whh.dot(h_prev), out=h_t)', 'np.tanh(xh_t + Whh.T.dot(h_prev), out=h_t)'),
    (('min_char_rnn.py',), 'forward', 'xh = Wxh.T[inputs] + bh ', 'xh = Wxh.T[inputs] '),
    (('min_char_rnn.py',), 'forward', 'ys = hs[1:].dot(Why.T) + by', 'ys = hs[:-1].dot(Why.T) + by'),
    (('rnn3.py',), 'forward', 'hs[l - 1, 1:].dot(Wxh[l].T)) + bh[l]', 'hs[l - 1, 1:].dot(Wxh[l].T)) + bh[0]'),
    (('rnn3.py',), 'forward', 'hs[l - 1, 1:].dot(Wxh[l].T)) + bh[l]', 'hs[l - 1, :-1].dot(Wxh[l].T)) + bh[l]'),
    (('rnn3.py',), 'forward', 'np.tanh(xh_t + Whh[l].dot(h_prev), out=h_t)', 'np.tanh(xh_t + Whh[l].T.dot(h_prev), out=h_t)'),
    (('rnn3.py',), 'forward', 'ys = hs[-1, 1:].dot(Why.T) + by', 'ys = hs[-2, 1:].dot(Why.T) + by'),
    # loss
    (BOTH, 'loss', 'z = ys - ys.max(axis=1, keepdims=True)', 'z = ys - 0'),
    (BOTH, 'loss', 'loss = -(z[np.arange(len(targets)), targets] - np.log(e.sum(axis=1))).sum()',
     'loss = -(z[np.arange(len(targets)), targets]).sum()'),
    (BOTH, 'loss', 'ps = e / e.sum(axis=1, keepdims=True)', 'ps = e / e.sum()'),
    # backward
    (BOTH, 'backward', 'dy[np.arange(len(targets)), targets] -= 1', 'dy[np.arange(len(targets)), targets] -= 0.5'),
    (('min_char_rnn.py',), 'backward', 'dtanh = 1 - hs[1:] * hs[1:]', 'dtanh = 1 - hs[:-1] * hs[:-1]'),
    (('min_char_rnn.py',), 'backward', 'dhnext = dhraw_t.dot(Whh) ', 'dhnext = dhraw_t.dot(Whh.T) '),
    (('min_char_rnn.py',), 'backward', 'dWhh, dbh = dhraw.T.dot(hs[:-1])', 'dWhh, dbh = dhraw.T.dot(hs[1:])'),
    (BOTH, 'backward', 'np.multiply(dh_t + dhnext, dtanh_t, out=dhraw_t)', 'np.multiply(dh_t, dtanh_t, out=dhraw_t)'),
    (('rnn3.py',), 'backward', 'dhnext = dhraw_t.dot(Whh[l])', 'dhnext = dhraw_t.dot(Whh[l].T)'),
    (('rnn3.py',), 'backward', 'dh = dhraw.dot(Wxh[l])', 'dh = dhraw.dot(Wxh[l].T)'),
    (('rnn3.py',), 'backward', 'if l == 0 else hs[l - 1, 1:]\n', 'if l == 0 else hs[l, 1:]\n'),
    (('rnn3.py',), 'backward', 'dtanh = 1 - hs[l, 1:] * hs[l, 1:]', 'dtanh = 1 - hs[l, 1:] * hs[l, :-1]'),
    # clipping and Adagrad
    (('min_char_rnn.py',), 'clip+adagrad', 'np.clip(dtheta, -5, 5, out=dtheta)', 'np.clip(dtheta, -5, 50, out=dtheta)'),
    (('min_char_rnn.py',), 'clip+adagrad', 'mem += dtheta * dtheta', 'mem += dtheta'),
    (('min_char_rnn.py',), 'clip+adagrad', 'theta -= learning_rate * dtheta / np.sqrt(mem + 1e-8)',
     'theta -= learning_rate * dtheta / np.sqrt(mem + 1e-4)'),
    (('rnn3.py',), 'clip+adagrad', 'np.clip(dparam, -5, 5, out=dparam)', 'np.clip(dparam, -5, 50, out=dparam)'),
    (('rnn3.py',), 'clip+adagrad', 'mem += dparam * dparam', 'mem += dparam'),
    (('rnn3.py',), 'clip+adagrad', 'param -= learning_rate * dparam / np.sqrt(mem + 1e-8)',
     'param -= learning_rate * dparam / (mem + 1e-8)'),
    # initialisation
    (('min_char_rnn.py',), 'init', 'W[...] = rng.standard_normal(W.shape) * 0.01', 'W[...] = rng.standard_normal(W.shape) * 0.1'),
    (('rnn3.py',), 'init', 'Whh = [rng.standard_normal((H, H)) * 0.01', 'Whh = [rng.standard_normal((H, H)) * 0.1'),
    # sampling
    (BOTH, 'sampling', 'noise = -temperature * np.log(-np.log(rng.random((n, len(by)))))',
     'noise = -np.log(-np.log(rng.random((n, len(by)))))'),
    (('min_char_rnn.py',), 'sampling', 'h = np.tanh(xh[ix] + Whh.dot(h))', 'h = np.tanh(xh[ix] + Whh.dot(h) + bh)'),
    (('min_char_rnn.py',), 'sampling', 'ixes, ix = [], seed_ix', 'ixes, ix = [], 0'),
    (('rnn3.py',), 'sampling', 'below = Wxh[l + 1].dot(h[l]) + bh[l + 1]', 'below = Wxh[l + 1].dot(h[l]) + bh[l]'),
    (('rnn3.py',), 'sampling', 'ixes, ix, h = [], seed_ix, h.copy()', 'ixes, ix = [], seed_ix'),
    (('rnn3.py',), 'sampling', 'ix = int((Why.dot(h[-1]) + by + g).argmax())', 'ix = int((Why.dot(h[0]) + by + g).argmax())'),
    (BOTH, 'sampling', '        if ix == stop_ix:\n            break\n', ''),
    (BOTH, 'sampling', 'return [name[:-1] if name[-1] == start[0] else name for name in names]', 'return names'),
    (('min_char_rnn.py',), 'sampling', "params)[1][-1]\n    left, ix, done", "params)[1][0]\n    left, ix, done"),
    (('rnn3.py',), 'sampling', "params)[1][:, -1]\n    left, ix, done", "params)[1][:, 0]\n    left, ix, done"),
    (('min_char_rnn.py',), 'sampling', "    h = forward(start[:-1], start[1:], np.zeros(hidden_size, dtype), params)[1][-1]\n    left",
     "    h = forward(start, start, np.zeros(hidden_size, dtype), params)[1][-1]\n    left"),
    (('rnn3.py',), 'sampling', "    h = forward(start[:-1], start[1:], np.zeros((num_layers, hidden_size), dtype), params)[1][:, -1]\n    left",
     "    h = forward(start, start, np.zeros((num_layers, hidden_size), dtype), params)[1][:, -1]\n    left"),
    (BOTH, 'sampling', "text = '\\n'.join(text.split('\\n')[:lines - done]) + '\\n'",
     "text = '\\n'.join(text.split('\\n')[:lines - done + 1]) + '\\n'"),
    # the training loop
    (BOTH, 'loop', 'if p + seq_length + 1 > len(data):', 'if p + seq_length + 1 >= len(data):'),
    (BOTH, 'loop', 'hprev, p = np.zeros_like(hprev), 0', 'p = 0'),
    (BOTH, 'loop', 'p, n = p + seq_length, n + 1', 'p, n = p + seq_length - 1, n + 1'),
    (BOTH, 'loop', 'smooth_loss = smooth_loss * 0.999 + float(loss) * 0.001', 'smooth_loss = smooth_loss * 0.001 + float(loss) * 0.999'),
    (BOTH, 'loop', 'inputs, targets, hprev = seq[:-1], seq[1:], np.zeros_like(hprev)', 'inputs, targets = seq[:-1], seq[1:]'),
    (BOTH, 'loop', 'np.random.default_rng([seed, epoch])', 'np.random.default_rng(seed)'),
    (BOTH, 'loop', 'smooth_loss = np.log(len(ix_to_char)) * chars_per_seq', 'smooth_loss = np.log(len(ix_to_char)) * seq_length'),
    (BOTH, 'loop', 'sample(hprev, inputs[0], sample_length, params, rng)[0])', 'sample(hprev, inputs[1], sample_length, params, rng)[0])'),
    # held-out loss
    (BOTH, 'held-out', 'return total / sum(len(chunk) - 1 for chunk in chunks)', 'return total / sum(len(chunk) for chunk in chunks)'),
    (BOTH, 'held-out', 'forward(chunk[:-1], chunk[1:], h0 if per_line else h, params)', 'forward(chunk[:-1], chunk[1:], h0, params)'),
    (BOTH, 'held-out', 'if val_data is None or n % eval_every:', 'if val_data is None or n % eval_every or not n:'),
    (BOTH, 'held-out', '    if val_data is not None and not stop:\n', '    if False:\n'),
    # checkpoints
    (BOTH, 'checkpoint', 'if n % checkpoint_every == 0:\n            checkpoint()', 'if n % checkpoint_every == 1:\n            checkpoint()'),
    (BOTH, 'checkpoint', 'n=n, p=p, smooth_loss=float(smooth_loss)', 'n=n, p=0, smooth_loss=float(smooth_loss)'),
    (BOTH, 'checkpoint', "        if os.path.exists(tmp):\n            os.remove(tmp)\n", ''),
    (BOTH, 'checkpoint', "assert meta['script'] == SCRIPT", "assert meta['script'] or SCRIPT"),
    # resume
    (BOTH, 'resume', "        rng.bit_generator.state = meta['rng']\n", ''),
    (BOTH, 'resume', 'and (resume or k in MODEL_KEYS', 'and (False or k in MODEL_KEYS'),
    (BOTH, 'resume', 'if k in given and given[k] != config[k]:', 'if False and given[k] != config[k]:'),
    (BOTH, 'resume', "if meta['chars'] != ix_to_char:", "if len(meta['chars']) < len(ix_to_char):"),
    (BOTH, 'resume', "changed = [f'{k}={v}' for k, v in adopt.items() if v != globals()[k]]", "changed = []"),
    # the loss log
    (BOTH, 'log', 'first.isdigit() and int(first) >= n:', 'first.isdigit() and int(first) > n:'),
    (BOTH, 'log', "log = open(path, 'a' if keep else 'w')", "log = open(path, 'w')"),
    (BOTH, 'log', "        os.truncate(path, keep)\n", ''),
    # a rerun keeps the earlier run
    (BOTH, 'rerun', '    if old:\n', '    if False:\n'),
    (BOTH, 'rerun', '            k += 1\n', '            break\n'),
    # signals
    (BOTH, 'signals', 'for sig in (signal.SIGINT, signal.SIGTERM)}', 'for sig in (signal.SIGINT,)}'),
    (BOTH, 'signals', '        if stop:\n            return None\n', ''),
    (BOTH, 'signals', 'sys.exit(128 + stop[0])', 'sys.exit(130)'),
    # the command line and errors
    (BOTH, 'command line', "given[name] = value.lower() in ('true', '1') if kind is bool", "given[name] = value.lower() == 'true' if kind is bool"),
    (BOTH, 'command line', 'near = difflib.get_close_matches(name, config_keys, 1)', 'near = []'),
    (BOTH, 'command line', "low = 0 if name in ('generate', 'lines', 'seed') else 1", 'low = 0'),
    (BOTH, 'command line', 'if not 0 <= val_fraction < 1:', 'if not 0 <= val_fraction <= 1:'),
    (BOTH, 'command line', ".ljust(38) + ' ' + comment.strip())", ".ljust(38))"),
    (BOTH, 'command line', "if not 0 < globals()[name] < float('inf'):", "if not 0 < globals()[name]:"),
    (BOTH, 'errors', 'if not np.isfinite(loss):', 'if np.isnan(loss):'),
    (BOTH, 'errors', "    if need > have:", "    if need > 1e15:"),
    (BOTH, 'errors', "        if ch not in char_to_ix:\n", "        if ch not in char_to_ix and ch != 'Q':\n"),
]

# Survivors that are known and why (filled in from measured runs; see docs/testing.md).
KNOWN = {}


def mutants(only=None):
    for scripts, area, before, after in MUTANTS:
        for script in scripts:
            if only in (None, script):
                yield script, area, before, after


def run_one(script, before, after):
    """'killed' or 'survived' (and seconds) for one mutant, in its own copy of the repository."""
    with tempfile.TemporaryDirectory() as tmp:
        for d in ('tests', 'data'):
            shutil.copytree(os.path.join(ROOT, d), os.path.join(tmp, d), ignore=shutil.ignore_patterns('__pycache__'))
        for f in ('min_char_rnn.py', 'rnn3.py', 'input.txt'):
            shutil.copy(os.path.join(ROOT, f), tmp)
        os.makedirs(os.path.join(tmp, 'tools'))
        for f in os.listdir(os.path.join(ROOT, 'tools')):
            if f.endswith('.py'):
                shutil.copy(os.path.join(ROOT, 'tools', f), os.path.join(tmp, 'tools'))
        path = os.path.join(tmp, script)
        source = open(path).read()
        if source.count(before) != 1:
            return 'not applicable: the piece occurs %d times' % source.count(before), 0.0
        open(path, 'w').write(source.replace(before, after))
        other = [s for s in BOTH if s != script][0]
        start = time.time()
        try:
            r = subprocess.run([sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider', 'tests',
                                '-k', f'not {other[:-3]}'], cwd=tmp, capture_output=True, text=True, timeout=600)
            result = 'survived' if r.returncode == 0 else 'killed'
        except subprocess.TimeoutExpired:
            result = 'killed'
        return result, time.time() - start


def main(argv):
    opts = dict(a[2:].partition('=')[::2] for a in argv if a.startswith('--'))
    if {'-h', '--help'} & set(argv) or set(opts) - {'jobs', 'only', 'list'}:
        print(__doc__.strip())
        return
    todo = list(mutants(opts.get('only')))
    if 'list' in opts:
        for script, area, before, after in todo:
            print(f'{script:16} {area:14} {before!r} -> {after!r}')
        return
    results = []
    with concurrent.futures.ThreadPoolExecutor(int(opts.get('jobs', 2))) as pool:
        futures = {pool.submit(run_one, script, before, after): (script, area, before, after) for script, area, before, after in todo}
        for future in concurrent.futures.as_completed(futures):
            (script, area, before, after), (result, seconds) = futures[future], future.result()
            results.append((script, area, before, after, result))
            print(f'{result:9} {seconds:5.0f} s  {script:16} {area:14} {before.strip()[:60]!r}', flush=True)
    print('\n| script | area | killed / mutants |\n| --- | --- | --- |')
    for script in BOTH:
        mine = [r for r in results if r[0] == script]
        for area in dict.fromkeys(r[1] for r in mine):
            rows = [r for r in mine if r[1] == area]
            print(f'| {script} | {area} | {sum(r[4] == "killed" for r in rows)} / {len(rows)} |')
        if mine:
            print(f'| {script} | **all** | **{sum(r[4] == "killed" for r in mine)} / {len(mine)}** |')
    survivors = [r for r in results if r[4] != 'killed']
    print(f'\n{len(survivors)} survivors:' if survivors else '\nno survivors')
    for script, area, before, after, result in survivors:
        print(f'- {script} ({area}): {before.strip()!r} -> {after.strip()!r} [{result}] {KNOWN.get((script, before), "")}')


if __name__ == '__main__':
    main(sys.argv[1:])
