"""Mutation testing: seed realistic one-line bugs into each script, count the ones the test suite catches.

usage: python tools/mutate.py [--jobs=2] [--only=SCRIPT] [--area=AREA[,AREA]] [--list]

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
ORDER = [f'tests/test_{name}.py' for name in     # the quick files that catch most first; every file runs
         ('gradients', 'loop', 'training', 'names', 'plumbing', 'workflow', 'session', 'errors', 'faults',
          'discussion', 'inspect')]
BOTH = ('min_char_rnn.py', 'rnn3.py')

# (scripts, area, piece of the script, what it becomes)
MUTANTS = [
    (BOTH, 'data', "chars = sorted(set(text)) or ['\\n']", "chars = sorted(set(text[1:])) or ['\\n']"),
    (BOTH, 'data', 'np.concatenate(([nl], data[a + 1:b], [nl]))', 'np.concatenate(([nl], data[a:b], [nl]))'),
    (BOTH, 'data', 'if per_line else (seq_length + 1, 2)', 'if per_line else (seq_length + 1, 1)'),
    (('min_char_rnn.py',), 'forward', 'np.tanh(xh_t + Whh.dot(h_prev), out=h_t)', 'np.tanh(xh_t + Whh.T.dot(h_prev), out=h_t)'),
    (('min_char_rnn.py',), 'forward', 'xh = Wxh.T[inputs] + bh ', 'xh = Wxh.T[inputs] '),
    (('min_char_rnn.py',), 'forward', 'ys = hs[1:].dot(Why.T) + by', 'ys = hs[:-1].dot(Why.T) + by'),
    (('rnn3.py',), 'forward', 'hs[l - 1, 1:].dot(Wxh[l].T)) + bh[l]', 'hs[l - 1, 1:].dot(Wxh[l].T)) + bh[0]'),
    (('rnn3.py',), 'forward', 'hs[l - 1, 1:].dot(Wxh[l].T)) + bh[l]', 'hs[l - 1, :-1].dot(Wxh[l].T)) + bh[l]'),
    (('rnn3.py',), 'forward', 'np.tanh(xh_t + Whh[l].dot(h_prev), out=h_t)', 'np.tanh(xh_t + Whh[l].T.dot(h_prev), out=h_t)'),
    (('rnn3.py',), 'forward', 'ys = hs[-1, 1:].dot(Why.T) + by', 'ys = hs[-2, 1:].dot(Why.T) + by'),
    (BOTH, 'loss', 'z = ys - ys.max(axis=1, keepdims=True)', 'z = ys - 0'),
    (BOTH, 'loss', 'loss = -(z[np.arange(len(targets)), targets] - np.log(e.sum(axis=1))).sum()', 'loss = -(z[np.arange(len(targets)), targets]).sum()'),
    (BOTH, 'loss', 'ps = e / e.sum(axis=1, keepdims=True)', 'ps = e / e.sum()'),
    (BOTH, 'backward', 'dy[np.arange(len(targets)), targets] -= 1', 'dy[np.arange(len(targets)), targets] -= 0.5'),
    (('min_char_rnn.py',), 'backward', 'dtanh = 1 - hs[1:] * hs[1:]', 'dtanh = 1 - hs[:-1] * hs[:-1]'),
    (('min_char_rnn.py',), 'backward', 'dhnext = dhraw_t.dot(Whh) ', 'dhnext = dhraw_t.dot(Whh.T) '),
    (('min_char_rnn.py',), 'backward', 'dWhh, dbh = dhraw.T.dot(hs[:-1])', 'dWhh, dbh = dhraw.T.dot(hs[1:])'),
    (BOTH, 'backward', 'np.multiply(dh_t + dhnext, dtanh_t, out=dhraw_t)', 'np.multiply(dh_t, dtanh_t, out=dhraw_t)'),
    (('rnn3.py',), 'backward', 'dhnext = dhraw_t.dot(Whh[l])', 'dhnext = dhraw_t.dot(Whh[l].T)'),
    (('rnn3.py',), 'backward', 'dh = dhraw.dot(Wxh[l])', 'dh = dhraw.dot(Wxh[l].T)'),
    (('rnn3.py',), 'backward', 'if l == 0 else hs[l - 1, 1:]\n', 'if l == 0 else hs[l, 1:]\n'),
    (('rnn3.py',), 'backward', 'dtanh = 1 - hs[l, 1:] * hs[l, 1:]', 'dtanh = 1 - hs[l, 1:] * hs[l, :-1]'),
    (('min_char_rnn.py',), 'clip+adagrad', 'np.clip(dtheta, -clip, clip, out=dtheta)', 'np.clip(dtheta, -clip, 5, out=dtheta)'),
    (('min_char_rnn.py',), 'clip+adagrad', '    if clip:\n        np.clip(dtheta', '    if True:\n        np.clip(dtheta'),
    (('min_char_rnn.py',), 'clip+adagrad', 'mem += dtheta * dtheta', 'mem += dtheta'),
    (('min_char_rnn.py',), 'clip+adagrad', 'theta -= learning_rate * dtheta / np.sqrt(mem + 1e-8)', 'theta -= learning_rate * dtheta / np.sqrt(mem + 1e-4)'),
    (('rnn3.py',), 'clip+adagrad', 'np.clip(dparam, -clip, clip, out=dparam)', 'np.clip(dparam, -5, 5, out=dparam)'),
    (('rnn3.py',), 'clip+adagrad', '        if clip:\n            np.clip(dparam', '        if True:\n            np.clip(dparam'),
    (BOTH, 'gradient log', 'np.square(g, dtype=np.float64).sum()', 'np.abs(g).sum()'),
    (BOTH, 'gradient log', 'np.count_nonzero(abs(g) > clip)', 'np.count_nonzero(abs(g) > 5)'),
    (BOTH, 'gradient log', "health = f'{norm:.6g},{clipped / sum(g.size for g in grads):.6g}'", "health = f'{norm:.6g},{clipped:.6g}'"),
    (BOTH, 'gradient log', "            report(run, sample_ix, grads) ", "            report(run, sample_ix) "),
    (BOTH, 'gradient log', "    run.rows = [row + ',' * (HEADER.count(',') - row.count(',')) for row in run.rows]", "    pass"),
    (BOTH, 'gradient log', "log[0] in HEADERS", "log[0] == HEADER"),
    (BOTH, 'settings', "'clip': ('>= 0', lambda v: 0 <= v < math.inf)", "'clip': ('>= 0', lambda v: 0 < v < math.inf)"),
    (BOTH, 'sampling', 'noise = -temperature * np.log(-np.log(rng.random((n, len(by)))))', 'noise = -np.log(-np.log(rng.random((n, len(by)))))'),
    (('min_char_rnn.py',), 'sampling', 'h = np.tanh(xh[ix] + Whh.dot(h))', 'h = np.tanh(xh[ix] + Whh.dot(h) + bh)'),
    (('min_char_rnn.py',), 'sampling', 'ixes, ix = [], seed_ix', 'ixes, ix = [], 0'),
    (('rnn3.py',), 'sampling', 'ixes, ix, h = [], seed_ix, h.copy()', 'ixes, ix = [], seed_ix'),
    (('rnn3.py',), 'sampling', 'ix = int((Why.dot(h[-1]) + by + g).argmax())', 'ix = int((Why.dot(h[0]) + by + g).argmax())'),
    (BOTH, 'sampling', '        if ix == stop_ix:\n            break\n', ''),
    (BOTH, 'loop', 'if p + seq_length + 1 > len(data):', 'if p + seq_length + 1 >= len(data):'),
    (BOTH, 'loop', 'np.random.default_rng([seed, epoch])', 'np.random.default_rng(seed)'),
    (BOTH, 'held-out', 'return total / sum(len(chunk) - 1 for chunk in chunks)', 'return total / sum(len(chunk) for chunk in chunks)'),
    (BOTH, 'checkpoint', "assert meta['script'] == SCRIPT", "assert meta['script'] or SCRIPT"),
    (BOTH, 'signals', '        if stop:\n            return None\n', ''),
    (BOTH, 'signals', 'sys.exit(128 + stop[0])', 'sys.exit(130)'),
    (BOTH, 'errors', 'if not np.isfinite(loss):', 'if np.isnan(loss):'),
    (BOTH, 'errors', '    if need > have:', '    if need > 1e15:'),
    (('min_char_rnn.py',), 'init', "rng.standard_normal(shape) * 0.01 if name[0] == 'W'", "rng.standard_normal(shape) * 0.1 if name[0] == 'W'"),
    (('rnn3.py',), 'init', "rng.standard_normal(shape) * 0.01 if name[0] == 'W'", "rng.standard_normal(shape) * 0.01 if name[:3] == 'Whh'"),
    (('rnn3.py',), 'clip+adagrad', 'm += dparam * dparam', 'm += dparam'),
    (('rnn3.py',), 'clip+adagrad', 'param -= learning_rate * dparam / np.sqrt(m + 1e-8)', 'param -= learning_rate * dparam / (m + 1e-8)'),
    (('rnn3.py',), 'sampling', 'else Wxh[l].dot(h[l - 1]) + bh[l])', 'else Wxh[l].dot(h[l - 1]) + bh[0])'),
    (BOTH, 'sampling', '        if ix == stop_ix:\n            break\n        ixes.append(ix)', '        ixes.append(ix)\n        if ix == stop_ix:\n            break'),
    (BOTH, 'loop', 'run.hprev, p = zero_state(), 0', 'run.hprev, p = run.hprev, 0'),
    (BOTH, 'loop', 'run.p, run.n = p + seq_length, n + 1', 'run.p, run.n = p + seq_length - 1, n + 1'),
    (BOTH, 'loop', 'run.smooth_loss = run.smooth_loss * 0.999 + float(loss) * 0.001', 'run.smooth_loss = run.smooth_loss * 0.99 + float(loss) * 0.01'),
    (BOTH, 'loop', 'inputs, targets, run.hprev = seq[:-1], seq[1:], zero_state()', 'inputs, targets = seq[:-1], seq[1:]'),
    (BOTH, 'loop', '        if stop:\n            break ', '        if False:\n            break '),
    (BOTH, 'loop', 'if run.n % checkpoint_every == 0:', 'if n % checkpoint_every == 0:'),
    (BOTH, 'output', '        stop.append(signal.SIGPIPE)\n', '        pass\n'),
    (BOTH, 'output', "    sys.exit(f'{SCRIPT}: error: {msg}')", "    sys.exit(f'{SCRIPT}: {msg}')"),
    (BOTH, 'output', "    say(f'{SCRIPT}: {msg}', sys.stderr)", "    say(f'{SCRIPT}: {msg}')"),
    (BOTH, 'output', '        print(text, file=stream, flush=True)', '        print(text, file=stream)'),
    (BOTH, 'settings', "    if not arg.startswith('--') or not eq:", '    if not eq:'),
    (BOTH, 'settings', '    if name not in config_keys:\n', '    if name in ():\n'),
    (BOTH, 'settings', "config.update({k: check(k, v, '--' + k) for k, v in given.items()})", 'config.update({k: v for k, v in given.items()})'),
    (BOTH, 'settings', "changed = [f'{k}={v}' for k, v in adopt.items() if v != config[k]]", 'changed = []'),
    (BOTH, 'settings', "config = {k: check(k, globals()[k], f'{k} at the top of {SCRIPT}') for k in config_keys}", 'config = {k: globals()[k] for k in config_keys}'),
    (BOTH, 'lock', '            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n', ''),
    (BOTH, 'lock', '        if run.lock is not None:                 # removed while still held: see lock()', '        if False:'),
    (BOTH, 'lock', '    if not sampling:\n        lock(run, path)\n', ''),
    (BOTH, 'checkpoint', '    whole = lambda v: type(v) is int and v >= 0', '    whole = lambda v: type(v) is int'),
    (BOTH, 'checkpoint', '    real = lambda v: type(v) in (int, float) and math.isfinite(v)', '    real = lambda v: type(v) in (int, float)'),
    (BOTH, 'checkpoint', "            assert ok(meta[k]), f'its {k} is damaged'", '            pass'),
    (BOTH, 'checkpoint', '        assert meta[\'script\'] == SCRIPT, f"it was written by {meta[\'script\']}"\n', ''),
    (BOTH, 'checkpoint', "if k not in arrays or arrays[k].shape != shape or arrays[k].dtype.kind != 'f':", "if k not in arrays or arrays[k].dtype.kind != 'f':"),
    (BOTH, 'checkpoint', 'elapsed=seconds(run), rng=run.rng.bit_generator.state,', 'elapsed=run.elapsed, rng=run.rng.bit_generator.state,'),
    (BOTH, 'data', 'return [np.concatenate(([nl], data[a + 1:b], [nl])) for a, b in zip(starts, ends) if b > a + 1]', 'return [np.concatenate(([nl], data[a + 1:b], [nl])) for a, b in zip(starts, ends) if b > a]'),
    (BOTH, 'data', 'np.concatenate(([nl], data[a + 1:b], [nl]))', 'np.concatenate(([nl], data[a:b], [nl]))'),
    (BOTH, 'data', 'run.data, run.val_data = data[:len(data) - n_val], (data[len(data) - n_val:] if n_val else None)', 'run.data, run.val_data = data[:len(data) - n_val + 1], (data[len(data) - n_val:] if n_val else None)'),
    (BOTH, 'data', '        if not data or max(map(len, data)) > MAX_LINE + 2:', '        if not data or max(map(len, data)) > MAX_LINE + 3:'),
    (BOTH, 'data', 'if per_line else (seq_length + 1, 2)', 'if per_line else (seq_length + 1, 1)'),
    (BOTH, 'data', '    if len(run.data) < seq_length + 1 and not per_line:', '    if len(run.data) < seq_length and not per_line:'),
    (BOTH, 'resume', '    elif run.chars != chars:', '    elif len(run.chars) != len(chars):'),
    (BOTH, 'resume', '    elif run.text_sha256 not in (None, text_sha256):', '    elif False:'),
    (BOTH, 'new run', 'smooth_loss=np.log(V) * run.chars_per_seq)', 'smooth_loss=np.log(V) * seq_length)'),
    (BOTH, 'new run', '    if need > have:', '    if need > 100 * have:'),
    (BOTH, 'new run', '    keep_earlier_run()\n', ''),
    (BOTH, 'new run', '    run.rng = np.random.default_rng(seed)', '    run.rng = np.random.default_rng(seed + 1)'),
    (BOTH, 'rerun', '    if not old:\n        return\n', '    if old:\n        return\n'),
    (BOTH, 'rerun', '        k += 1\n', '        break\n'),
    (BOTH, 'signals', 'for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}', 'for sig in (signal.SIGINT, signal.SIGTERM)}'),
    (BOTH, 'signals', '    stop.clear()\n', ''),
    (BOTH, 'signals', '        sys.exit(128 + stop[0])', '        sys.exit(1)'),
    (BOTH, 'signals', '        for sig, handler in run.handlers.items():\n            signal.signal(sig, handler)\n', ''),
    (BOTH, 'held-out', 'zero_state() if per_line else h, params)', 'h, params)'),
    (BOTH, 'held-out', '    if run.val_data is None or run.val_iter == run.n or run.n % eval_every and not final:', '    if run.val_data is None or run.n % eval_every and not final:'),
    (BOTH, 'held-out', '        held_out(run, final=True)', '        held_out(run)'),
    (BOTH, 'held-out', '        run.val_loss, run.val_iter = val, run.n', '        run.val_loss = val'),
    (BOTH, 'held-out', '        if stop:\n            return None\n', ''),
    (BOTH, 'held-out', '    return total / sum(len(chunk) - 1 for chunk in chunks)', '    return total / sum(len(chunk) for chunk in chunks)'),
    (BOTH, 'report', '    if run.n > run.n0:\n', '    if run.n >= run.n0:\n'),
    (BOTH, 'report', '    save_checkpoint(run)\n    rate', '    rate'),
    (BOTH, 'report', "    how = f'continue with --resume=True --checkpoint_path={checkpoint_path}' if stop else 'done'", "    how = 'done'"),
    (BOTH, 'generate', "start = [ix_of.get('\\n', 0)] * (per_line or not prime)", "start = [ix_of.get('\\n', 0)] * (not prime)"),
    (BOTH, 'generate', "    print('' if last.endswith('\\n') else '\\n', end='', flush=True)", "    print('', end='', flush=True)"),
    (BOTH, 'generate', "    if lines and '\\n' not in ix_of:", '    if False:'),
    (BOTH, 'generate', '        if ch not in ix_of:', "        if ch not in ix_of and ch != 'Q':"),
    (BOTH, 'main', '        generate_text(run) if generate or lines else train(run)', '        generate_text(run) if generate else train(run)'),
    (BOTH, 'settings', "near = ''.join(f'; did you mean --{k}?' for k in difflib.get_close_matches(name, config_keys, 1))", "near = ''"),
    (BOTH, 'settings', 'config_keys = [name for _, name, _ in read_block() if name]', 'config_keys = [name for _, name, _ in read_block()]'),
    (BOTH, 'settings', "        print(f'\\n{heading}:' if heading else f'  --{name}={value}'.ljust(38) + ' ' + comment)", "        print(f'\\n{heading}:' if heading else f'  --{name}={value}'.ljust(38))"),
    (BOTH, 'settings', "        value = repr('') if globals().get(name) == '' else globals().get(name)", '        value = globals().get(name)'),
    (BOTH, 'settings', "return re.findall(r'^# (.*)$|^(\\w+) = .*?(?:\\s# (.*))?$', block, re.M)", "return re.findall(r'^# (.*)$|^(\\w+) = .*?(?:# (.*))?$', block, re.M)"),
    (BOTH, 'settings', "else {'true': True, '1': True, 'false': False, '0': False}[value.lower()]", "else {'true': True, '1': True, 'false': False, '0': True}[value.lower()]"),
    (BOTH, 'settings', 'int(value) if KIND[name] is int and value.isdigit()', 'int(value) if value.isdigit()'),
    (BOTH, 'settings', "KIND = {k: int if k in COUNTS else bool if k in ('per_line', 'resume') else float", "KIND = {k: int if k in COUNTS else bool if k in ('per_line',) else float"),
    (BOTH, 'settings', 'lambda v: v >= COUNTS[name]) if kind is int', 'lambda v: v > COUNTS[name]) if kind is int'),
    (BOTH, 'settings', "('in [0, 1)', lambda v: 0 <= v < 1)", "('in [0, 1)', lambda v: 0 <= v <= 1)"),
    (BOTH, 'settings', "float: ('positive', lambda v: 0 < v < math.inf)", "float: ('positive', lambda v: 0 < v)"),
    (BOTH, 'settings', "lambda v: v.endswith('.npz'))", "lambda v: '.npz' in v)"),
    (BOTH, 'settings', '(kind is float or float(value).is_integer())', '(kind is float or True)'),
    (BOTH, 'settings', '    if type(value) is not kind or ok and not ok(value):', '    if ok and not ok(value):'),
    (BOTH, 'settings', "    if sampling and resuming or not sampling and {'prime', 'temperature'} & set(given):", "    if not sampling and {'prime', 'temperature'} & set(given):"),
    (BOTH, 'settings', "not sampling and {'prime', 'temperature'} & set(given)", "not sampling and {'prime'} & set(given)"),
    (BOTH, 'settings', "and k not in ACTIONS and (resuming or k in MODEL + ['dtype'])}", 'and k not in ACTIONS and (resuming or k in MODEL)}'),
    (BOTH, 'settings', '        if k in given and k in record and given[k] != record[k]:', '        if False:'),
    (BOTH, 'settings', '    if resuming and run.n >= max_iters:', '    if resuming and run.n > max_iters:'),
    (BOTH, 'lock', "    for tmp in glob.glob(glob.escape(os.path.realpath(path)) + '.*.tmp') + glob.glob(\n            glob.escape(os.path.realpath(path[:-4] + '.csv')) + '.*.tmp'):\n        os.remove(tmp)\n", ''),
    (BOTH, 'lock', '        if os.path.exists(run.lock_path) and os.path.samestat(os.fstat(fd), os.stat(run.lock_path)):', '        if True:'),
    (BOTH, 'checkpoint', "    run.hprev, on_disk = arrays['hprev'].astype(dtype), []", '    run.hprev, on_disk = zero_state(), []'),
    (BOTH, 'checkpoint', "{k: meta[k] for k in STATE}, rows=", "{k: meta[k] for k in STATE if k != 'p'}, p=0, rows="),
    (BOTH, 'checkpoint', '            os.replace(tmp, os.path.realpath(path))', '            os.replace(tmp, path)'),
    (BOTH, 'checkpoint', "        tmp = f'{os.path.realpath(path)}.{os.getpid()}.tmp'", "        tmp = f'{os.path.realpath(path)}.tmp'"),
    (BOTH, 'checkpoint', '            with contextlib.suppress(OSError):\n                os.remove(tmp)\n            fail(', '            fail('),
    (BOTH, 'checkpoint', '                write(f)\n                f.flush()\n', '                write(f)\n'),
    (BOTH, 'checkpoint', "        run.rows = [row for row in on_disk if row.split(',')[0].isdigit() and int(row.split(',')[0]) < run.n]", "        run.rows = [row for row in on_disk if row.split(',')[0].isdigit() and int(row.split(',')[0]) <= run.n]"),
    (BOTH, 'checkpoint', '    if len(on_disk) > len(run.rows) and resume:', '    if len(on_disk) > len(run.rows) + 1 and resume:'),
    (BOTH, 'resume', 'text_sha256, V = hashlib.sha256(data.tobytes()).hexdigest(), len(chars)', 'text_sha256, V = hashlib.sha256(data[1:].tobytes()).hexdigest(), len(chars)'),
    (BOTH, 'rerun', "    if old[-1].endswith('.csv') and open(old[-1], 'rb').readline().strip() not in map(str.encode, HEADERS):", '    if False:'),
    (BOTH, 'rerun', '        load_checkpoint(earlier, checkpoint_path)   # and refuse', '        pass   # and refuse'),
    (BOTH, 'rerun', "    tag = ('' if earlier.n is None else f'iter{earlier.n}-') + stamp", '    tag = stamp'),
    (BOTH, 'log', "    if run.rows and run.rows[-1].startswith(f'{run.n},'):", '    if False:'),
    (BOTH, 'log', 'f"{run.val_loss if run.val_iter == run.n else \'\'},{seconds(run):.1f},{health}")', 'f"{run.val_loss},{seconds(run):.1f},{health}")'),
    (BOTH, 'log', "np.frombuffer('\\n'.join([HEADER, *run.rows, '']).encode('utf-8'), np.uint8)", "np.frombuffer('\\n'.join([HEADER, *run.rows]).encode('utf-8'), np.uint8)"),
    (BOTH, 'log', '    run.rows.append(row)\n    if sample_ix', '    if sample_ix'),
    (BOTH, 'report', '        if not stop:\n            report(run)\n', ''),
    (BOTH, 'report', '        if run.n > run.n0:\n', '        if run.n >= run.n0:\n'),
    (BOTH, 'generate', "        piece = '\\n'.join(parts[:todo]) + ('\\n' if len(parts) > todo else '')", "        piece = '\\n'.join(parts[:todo]) + ('\\n' if len(parts) >= todo else '')"),
    (BOTH, 'generate', "        parts = piece[:left].split('\\n')", "        parts = piece[:left + 1].split('\\n')"),
    (BOTH, 'generate', '    ix, rng = start[-1], np.random.default_rng(seed)', '    ix, rng = start[-1], run.rng'),
    (BOTH, 'generate', "    left, todo = generate or MAX_LINE * lines, lines - last.count('\\n') if lines else sys.maxsize", '    left, todo = generate or MAX_LINE * lines, lines if lines else sys.maxsize'),
    (BOTH, 'main', '        fail(f"cannot {\'read input file\' if e.filename == input_file else \'write\'} {e.filename}: "\n             f\'{e.strerror}\')', '        raise'),
    (BOTH, 'main', "        fail(f'{input_file} is not UTF-8 text (byte {e.start}); convert it to UTF-8')", '        raise'),
    (BOTH, 'main', '                os.remove(run.lock_path)', '                pass'),
    (BOTH, 'output', "    sys.exit(f'{SCRIPT}: error: {msg}')", '    sys.exit(1)'),
    (BOTH, 'output', "    sys.exit(f'{SCRIPT}: error: {msg}')", "    print(f'{SCRIPT}: error: {msg}', file=sys.stderr)"),
    (BOTH, 'output', "    say(f'{SCRIPT}: {msg}', sys.stderr)", '    say(msg, sys.stderr)'),
    (BOTH, 'output', "    say(f'{SCRIPT}: {msg}', sys.stderr)", '    pass'),
    (BOTH, 'output', '        stop.append(signal.SIGPIPE)', '        stop.append(signal.SIGINT)'),
    (BOTH, 'settings', '    print(__doc__.strip())\n    for heading', '    print()\n    for heading'),
    (BOTH, 'signals', 'lambda signum, _: stop.append(signum)', 'lambda signum, _: stop.append(signal.SIGINT)'),
    (BOTH, 'report', '    return run.elapsed + time.time() - run.t0', '    return time.time() - run.t0'),
    (BOTH, 'report', '    return run.elapsed + time.time() - run.t0', '    return run.elapsed'),
    (BOTH, 'report', '    return run.elapsed + time.time() - run.t0', '    return run.elapsed - time.time() + run.t0'),
    (BOTH, 'held-out', "        say(f'iter {run.n}, held-out loss: {val:.4f} nats/char", "        note(f'iter {run.n}, held-out loss: {val:.4f} nats/char"),
    (BOTH, 'held-out', 'or run.n % eval_every and not final:', 'or run.n % eval_every:'),
    (BOTH, 'held-out', '{val / np.log(2):.4f} bits/char', '{val / np.log(10):.4f} bits/char'),
    (BOTH, 'checkpoint', "        assert log is None or log[0] in HEADERS and log[-1] == '', 'its log is damaged'\n", ''),
    (BOTH, 'checkpoint', '    run.__dict__.update({k: meta[k] for k in STATE}, rows=log and log[1:-1])', '    run.__dict__.update({k: meta[k] for k in STATE}, rows=log and log[1:])'),
    (BOTH, 'checkpoint', "(checkpoint_path[:-4] + '.csv', lambda f: f.write(log.tobytes()))]:", "(checkpoint_path[:-4] + '.csv', lambda f: f.write(log.tobytes()[:-1]))]:"),
]

# Survivors that are known and why (filled in from measured runs; see docs/testing.md).
KNOWN = {}


def mutants(only=None, areas=None):
    for scripts, area, before, after in MUTANTS:
        for script in scripts:
            if only in (None, script) and (areas is None or area in areas):
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
            r = subprocess.run([sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider', *ORDER,
                                '-k', f'not {other[:-3]}'], cwd=tmp, capture_output=True, text=True, timeout=600)
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
