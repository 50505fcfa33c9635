"""Mutation testing: seed realistic one-line bugs into each script and into harness.py, count the ones the test
suite catches.

usage: python tools/mutate.py [--jobs=2] [--only=FILE] [--area=AREA[,AREA]] [--list]

Each mutant replaces one exact piece of a file (it must occur there exactly once) in a fresh copy of the
repository's tracked files, then runs `python -m pytest -x -q` there on the test files: for a script's mutant, the tests of
that script (ids naming the other script are left out); for a mutant of harness.py, all of them. A mutant is
killed when that run fails or times out (600 s). Prints one line per mutant, then the score per file and per
area, and the survivors with the reason recorded here for each one that is known to survive.
"""
import concurrent.futures
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if hasattr(signal, 'SIGPIPE'):                   # piped into `head`: end quietly (Windows has no SIGPIPE)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
ORDER = [f'tests/test_{name}.py' for name in     # the quick files that catch most first; every file runs
         ('gradients', 'listing', 'loop', 'training', 'names', 'workflow', 'session', 'errors', 'faults', 'hardening',
          'sampling', 'platforms', 'folders', 'limits', 'logs', 'discussion', 'inspect', 'titles', 'readme')]
TRACKED = subprocess.run(['git', 'ls-files'], cwd=ROOT, capture_output=True, text=True).stdout.split()
BOTH = ('min_char_rnn.py', 'rnn3.py')
GATED = ('lstm.py', 'gru.py')                    # Section VI-A's cells: their own mutants
SCRIPTS = BOTH + GATED
FILES = SCRIPTS + ('harness.py',)
TOOL_TESTS = ('discussion', 'inspect', 'titles', 'hardening', 'workflow', 'limits')   # where the tools are tested

# (files, area, piece of the file, what it becomes): the model's in the scripts, the rest once in harness.py
H = ('harness.py',)
MUTANTS = [
    # data (the scripts)
    (BOTH, 'data', "chars = sorted(set(text)) or ['\\n']", "chars = sorted(set(text[1:])) or ['\\n']"),
    (H, 'data', 'np.concatenate(([nl], data[a + 1:b], [nl]))', 'np.concatenate(([nl], data[a:b], [nl]))'),
    (H, 'data', 'for a, b in zip(starts, ends) if b > a + 1]', 'for a, b in zip(starts, ends) if b > a]'),
    (H, 'data', 'np.random.default_rng([seed, epoch])', 'np.random.default_rng(seed)'),
    # forward, loss, backward (the scripts)
    (('min_char_rnn.py',), 'forward', 'hs[t] = np.tanh(xh[t] + np.dot(Whh, hs[t - 1]))', 'hs[t] = np.tanh(xh[t] + np.dot(Whh.T, hs[t - 1]))'),
    (('min_char_rnn.py',), 'forward', 'hs[t] = np.tanh(xh[t] + np.dot(Whh, hs[t - 1]))', 'hs[t] = np.tanh(xh[t] + np.dot(Whh, hs[t]))'),
    (('min_char_rnn.py',), 'forward', 'hs[-1] = hprev ', 'hs[0] = hprev '),
    (('min_char_rnn.py',), 'forward', 'xh = Wxh.T[inputs] + bh ', 'xh = Wxh.T[inputs] '),
    (('min_char_rnn.py',), 'forward', 'ys = np.dot(hs[:-1], Why.T) + by', 'ys = np.dot(hs[1:], Why.T) + by'),
    (('rnn3.py',), 'forward', 'np.dot(hs[l - 1, :-1], Wxh[l].T)) + bh[l]', 'np.dot(hs[l - 1, :-1], Wxh[l].T)) + bh[0]'),
    (('rnn3.py',), 'forward', 'np.dot(hs[l - 1, :-1], Wxh[l].T)) + bh[l]', 'np.dot(hs[l - 1, 1:], Wxh[l].T)) + bh[l]'),
    (('rnn3.py',), 'forward', 'hs[l, t] = np.tanh(xh[t] + np.dot(Whh[l], hs[l, t - 1]))', 'hs[l, t] = np.tanh(xh[t] + np.dot(Whh[l].T, hs[l, t - 1]))'),
    (('rnn3.py',), 'forward', 'hs[:, -1] = hprev ', 'hs[:, 0] = hprev '),
    (('rnn3.py',), 'forward', 'ys = np.dot(hs[-1, :-1], Why.T) + by', 'ys = np.dot(hs[-2, :-1], Why.T) + by'),
    (BOTH, 'loss', 'z = ys - ys.max(axis=1, keepdims=True)', 'z = ys - 0'),
    (BOTH, 'loss', 'loss = -(z[np.arange(len(targets)), targets] - np.log(sums[:, 0])).sum()', 'loss = -(z[np.arange(len(targets)), targets]).sum()'),
    (BOTH, 'loss', 'ps = e / sums ', 'ps = e / e.sum() '),
    (BOTH, 'backward', 'dys[np.arange(T), targets] -= 1', 'dys[np.arange(T), targets] -= 0.5'),
    (BOTH, 'listing', 'if inputs.ndim != 1 or targets.shape != inputs.shape or', 'if inputs.ndim != 1 or'),
    (BOTH, 'listing', 'np.shape(hprev) not in (shape, shape + (1,))', 'np.shape(hprev) not in (shape,)'),
    (BOTH, 'listing', 'np.shape(hprev) not in (shape, shape + (1,))', 'np.size(hprev) == 0'),
    (('min_char_rnn.py',), 'backward', 'dtanhs = 1 - hs[:-1] * hs[:-1]', 'dtanhs = 1 - hs[1:] * hs[1:]'),
    (('min_char_rnn.py',), 'backward', 'dhnext = np.dot(dhraw, Whh) ', 'dhnext = np.dot(Whh, dhraw) '),
    (('min_char_rnn.py',), 'backward', 'dWhh = np.dot(dhraws.T, hs[np.arange(T) - 1])', 'dWhh = np.dot(dhraws.T, hs[np.arange(T)])'),
    (('min_char_rnn.py',), 'backward', 'return loss, [dWxh, dWhh, dWhy, dbh, dby], hs[T - 1]', 'return loss, [dWxh, dWhh, dWhy, dbh, dby], hs[-1]'),
    (('min_char_rnn.py',), 'backward', 'dbh = dhraws.sum(axis=0) ', 'dbh = dhraws[0] '),
    (('min_char_rnn.py',), 'backward', 'dh = dhs[t] + dhnext ', 'dh = dhs[t] '),
    (('rnn3.py',), 'backward', 'dh = dhs[t] + dhnext ', 'dh = dhs[t] '),
    (('rnn3.py',), 'backward', 'dhnext = np.dot(dhraw, Whh[l])', 'dhnext = np.dot(Whh[l], dhraw)'),
    (('rnn3.py',), 'backward', 'dhs = np.dot(dhraws, Wxh[l])', 'dhs = np.dot(dhraws, Wxh[l].T)'),
    (('rnn3.py',), 'backward', 'if l == 0 else hs[l - 1, :-1]\n', 'if l == 0 else hs[l, :-1]\n'),
    (('rnn3.py',), 'backward', 'dhraws[t] = dhraw = (1 - hs[l, t] * hs[l, t]) * dh', 'dhraws[t] = dhraw = (1 - hs[l, t] * hs[l, t - 1]) * dh'),
    (('rnn3.py',), 'backward', 'dWhh[l] = np.dot(dhraws.T, hs[l, np.arange(T) - 1])', 'dWhh[l] = np.dot(dhraws.T, hs[l, np.arange(T)])'),
    # clipping and Adagrad, initial weights (the scripts)
    (BOTH, 'clip+adagrad', 'dparam.clip(-clip, clip, out=dparam)', 'dparam.clip(-clip, 5, out=dparam)'),
    (BOTH, 'clip+adagrad', '        if clip:\n            dparam.clip', '        if True:\n            dparam.clip'),
    (BOTH, 'clip+adagrad', 'mem += dparam * dparam', 'mem += dparam'),
    (('min_char_rnn.py',), 'clip+adagrad', 'param += -learning_rate * dparam / np.sqrt(mem + 1e-8)', 'param += -learning_rate * dparam / np.sqrt(mem + 1e-4)'),
    (('rnn3.py',), 'clip+adagrad', 'm += dparam * dparam', 'm += dparam'),
    (('rnn3.py',), 'clip+adagrad', 'param += -learning_rate * dparam / np.sqrt(mem + 1e-8)', 'param += -learning_rate * dparam / (mem + 1e-8)'),
    (('min_char_rnn.py',), 'init', "rng.standard_normal(shape) * 0.01 if name[0] == 'W'", "rng.standard_normal(shape) * 0.1 if name[0] == 'W'"),
    (('rnn3.py',), 'init', "rng.standard_normal(shape) * 0.01 if name[0] == 'W'", "rng.standard_normal(shape) * 0.01 if name[:3] == 'Whh'"),
    # sampling (the scripts)
    (('min_char_rnn.py',), 'sampling', 'noise = -temperature * np.log(-np.log(rng.random((n, len(by)))))', 'noise = -np.log(-np.log(rng.random((n, len(by)))))'),
    (('rnn3.py',), 'sampling', 'p = np.exp((y - y.max()) / temperature)', 'p = np.exp(y - y.max())'),
    (('min_char_rnn.py',), 'sampling', 'h = np.tanh(xh[ix] + np.dot(Whh, h))', 'h = np.tanh(xh[ix] + np.dot(Whh, h) + bh)'),
    (('min_char_rnn.py',), 'sampling', 'ixes, ix = [], seed_ix', 'ixes, ix = [], 0'),
    (('rnn3.py',), 'sampling', 'ixes, ix, h = [], seed_ix, h.copy()', 'ixes, ix = [], seed_ix'),
    (('rnn3.py',), 'sampling', 'y = np.dot(Why, h[-1]) + by', 'y = np.dot(Why, h[0]) + by'),
    (('rnn3.py',), 'sampling', 'h[l] = np.tanh(x + np.dot(Whh[l], h[l]) + bh[l])', 'h[l] = np.tanh(x + np.dot(Whh[l], h[l]) + bh[0])'),
    (BOTH, 'sampling', '        if ix == stop_ix:\n            break\n', ''),
    (BOTH, 'sampling', '        if ix == stop_ix:\n            break\n        ixes.append(ix)', '        ixes.append(ix)\n        if ix == stop_ix:\n            break'),
    (H, 'sampling', 'params, rng, m.temperature, start[0], m.top_k)[0]', 'params, rng, m.temperature, start[-1], m.top_k)[0]'),
    (H, 'sampling', 'm.sample_length, params, run.rng, stop_ix=nl)[0]', 'm.sample_length, params, run.rng)[0]'),
    (H, 'sampling', 'params, rng, m.temperature, start[0], m.top_k)[0]', 'params, rng, m.temperature, start[0])[0]'),
    (H, 'sampling', 'params, rng, m.temperature, None, m.top_k)', 'params, rng, m.temperature)'),
    (BOTH, 'sampling', 'y[np.argsort(y)[:-top_k]] = -np.inf', 'y[np.argsort(y)[:top_k]] = -np.inf'),
    (H, 'sampling', "            prime = f.read(10**6)", "            prime = f.read(10**6)[1:]"),
    # the training loop (the scripts)
    (BOTH, 'loop', 'if p + seq_length + 1 > len(data):', 'if p + seq_length + 1 >= len(data):'),
    (BOTH, 'loop', 'run.hprev, p = zero_state(), 0', 'run.hprev, p = run.hprev, 0'),
    (BOTH, 'loop', 'run.p, run.n = p + seq_length, n + 1', 'run.p, run.n = p + seq_length - 1, n + 1'),
    (BOTH, 'loop', 'run.smooth_loss = run.smooth_loss * 0.999 + float(loss) * 0.001', 'run.smooth_loss = run.smooth_loss * 0.99 + float(loss) * 0.01'),
    (H, 'loop', 'return seq[:-1], seq[1:], run.m.zero_state()', 'return seq[:-1], seq[1:], run.hprev'),
    (BOTH, 'loop', 'run.smooth_loss = -np.log(1.0 / vocab_size) * T', 'run.smooth_loss = -np.log(1.0 / vocab_size) * seq_length'),
    (BOTH, 'loop', '        if run.stop:\n            break ', '        if False:\n            break '),
    (BOTH, 'loop', 'if run.n % checkpoint_every == 0:', 'if n % checkpoint_every == 0:'),
    (BOTH, 'loop', 'if not np.isfinite(loss):', 'if np.isnan(loss):'),
    (BOTH, 'loop', '            harness.log_row(run, grads) ', '            harness.log_row(run) '),
    (BOTH, 'loop', "print(f'----\\niter {n}, loss: {run.smooth_loss:f}\\n----\\n{txt}', flush=True)", "print(f'----\\niter {n}, loss: {run.smooth_loss:f}\\n----\\n{txt}')"),
    # settings: the block, --help, parsing, checks, resolution (harness.py)
    (H, 'settings', "    if not arg.startswith('--') or not eq:", '    if not eq:'),
    (H, 'settings', '    if name not in kinds:\n', '    if name in ():\n'),
    (H, 'settings', "config.update({k: check(k, v, '--' + k, kinds[k]) for k, v in given.items()})", 'config.update(given)'),
    (H, 'settings', "changed = [f'{k}={v}' for k, v in adopt.items() if v != config[k]]", 'changed = []'),
    (H, 'settings', 'top = {k: getattr(m if k in own else here, k) for k in run.keys}', 'top = {k: getattr(m, k, None) for k in run.keys}'),
    (H, 'settings', "config = {k: check(k, v, f'{k} at the top of", "config = {k: v or check(k, v, f'{k} at the top of"),
    (H, 'settings', 'clip=float', 'clip=int'),
    (H, 'settings', "'clip': ('>= 0', lambda v: 0 <= v < math.inf)", "'clip': ('>= 0', lambda v: 0 < v < math.inf)"),
    (H, 'settings', "near = ''.join(f'; did you mean --{k}?' for k in difflib.get_close_matches(name, kinds, 1))", "near = ''"),
    (H, 'settings', "own = [name for _, name, _ in blocks[0][1] if name]", "own = [name for _, name, _ in blocks[0][1]]"),
    (H, 'settings', "if alone and not re.match(", "if alone or re.match("),
    (H, 'settings', "return [entries[key] for key in sorted(entries)]", "return list(entries.values())"),
    (H, 'settings', "names = [t.id for target in node.targets for t in ast.walk(target) if isinstance(t, ast.Name)]", "names = [node.targets[0].id]"),
    (H, 'settings', "tok.line[:tok.start[1]].strip() == ''", "tok.start[1] < 4"),
    (H, 'settings', "            print(f'\\n{heading}:' if heading else f'  --{name}={value}'.ljust(38) + ' ' + comment)", "            print(f'\\n{heading}:' if heading else f'  --{name}={value}'.ljust(38))"),
    (H, 'settings', "value = repr('') if getattr(module, name, None) == '' else getattr(module, name, None)", 'value = getattr(module, name, None)'),
    (H, 'settings', "comment = next((comments[r][0] for r in range(node.lineno, node.end_lineno + 1) if r in comments), '')", "comment = comments.get(node.lineno, ('', 0))[0]"),
    (H, 'settings', "else {'true': True, '1': True, 'false': False, '0': False}[value.lower()]", "else {'true': True, '1': True, 'false': False, '0': True}[value.lower()]"),
    (H, 'settings', 'int(value) if kinds[name] is int and value.isdigit()', 'int(value) if value.isdigit()'),
    (H, 'settings', 'KIND = dict(dict.fromkeys(COUNTS, int), per_line=bool, resume=bool,', 'KIND = dict(dict.fromkeys(COUNTS, int), per_line=bool, resume=str,'),
    (H, 'settings', 'lambda v: least <= v <= 2**53)', 'lambda v: least < v <= 2**53)'),
    (H, 'settings', 'lambda v: least <= v <= 2**53)', 'lambda v: least <= v)'),
    (H, 'settings', "('in [0, 1)', lambda v: 0 <= v < 1)", "('in [0, 1)', lambda v: 0 <= v <= 1)"),
    (H, 'settings', "'learning_rate': ('positive', lambda v: 0 < v < math.inf)", "'learning_rate': ('positive', lambda v: 0 < v)"),
    (H, 'settings', "lambda v: v.endswith('.npz'))", "lambda v: '.npz' in v)"),
    (H, 'settings', '(kind is float or value % 1 == 0)', '(kind is float or True)'),
    (H, 'settings', '    if type(value) is not kind or ok and not ok(value):', '    if ok and not ok(value):'),
    (H, 'settings', "    if sampling and resuming or not sampling and asked:", "    if not sampling and asked:"),
    (H, 'settings', '{"are" if len(asked) > 1 else "is"}', '{"are" if len(asked) > 0 else "is"}'),
    (H, 'settings', "SAMPLING = ['prime', 'prime_file', 'temperature', 'top_k']", "SAMPLING = ['prime', 'prime_file', 'temperature']"),
    (H, 'settings', "'temperature': ('>= 0 (0: greedy)', lambda v: 0 <= v < math.inf)", "'temperature': ('>= 0 (0: greedy)', lambda v: 0 <= v)"),
    (H, 'settings', "right = f'--{name}=True' if kinds.get(name) is bool else", "right ="),
    (H, 'settings', "and k not in ACTIONS and (resuming or k in MODEL + ['dtype'])}", 'and k not in ACTIONS and (resuming or k in MODEL)}'),
    (H, 'settings', 'if k in given and k in record and given[k] != record[k]):', 'if False):'),
    (H, 'settings', '    if resuming and run.n >= m.max_iters:', '    if resuming and run.n > m.max_iters:'),
    (H, 'settings', '        print(m.__doc__.strip())\n', '        print()\n'),
    (H, 'settings', "        if k != 'num_layers' or 'num_layers' in open(", "        if k == 'num_layers' and 'num_layers' in open("),
    (H, 'settings', "kinds = {k: KIND.get(k) or type(top[k]) for k in run.keys}", "kinds = {k: KIND.get(k, str) for k in run.keys}"),
    # output: fail, note, say, escapes (harness.py)
    (H, 'output', '        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())\n        stop.append(SIGPIPE)\n', '        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())\n'),
    (H, 'output', "    sys.exit(f'{prog}: error: {printable(msg)}')", "    sys.exit(f'{prog}: {printable(msg)}')"),
    (H, 'output', "    sys.exit(f'{prog}: error: {printable(msg)}')", '    sys.exit(1)'),
    (H, 'output', "    sys.exit(f'{prog}: error: {printable(msg)}')", "    print(f'{prog}: error: {msg}', file=sys.stderr)"),
    (H, 'output', "    sys.exit(f'{prog}: error: {printable(msg)}')", "    sys.exit(f'{prog}: error: {msg}')"),
    (H, 'output', "    say(f'{prog}: {printable(msg)}', sys.stderr)", "    say(f'{prog}: {printable(msg)}')"),
    (H, 'output', "    say(f'{prog}: {printable(msg)}', sys.stderr)", '    say(printable(msg), sys.stderr)'),
    (H, 'output', "    say(f'{prog}: {printable(msg)}', sys.stderr)", '    pass'),
    (H, 'output', "    say(f'{prog}: {printable(msg)}', sys.stderr)", "    say(f'{prog}: {msg}', sys.stderr)"),
    (H, 'output', "c if c.isprintable() else c.encode('unicode_escape').decode()", "c if c.isprintable() or c == '\\x1b' else c.encode('unicode_escape').decode()"),
    (H, 'output', '        print(text, file=stream, flush=True)', '        print(text, file=stream)'),
    (H, 'output', "        sys.stdout.reconfigure(errors='backslashreplace')", "        sys.stdout.reconfigure(errors='strict')"),
    (H, 'output', "    prog = os.path.basename(m.__file__)", "    prog = 'script.py'"),
    # lock (harness.py)
    (H, 'lock', '            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n', ''),
    (H, 'lock', "        if run.lock is not None:                 # removed while still held (see lock()), if it is this run's", '        if False:'),
    (H, 'lock', '                    os.remove(run.lock_path)\n', '                    pass\n'),
    (H, 'lock', "    if not sampling:\n        lock(run, path, config['max_iters'], resuming)\n", ''),
    (H, 'lock', "    for tmp in glob.glob(glob.escape(run.path) + '.*.tmp') + glob.glob(glob.escape(run.log_path) + '.*.tmp'):\n        os.remove(tmp)\n", ''),
    (H, 'lock', '        if os.path.exists(run.lock_path) and os.path.samestat(os.fstat(fd), os.stat(run.lock_path)):', '        if True:'),
    (H, 'lock', '    run.path = os.path.realpath(path) ', '    run.path = os.path.abspath(path) '),
    (H, 'lock', "run.lock_path = os.path.splitext(run.path)[0] + '.csv', run.path + '.lock'\n    if not sampling", "run.lock_path = os.path.splitext(run.path)[0] + '.csv', path + '.lock'\n    if not sampling"),
    (H, 'lock', 'os.open(run.lock_path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644)', 'os.open(run.lock_path, os.O_RDWR | os.O_CREAT, 0o644)'),
    (H, 'lock', "        if first.rstrip(b'\\r\\n') not in map(str.encode, HEADERS) and not HEADER.encode().startswith(first):", '        if False:'),
    (H, 'lock', "and not HEADER.encode().startswith(first):", ':'),
    # checkpoint: read (record, arrays, log), written whole (harness.py)
    (H, 'checkpoint', "need(meta['script'] == (run.script or meta['script'])", "need(meta['script'] or run.script"),
    (H, 'checkpoint', '    whole = lambda v: type(v) is int and v >= 0', '    whole = lambda v: type(v) is int'),
    (H, 'checkpoint', '    real = lambda v: type(v) in (int, float) and math.isfinite(v)', '    real = lambda v: type(v) in (int, float)'),
    (H, 'checkpoint', "            need(ok(meta[k]), f'its {k} is damaged')", '            pass'),
    (H, 'checkpoint', "    if not ok:\n        raise ValueError(msg)", "    if not ok:\n        assert ok, msg"),
    (H, 'checkpoint', "arrays = {k: member(z, k, lambda shape, dtype, s=s: shape == s and dtype.kind == 'f')", "arrays = {k: member(z, k, lambda shape, dtype, s=s: dtype.kind == 'f')"),
    (H, 'checkpoint', "        need(not dtype.hasobject and ok(shape, dtype) and fits, f'its {name} is damaged')", '        pass'),
    (H, 'checkpoint', "and ok(shape, dtype) and fits, f'its", "and ok(shape, dtype), f'its"),
    (H, 'checkpoint', 'math.prod(shape) * dtype.itemsize <= info.file_size <=', 'info.file_size <='),
    (H, 'checkpoint', "    run.hprev, rows, on_disk = arrays['hprev'].astype(m.dtype),", '    run.hprev, rows, on_disk = m.zero_state(),'),
    (H, 'checkpoint', 'run.__dict__.update({k: meta[k] for k in STATE}, script=', "run.__dict__.update({k: meta[k] for k in STATE if k != 'p'}, p=0, script="),
    (H, 'checkpoint', '            os.replace(tmp, name, src_dir_fd=run.dir, dst_dir_fd=run.dir)', '            os.replace(tmp, os.path.realpath(run.m.checkpoint_path))'),
    (H, 'checkpoint', "        tmp, f, there = f'{name}.{os.urandom(6).hex()}.tmp',", "        tmp, f, there = f'{name}.tmp',"),
    (H, 'checkpoint', '            if f:                                # a file this run made', '            if True:                             # a file this run made'),
    (H, 'checkpoint', 'os.open(tmp, NEW, 0o666, **there)', 'os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666, **there)'),
    (H, 'checkpoint', '                    os.fchmod(f.fileno(), stat.S_IMODE(was.st_mode))\n', '                    pass\n'),
    (H, 'checkpoint', '                write(f)\n                f.flush()\n', '                write(f)\n'),
    (H, 'checkpoint', "log and log[1:-1], 0", "log and log[1:], 0"),
    (H, 'checkpoint', "and int(row.split(',')[0]) < run.n]", "and int(row.split(',')[0]) <= run.n]"),
    (H, 'checkpoint', "splitlines()[1:]", "splitlines()[1:-1]"),
    (H, 'checkpoint', 'f.readline(len(HEADER) + 2)', 'f.readline(len(HEADER))'),
    (H, 'checkpoint', '    if on_disk > len(run.rows) and m.resume:', '    if on_disk > len(run.rows) + 1 and m.resume:'),
    (H, 'checkpoint', "                need(log[0] in HEADERS and log[-1] == '', 'its log is damaged')\n", ''),
    (H, 'checkpoint', "log = np.frombuffer('\\n'.join([HEADER, *run.rows, '']).encode('utf-8'), np.uint8)", "log = np.frombuffer('\\n'.join([HEADER, *run.rows]).encode('utf-8'), np.uint8)"),
    (H, 'checkpoint', "(run.log_path, lambda f: f.write(log))]:", "(run.log_path, lambda f: f.write(log[:-1]))]:"),
    (H, 'checkpoint', 'elapsed=run.elapsed + time.time() - run.t0, rng=', 'elapsed=run.elapsed, rng='),
    (H, 'checkpoint', '    fits_memory(m, V)                            # before anything of that size is made\n', ''),
    (H, 'checkpoint', '<= info.file_size <= os.fstat(z.fp.fileno()).st_size', '<= info.file_size'),
    (H, 'folders', 'if {os.open, os.stat, os.rename, os.unlink} <= os.supports_dir_fd:', 'if False:'),
    (H, 'folders', '    for f in reversed(old):', '    for f in old:'),
    (H, 'folders', "        os.remove(probe)\n", "        pass\n"),
    (H, 'folders', "os.stat(run.path).st_nlink > 1:", "os.stat(run.path).st_nlink > 2:"),
    (H, 'folders', "    if os.path.islink(path) and not os.path.exists(run.path):", "    if False:"),
    (H, 'folders', "& {line.split()[4] for line in mounts}:", "& set():"),
    (H, 'folders', "with contextlib.suppress(OSError), open('/proc/self/mountinfo'", "with open('/proc/self/mountinfo'"),
    (H, 'folders', "if os.fstat(run.dir).st_nlink == 0:", "if False:"),
    (H, 'folders', "kept_name(name, f'pid{os.getpid()}', 0)", "name"),
    (H, 'folders', "'the previous one is untouched' if os.path.lexists(path) else", "'the previous one is untouched' if True else"),
    (H, 'folders', "                    os.fchown(f.fileno(), was.st_uid, was.st_gid)\n", "                    pass\n"),
    (H, 'memory', 'if 6 * 2**10 * L < have else', 'if True else'),
    (H, 'memory', '10 * text_bytes', '0 * text_bytes'),
    (H, 'memory', "fail(f'hidden_size={m.hidden_size} and {V:,} symbols make {size:,} parameters, about '\n             f'{need / 2**30:.1f} GB", "fail(f'hidden_size={m.hidden_size} and {V:,} symbols make {size:,} parameters, about '\n             f'{need / 2**20:.1f} GB"),
    (H, 'memory', "this machine has {have / 2**30:.1f} GB", "this machine has {have / 2**20:.1f} GB"),
    (H, 'memory', '    fits_memory(m, 1, text.st_size)              # before it is read\n', ''),
    (H, 'memory', '    if not stat.S_ISREG(text.st_mode):', '    if False:'),
    # the log's gradient columns and older logs (harness.py)
    (H, 'gradient log', 'np.square(g, dtype=np.float64).sum()', 'np.abs(g).sum()'),
    (H, 'gradient log', 'np.count_nonzero(abs(g) > m.clip)', 'np.count_nonzero(abs(g) > 5)'),
    (H, 'gradient log', "health = f'{norm:.6g},{clipped / sum(g.size for g in grads):.6g}'", "health = f'{norm:.6g},{clipped:.6g}'"),
    (H, 'gradient log', "    run.rows = [row + ',' * (HEADER.count(',') - row.count(',')) for row in rows]", '    run.rows = rows'),
    (H, 'gradient log', "log[0] in HEADERS and log[-1] == ''", "log[0] == HEADER and log[-1] == ''"),
    # resume, new run, rerun (harness.py)
    (H, 'resume', '    elif run.chars != chars:', '    elif len(run.chars) != len(chars):'),
    (H, 'resume', '    elif run.text_sha256 not in (None, text_sha256):', '    elif False:'),
    (H, 'resume', '    elif run.text_sha256 not in (None, text_sha256):', '    elif run.text_sha256 != text_sha256:'),
    (H, 'resume', 'text_sha256, V = hashlib.sha256(data.tobytes()).hexdigest(), len(chars)', 'text_sha256, V = hashlib.sha256(data[1:].tobytes()).hexdigest(), len(chars)'),
    (H, 'new run', 'm.new_run(run, run.data, chars)', 'm.new_run(run, run.data + run.val_data if run.val_data is not None else run.data, chars)'),
    (H, 'new run', '    if need > have:', '    if need > 100 * have:'),
    (H, 'new run', '    keep_earlier_run(run)\n', ''),
    (BOTH, 'new run', 'np.random.default_rng(seed), data, chars', 'np.random.default_rng(seed + 1), data, chars'),
    (H, 'rerun', '    if not old:\n        return\n', '    if old:\n        return\n'),
    (H, 'rerun', 'k = next(k for k in range(2**20) if not any(', 'k = next(k for k in range(1) if not any('),
    (H, 'rerun', '        load_checkpoint(earlier, run.m.checkpoint_path)   # and refuse', '        pass   # and refuse'),
    (H, 'rerun', "    tag = ('' if earlier.n is None else f'iter{earlier.n}-') + stamp", '    tag = stamp'),
    (H, 'rerun', 'time.localtime(os.lstat(old[0]).st_mtime))', 'time.localtime())'),
    (H, 'rerun', 'time.localtime(os.lstat(old[0]).st_mtime))', 'time.localtime(os.lstat(old[-1]).st_mtime))'),
    (H, 'rerun', "tag, f'-{k}' if k else '')", "tag, '')"),
    # data checks (harness.py)
    (H, 'data', 'run.data, run.val_data = data[:len(data) - n_val], (data[len(data) - n_val:] if n_val else None)', 'run.data, run.val_data = data[:len(data) - n_val + 1], (data[len(data) - n_val:] if n_val else None)'),
    (H, 'data', '        if not data or max(map(len, data)) > MAX_LINE + 2:', '        if not data or max(map(len, data)) > MAX_LINE + 3:'),
    (H, 'data', 'n_val < (1 if m.per_line else 2)', 'n_val < 1'),
    (H, 'data', '    short = len(run.data) < (1 if m.per_line else m.seq_length + 1)', '    short = len(run.data) < (1 if m.per_line else m.seq_length)'),
    # held-out loss (harness.py)
    (H, 'held-out', 'm.zero_state() if m.per_line else h, run.params)', 'h, run.params)'),
    (H, 'held-out', '    if run.val_data is None or run.val_iter == run.n or run.n % run.m.eval_every and not final:', '    if run.val_data is None or run.n % run.m.eval_every and not final:'),
    (H, 'held-out', 'or run.n % run.m.eval_every and not final:', 'or run.n % run.m.eval_every:'),
    (H, 'held-out', '    held_out(run, final=True)', '    held_out(run)'),
    (H, 'held-out', '    run.val_iter = run.n\n', ''),
    (H, 'held-out', '        if stop:\n            return                               # a signal', '        if False:\n            return                               # a signal'),
    (H, 'held-out', '    val = run.val_loss = total / sum(len(chunk) - 1 for chunk in chunks)', '    val = run.val_loss = total / sum(len(chunk) for chunk in chunks)'),
    (H, 'held-out', "    say(f'iter {run.n}, held-out loss: {val:.4f} nats/char", "    note(f'iter {run.n}, held-out loss: {val:.4f} nats/char"),
    (H, 'held-out', '{val / np.log(2):.4f} bits/char', '{val / np.log(10):.4f} bits/char'),
    # the log's rows, progress, the end, signals (harness.py)
    (H, 'report', "    if run.rows and run.rows[-1].startswith(f'{run.n},'):", '    if False:'),
    (H, 'report', 'f"{run.val_loss if run.val_iter == run.n else \'\'},{elapsed:.1f},{health}")', 'f"{run.val_loss},{elapsed:.1f},{health}")'),
    (H, 'report', '    run.rows.append(row)\n', ''),
    (H, 'report', '    if run.val_data is not None and not stop:\n        log_row(run)\n', ''),
    (H, 'report', '    if grads and run.n > run.n0:', '    if grads and run.n >= run.n0:'),
    (H, 'report', '        rate = (run.n - run.n0) / max(time.time() - run.t0, 1e-9)', '        rate = run.n / max(time.time() - run.t0, 1e-9)'),
    (H, 'report', '{left // 3600} h {left % 3600 // 60} min', '{left // 3600} h {left // 60} min'),
    (H, 'report', '    save_checkpoint(run)\n    rate', '    rate'),
    (H, 'report', "    how = f'continue with --resume=True --checkpoint_path={run.m.checkpoint_path}' if stop else 'done'", "    how = 'done'"),
    (H, 'report', '    elapsed = run.elapsed + time.time() - run.t0', '    elapsed = time.time() - run.t0'),
    (H, 'report', '    elapsed = run.elapsed + time.time() - run.t0', '    elapsed = run.elapsed'),
    (H, 'signals', "        sys.exit(128 + stop[0])\n\n# sampling", "        sys.exit(1)\n\n# sampling"),
    (H, 'signals', "        sys.exit(128 + stop[0])\n\n# sampling", "        sys.exit(130)\n\n# sampling"),
    (H, 'signals', "cut short')\n        sys.exit(128 + stop[0])", "cut short')\n        sys.exit(0)"),
    (H, 'signals', 'while left > 0 and todo > 0 and not stop:', 'while left > 0 and todo > 0:'),
    (H, 'signals', '        if argv is not None:                     # else', '        if True:                     # else'),
    (H, 'signals', "SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGXCPU']", "SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP']"),
    (H, 'signals', "SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGXCPU']", "SIGNALS = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGXCPU']"),
    (H, 'signals', 'lambda signum, _: stop.append(signum))', 'lambda signum, _: stop.append(signal.SIGINT))'),
    (H, 'signals', '    stop.clear()\n    try:', '    try:'),
    (H, 'signals', '            for sig, handler in run.handlers.items():\n                signal.signal(sig, handler)\n', ''),
    (H, 'signals', '            signal.signal(sig, handler)', '            signal.signal(sig, signal.SIG_DFL)'),
    (H, 'signals', '                stop.append(SIGPIPE)\n                finish(run)', '                finish(run)'),
    (H, 'signals', "for sig in (getattr(signal, name) for name in SIGNALS if hasattr(signal, name))}", "for sig in (getattr(signal, name) for name in SIGNALS[:2])}"),
    (H, 'lock', "except (BlockingIOError, PermissionError):", "except BlockingIOError:"),
    (H, 'lock', "            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)", "            pass"),
    (H, 'folders', "    run.input_path = found if same and found else os.path.abspath(m.input_file)", "    run.input_path = os.path.abspath(m.input_file)"),
    (H, 'folders', "        if e.filename == getattr(run, 'input_path', None):", "        if e.filename == m.input_file:"),
    (H, 'data', "{len(chars) if len(data) else 0} unique.", "{len(chars)} unique."),
    (H, 'signals', 'except KeyboardInterrupt:                          # Ctrl-C while NumPy loads', 'except ImportError:                                # Ctrl-C while NumPy loads'),
    # sampling a saved model (harness.py)
    (H, 'generate', "start = [ix_of.get('\\n', 0)] * (m.per_line or not prime)", "start = [ix_of.get('\\n', 0)] * (not prime)"),
    (H, 'generate', "    print('' if last.endswith('\\n') else '\\n', end='', flush=True)", "    print('', end='', flush=True)"),
    (H, 'generate', "    if m.lines and '\\n' not in ix_of:", '    if False:'),
    (H, 'generate', 'for ch in (ch for ch in prime if ch not in ix_of):', "for ch in (ch for ch in prime if ch not in ix_of and ch != 'Q'):"),
    (H, 'generate', "        piece = '\\n'.join(parts[:todo]) + ('\\n' if len(parts) > todo else '')", "        piece = '\\n'.join(parts[:todo]) + ('\\n' if len(parts) > todo + 1 else '')"),
    (H, 'generate', "        parts = piece[:left].split('\\n')", "        parts = piece[:left + 1].split('\\n')"),
    (H, 'generate', 'ix, rng, last = start[-1], np.random.default_rng(m.seed),', 'ix, rng, last = start[-1], run.rng,'),
    (H, 'generate', "m.lines - last.count('\\n') if m.lines else sys.maxsize", 'm.lines if m.lines else sys.maxsize'),
    (H, 'generate', 'min(left, 10000, 2**20 // len(ix_of) + 1)', 'min(left, 10000)'),
    (H, 'generate', '        generate_text(run) if m.generate or m.lines else m.train(run)', '        generate_text(run) if m.generate else m.train(run)'),
    (('tools/cli.py',), 'generate', "'--generate=1', '--dtype=float64'], run)", "'--generate=1'], run)"),
    # the tools
    (('tools/loss_by_position.py',), 'tools', "if isinstance(e, OSError) else e   #", "if False else e   #"),
    (('tools/inspect_text.py',), 'tools', '{html.escape(ch)}</span>', '{ch}</span>'),
    (('tools/inspect_text.py',), 'tools', '.replace(chr(34), "&quot;")', ''),
    (('tools/inspect_text.py',), 'tools', '-np.mean(np.log([p for p in probs[1:]]))', '-np.mean(np.log2([p for p in probs[1:]]))'),
    (('tools/inspect_text.py',), 'tools', 'for i in sorted(five, key=lambda i: (-p[i], i))]', 'for i in sorted(five)]'),
    (('tools/inspect_text.py',), 'tools', 'scale[list(ls), None] * 7), -7, 7)', 'scale[list(ls), None] * 8), -7, 7)'),
    (('tools/inspect_text.py',), 'tools', '+ [(layer - 1, u) for u in range(H)]', '+ [(L - 1, u) for u in range(H)]'),
    (('tools/inspect_text.py',), 'tools', 'window.onhashchange = follow;', ''),
    (('tools/inspect_text.py',), 'tools', "'rgba(70,130,255,'", "'rgba(40,90,230,'"),
    (('tools/inspect_text.py',), 'tools', '  if (e.target.title) document', '  if (false) document'),
    (('tools/cli.py',), 'tools', '        h = hs[..., len(piece) - 1, :]', '        h = m.zero_state()'),
    (('tools/cli.py',), 'tools', 'step or max(1, 2**20 // len(params[-1]))', 'step or max(1, 2**40 // len(params[-1]))'),
    (('tools/cli.py',), 'tools', '    if not text_file and not os.path.exists(path):', '    if False:'),
    (('tools/cli.py',), 'tools', '        if n and n > size - start or size - start < 2:', '        if n and n > size - start:'),
    (('tools/gradient_reach.py',), 'tools', 'dy.append(ps[ts[(ts >= a) & (ts < a + len(ps))] - a])', 'dy.append(ps[ts[(ts >= a) & (ts < a + len(ps))] - a - 1])'),
    (('tools/novelty.py',), 'tools', 'only_held_out = sum(s in held_out and s not in train for s in samples)', 'only_held_out = sum(s in held_out for s in samples)'),
    (('tools/loss_vs_size.py',), 'tools', "train=meta['smooth_loss'] / chars_per_seq)", "train=meta['smooth_loss'])"),
    (('tools/loss_table.py',), 'tools', 'if e[2] <= 60 * m]', 'if e[2] < 60 * m]'),
    (('tools/loss_table.py',), 'tools', "divmod(round(meta['elapsed']), 60)\n        if until", "divmod(int(meta['elapsed']), 60)\n        if until"),
    (('tools/cli.py',), 'tools', '    if not stat.S_ISREG(os.stat(path).st_mode):', '    if False:'),
    (('tools/prepare_titles.py',), 'tools', "os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0)", 'os.O_WRONLY | os.O_CREAT | os.O_TRUNC'),
    (('tools/prepare_titles.py',), 'tools', "f'sha256 {hashlib.sha256(data).hexdigest()}'", "f'sha256 {hashlib.sha256(data[1:]).hexdigest()}'"),
    # main (harness.py)
    (H, 'main', "        fail(f'cannot write {e.filename}: {e.strerror}')", '        raise'),
    (H, 'main', "        fail(f'{m.input_file} is not UTF-8 text (byte {e.start}); convert it to UTF-8')", '        raise'),
    (H, 'main', '        if e.filename is None and e.errno in (errno.EPIPE, errno.EIO):', '        if e.filename is None and e.errno in (errno.EPIPE,):'),
]

# Survivors that are known and why (filled in from measured runs; see docs/testing.md).
MUTANTS += [   # the gated cells: the gates, the cell state's path, the state carried, sampling
    (('lstm.py',), 'cell', 'c = f * c + i * g ', 'c = c + i * g '),
    (('lstm.py',), 'cell', 'return o * np.tanh(c), c, (i, f, o, g)', 'return o * c, c, (i, f, o, g)'),
    (('lstm.py',), 'cell', 's[..., H:2 * H], s[..., 2 * H:]', 's[..., 2 * H:], s[..., H:2 * H]'),
    (('lstm.py',), 'backward', 'dc = dcnext + dcdhs[t] * dh ', 'dc = dcdhs[t] * dh '),
    (('lstm.py',), 'backward', 'dcnext = f[t] * dc ', 'dcnext = dc '),
    (('lstm.py',), 'backward', 'np.concatenate((dc, dc, dh, dc))', 'np.concatenate((dc, dc, dc, dh))'),
    (('lstm.py',), 'init', 'np.repeat([0, forget_bias, 0, 0], hidden_size)', 'np.repeat([forget_bias, 0, 0, 0], hidden_size)'),
    (('lstm.py',), 'sampling', 'h, c, _ = cell(Wxh[:, ix] + bh + np.dot(Whh, h), c)', 'h, _, _ = cell(Wxh[:, ix] + bh + np.dot(Whh, h), c)'),
    (('lstm.py',), 'backward', 'np.array([hs[T - 1], cs[T - 1]])', 'np.array([hs[T - 1], cs[T - 2]])'),
    (('gru.py',), 'cell', 'hs[t] = z * hs[t - 1] + (1 - z) * g ', 'hs[t] = (1 - z) * hs[t - 1] + z * g '),
    (('gru.py',), 'cell', 'np.dot(Whg, r * hs[t - 1])', 'np.dot(Whg, hs[t - 1])'),
    (('gru.py',), 'backward', 'dhnext = z[t] * dh + r[t] * drh + np.dot(drzraw, Whrz)', 'dhnext = r[t] * drh + np.dot(drzraw, Whrz)'),
    (('gru.py',), 'backward', 'np.concatenate((drh, dh))', 'np.concatenate((dh, drh))'),
    (('gru.py',), 'backward', 'np.dot(draws[:, 2 * H:].T, r * hprevs)', 'np.dot(draws[:, 2 * H:].T, hprevs)'),
    (('gru.py',), 'backward', 'dgs, drzs = (1 - z) * (1 - g * g)', 'dgs, drzs = (1 - g * g)'),
    (('gru.py',), 'sampling', 'h = z * h + (1 - z) * g ', 'h = (1 - z) * h + z * g '),
]
KNOWN = {}


def mutants(only=None, areas=None):
    for files, area, before, after in MUTANTS:
        for file in files:
            if only in (None, file) and (areas is None or area in areas):
                yield file, area, before, after


def run_one(file, before, after):
    """'killed' or 'survived' (and seconds) for one mutant, in its own copy of the repository."""
    with tempfile.TemporaryDirectory() as tmp:
        for f in TRACKED:                        # the working tree's tracked files, in a repository of their own
            os.makedirs(os.path.join(tmp, os.path.dirname(f)), exist_ok=True)
            shutil.copy(os.path.join(ROOT, f), os.path.join(tmp, f))
        subprocess.run('git init -q && git add -A', shell=True, cwd=tmp, check=True)
        path = os.path.join(tmp, file)
        source = open(path).read()
        if source.count(before) != 1:
            return 'not applicable: the piece occurs %d times' % source.count(before), 0.0
        open(path, 'w').write(source.replace(before, after))
        others = ['-k', ' and '.join(f'not {s[:-3]}' for s in SCRIPTS if s != file)] if file in SCRIPTS else []
        order = ORDER if file in FILES else sorted(ORDER, key=lambda t: t[11:-3] not in TOOL_TESTS)   # theirs first
        start = time.time()
        try:
            r = subprocess.run([sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider', *order,
                                *others], cwd=tmp, capture_output=True, text=True, timeout=600)
            result = 'survived' if r.returncode == 0 else 'killed'
        except subprocess.TimeoutExpired:
            result = 'killed'
        return result, time.time() - start


def main(argv):
    opts = dict(a[2:].partition('=')[::2] for a in argv if a.startswith('--'))
    if {'-h', '--help'} & set(argv) or set(opts) - {'jobs', 'only', 'area', 'list'}:
        print(__doc__.strip())
        return
    todo = list(mutants(opts.get('only'), opts['area'].split(',') if 'area' in opts else None))
    if 'list' in opts:
        for file, area, before, after in todo:
            print(f'{file:16} {area:14} {before!r} -> {after!r}')
        return
    results = []
    with concurrent.futures.ThreadPoolExecutor(int(opts.get('jobs', 2))) as pool:
        futures = {pool.submit(run_one, file, before, after): (file, area, before, after)
                   for file, area, before, after in todo}
        for future in concurrent.futures.as_completed(futures):
            (file, area, before, after), (result, seconds) = futures[future], future.result()
            results.append((file, area, before, after, result))
            print(f'{result:9} {seconds:5.0f} s  {file:16} {area:14} {before.strip()[:60]!r}', flush=True)
    print('\n| file | area | killed / mutants |\n| --- | --- | --- |')
    for file in dict.fromkeys(FILES + tuple(r[0] for r in results)):
        mine = [r for r in results if r[0] == file]
        for area in dict.fromkeys(r[1] for r in mine):
            rows = [r for r in mine if r[1] == area]
            print(f'| {file} | {area} | {sum(r[4] == "killed" for r in rows)} / {len(rows)} |')
        if mine:
            print(f'| {file} | **all** | **{sum(r[4] == "killed" for r in mine)} / {len(mine)}** |')
    survivors = [r for r in results if r[4] != 'killed']
    print(f'\n{len(survivors)} survivors:' if survivors else '\nno survivors')
    for file, area, before, after, result in survivors:
        print(f'- {file} ({area}): {before.strip()!r} -> {after.strip()!r} [{result}] {KNOWN.get((file, before), "")}')


if __name__ == '__main__':
    main(sys.argv[1:])
