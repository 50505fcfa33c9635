"""Shared test helpers: loading the scripts, running them, and the slow reference (the oracle).

The oracle is the paper's Section IV listing written out plainly: one-hot column vectors, a dict
entry per time step, an outer product per step. The scripts' fast lossFun must match it.
"""
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = ['min_char_rnn.py', 'rnn3.py', 'lstm.py', 'gru.py']
GATED = {'lstm.py': 'oracle_lstm', 'gru.py': 'oracle_gru'}   # the cells of Section VI-A, their oracles
GATES = {'lstm.py': 4, 'gru.py': 3}   # blocks of H rows a gated cell stacks in Wxh, Whh, bh (the tanh cell: 1)
HARNESS = SCRIPTS[:2]   # for what harness.py alone does (files, records, errors): the gated scripts share it line for line
sys.path.insert(0, ROOT)                         # the scripts import harness.py from beside them
import harness  # noqa: E402


def load_script(name, folder=ROOT):
    """A fresh copy of a script as a module (each test gets its own hyperparameter globals)."""
    spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(folder, name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_tool(name):
    """A fresh copy of a tool in tools/ as a module (they import their shared helpers from tools/)."""
    if os.path.join(ROOT, 'tools') not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, 'tools'))
    return load_script(name, os.path.join(ROOT, 'tools'))


def run_main(m, args):
    """Run script module m as its command line would, in this process: harness.main hands it its settings."""
    harness.main(m, list(args))


def run_script(name, *args, cwd=None, timeout=60):
    """Run a script as a user would; returns the CompletedProcess (text stdout and stderr)."""
    return run_path(os.path.join(ROOT, name), *args, cwd=cwd, timeout=timeout)


def random_model(script, num_layers, hidden_size, vocab_size, rng, scale=0.5):
    """Random float64 params in the script's own order, and a non-zero hprev of its shape."""
    m = load_script(script)
    m.hidden_size, m.dtype = hidden_size, 'float64'
    if num_layers > 1:
        m.num_layers = num_layers
    params = [p + rng.standard_normal(p.shape) * scale for p in script_params(m, vocab_size, rng)]
    hprev = rng.uniform(-0.9, 0.9, m.zero_state().shape)   # the LSTM's: h and c
    return m, params, hprev


def script_params(m, vocab_size, rng):
    """A script's fresh parameters as its per-array views (both scripts keep them in one vector theta)."""
    return m.unflatten(m.init_params(vocab_size, rng), vocab_size)


def saved_params(m, path):
    """The weights of a checkpoint in the script's own order, and its record (m has run on it)."""
    with np.load(path, allow_pickle=False) as ck:
        meta = json.loads(str(ck['meta']))
        return [ck[k] for k in m.shapes(len(meta['chars']))], meta


def split_layers(script, params):
    """(Wxh, Whh, bh) as per-layer lists, plus Why and by, whatever order the script keeps them in."""
    if script == 'min_char_rnn.py':
        Wxh, Whh, Why, bh, by = params
        return [Wxh], [Whh], [bh], Why, by
    L = (len(params) - 2) // 3
    return params[:L], params[L:2 * L], params[2 * L:3 * L], params[-2], params[-1]

# -----------------------------------------------------------------------------
# the oracle: eq. (26)-(29) and BPTT per time step, for a stack of one or more layers


def oracle_lossFun(inputs, targets, hprev, Wxh, Whh, bh, Why, by):
    """Listing-style loss and gradients for layers Wxh[l], Whh[l], bh[l] (bh as column vectors).

    Returns loss, dWxh, dWhh, dbh (per-layer lists), dWhy, dby, and the last hidden state of each
    layer."""
    L, V = len(Whh), Why.shape[0]
    xs, ys, ps = {}, {}, {}
    hs = [{-1: np.copy(hprev[l]).reshape(-1, 1)} for l in range(L)]
    loss = 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1                       # 1-of-K encoding
        below = xs[t]
        for l in range(L):
            hs[l][t] = np.tanh(np.dot(Wxh[l], below) + np.dot(Whh[l], hs[l][t - 1]) + bh[l])
            below = hs[l][t]
        ys[t] = np.dot(Why, hs[L - 1][t]) + by
        ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
        loss += -np.log(ps[t][targets[t], 0])
    dWxh, dWhh, dbh = ([np.zeros_like(w) for w in ws] for ws in (Wxh, Whh, bh))
    dWhy, dby = np.zeros_like(Why), np.zeros_like(by)
    dhnext = [np.zeros_like(hs[l][-1]) for l in range(L)]
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[L - 1][t].T)
        dby += dy
        dh = np.dot(Why.T, dy)
        for l in reversed(range(L)):               # the paper's dh3 -> dh2 -> dh
            dh = dh + dhnext[l]
            dhraw = (1 - hs[l][t] * hs[l][t]) * dh
            dbh[l] += dhraw
            below = xs[t] if l == 0 else hs[l - 1][t]
            dWxh[l] += np.dot(dhraw, below.T)
            dWhh[l] += np.dot(dhraw, hs[l][t - 1].T)
            dhnext[l] = np.dot(Whh[l].T, dhraw)
            dh = np.dot(Wxh[l].T, dhraw)
    last = [hs[l][len(inputs) - 1] for l in range(L)]
    return loss, dWxh, dWhh, dbh, dWhy, dby, last


def oracle_update(params, grads, mems, learning_rate, clip=5):
    """The listing's gradient clipping (to [-5, 5]; clip=0: none) and Adagrad step, eq. (32)-(33), one array
    at a time."""
    for param, dparam, mem in zip(params, grads, mems):
        if clip:
            np.clip(dparam, -clip, clip, out=dparam)
        mem += dparam * dparam
        param += -learning_rate * dparam / np.sqrt(mem + 1e-8)


def oracle_for_script(script, inputs, targets, hprev, params):
    """The oracle on a script's params; results flattened into the script's own order."""
    if script in GATED:
        return globals()[GATED[script]](inputs, targets, np.asarray(hprev), *params)
    Wxh, Whh, bh, Why, by = split_layers(script, params)
    hprev = np.atleast_2d(hprev)
    col = lambda v: v.reshape(-1, 1)
    loss, dWxh, dWhh, dbh, dWhy, dby, last = oracle_lossFun(
        inputs, targets, hprev, Wxh, Whh, [col(b) for b in bh], Why, col(by))
    dbh, dby = [b.ravel() for b in dbh], dby.ravel()
    if script == 'min_char_rnn.py':
        grads = [dWxh[0], dWhh[0], dWhy, dbh[0], dby]
    else:
        grads = dWxh + dWhh + dbh + [dWhy, dby]
    last = np.array([h.ravel() for h in last])
    return loss, grads, last[0] if script == 'min_char_rnn.py' else last

# -----------------------------------------------------------------------------
# the gated cells' oracles (lstm.py, gru.py): the cell's equations and BPTT per time step, column vectors,
# each gate's own weight blocks, an outer product per step; eq. (27)-(29) as above

def sigm(x):
    return 1 / (1 + np.exp(-x))


def gate_blocks(names, Wxh, Whh, bh):
    """Each gate's own block of H rows of Wxh, Whh and bh (bh as a column), by the gate's name."""
    H = Whh.shape[1]
    cut = lambda W: {k: W[j * H:(j + 1) * H] for j, k in enumerate(names)}
    return cut(Wxh), cut(Whh), {k: v.reshape(-1, 1) for k, v in cut(bh).items()}


def oracle_lstm(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    """LSTM with a forget gate (Gers et al. 2000): loss, [dWxh, dWhh, dWhy, dbh, dby], (h_{T-1}, c_{T-1})."""
    H, V = Whh.shape[1], Why.shape[0]
    Wx, Wh, b = gate_blocks('ifog', Wxh, Whh, bh)
    by = by.reshape(-1, 1)
    xs, hs, cs, gs, ps, loss = {}, {-1: hprev[0].reshape(-1, 1)}, {-1: hprev[1].reshape(-1, 1)}, {}, {}, 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1
        a = {k: np.dot(Wx[k], xs[t]) + np.dot(Wh[k], hs[t - 1]) + b[k] for k in 'ifog'}
        gs[t] = {k: np.tanh(a[k]) if k == 'g' else sigm(a[k]) for k in 'ifog'}
        cs[t] = gs[t]['f'] * cs[t - 1] + gs[t]['i'] * gs[t]['g']
        hs[t] = gs[t]['o'] * np.tanh(cs[t])
        y = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(y) / np.sum(np.exp(y))
        loss += -np.log(ps[t][targets[t], 0])
    dWx, dWh, db = ({k: np.zeros_like(v) for k, v in d.items()} for d in (Wx, Wh, b))
    dWhy, dby = np.zeros_like(Why), np.zeros_like(by)
    dhnext, dcnext = np.zeros((H, 1)), np.zeros((H, 1))
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        i, f, o, g = (gs[t][k] for k in 'ifog')
        dc = dcnext + dh * o * (1 - np.tanh(cs[t]) ** 2)
        draw = {'i': dc * g * i * (1 - i), 'f': dc * cs[t - 1] * f * (1 - f),
                'o': dh * np.tanh(cs[t]) * o * (1 - o), 'g': dc * i * (1 - g * g)}
        dhnext = np.zeros((H, 1))
        for k in 'ifog':
            dWx[k] += np.dot(draw[k], xs[t].T)
            dWh[k] += np.dot(draw[k], hs[t - 1].T)
            db[k] += draw[k]
            dhnext += np.dot(Wh[k].T, draw[k])
        dcnext = dc * f
    T, grads = len(inputs) - 1, [np.concatenate([d[k] for k in 'ifog']) for d in (dWx, dWh, db)]
    return loss, [grads[0], grads[1], dWhy, grads[2].ravel(), dby.ravel()], np.array([hs[T].ravel(), cs[T].ravel()])


def oracle_gru(inputs, targets, hprev, Wxh, Whh, Why, bh, by):
    """GRU (Cho et al. 2014): loss, [dWxh, dWhh, dWhy, dbh, dby], h_{T-1}."""
    H, V = Whh.shape[1], Why.shape[0]
    Wx, Wh, b = gate_blocks('rzg', Wxh, Whh, bh)
    by = by.reshape(-1, 1)
    xs, hs, gs, ps, loss = {}, {-1: hprev.reshape(-1, 1)}, {}, {}, 0
    for t in range(len(inputs)):
        xs[t] = np.zeros((V, 1))
        xs[t][inputs[t]] = 1
        r = sigm(np.dot(Wx['r'], xs[t]) + np.dot(Wh['r'], hs[t - 1]) + b['r'])
        z = sigm(np.dot(Wx['z'], xs[t]) + np.dot(Wh['z'], hs[t - 1]) + b['z'])
        g = np.tanh(np.dot(Wx['g'], xs[t]) + np.dot(Wh['g'], r * hs[t - 1]) + b['g'])
        gs[t] = dict(r=r, z=z, g=g)
        hs[t] = z * hs[t - 1] + (1 - z) * g
        y = np.dot(Why, hs[t]) + by
        ps[t] = np.exp(y) / np.sum(np.exp(y))
        loss += -np.log(ps[t][targets[t], 0])
    dWx, dWh, db = ({k: np.zeros_like(v) for k, v in d.items()} for d in (Wx, Wh, b))
    dWhy, dby, dhnext = np.zeros_like(Why), np.zeros_like(by), np.zeros((H, 1))
    for t in reversed(range(len(inputs))):
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy) + dhnext
        r, z, g = gs[t]['r'], gs[t]['z'], gs[t]['g']
        dgraw = dh * (1 - z) * (1 - g * g)
        drh = np.dot(Wh['g'].T, dgraw)             # into r * h_{t-1}
        draw = {'r': drh * hs[t - 1] * r * (1 - r), 'z': dh * (hs[t - 1] - g) * z * (1 - z), 'g': dgraw}
        dhnext = dh * z + drh * r
        for k in 'rzg':
            dWx[k] += np.dot(draw[k], xs[t].T)
            dWh[k] += np.dot(draw[k], (r * hs[t - 1] if k == 'g' else hs[t - 1]).T)
            db[k] += draw[k]
            if k != 'g':
                dhnext += np.dot(Wh[k].T, draw[k])
    grads = [np.concatenate([d[k] for k in 'rzg']) for d in (dWx, dWh, db)]
    return loss, [grads[0], grads[1], dWhy, grads[2].ravel(), dby.ravel()], hs[len(inputs) - 1].ravel()



def output_params(script, params):
    """Why and by of a script's params: eq. (27)'s."""
    return (params[-2], params[-1]) if script == 'rnn3.py' else (params[2], params[4])


def output_h(script, state):
    """The h that eq. (27) reads from a script's state: the top layer's (rnn3.py), h of (h, c) (lstm.py), h."""
    state = np.asarray(state)
    return state[0] if script == 'lstm.py' else state[-1] if state.ndim > 1 else state


def zero_state_of(script, params):
    """A script's zero state, from its params' shapes (Why is V x H)."""
    H, L = params[-2 if script == 'rnn3.py' else 2].shape[1], (len(params) - 2) // 3
    return np.zeros((L, H) if script == 'rnn3.py' else (2, H) if script == 'lstm.py' else H)


def oracle_step(script, params, state, ix):
    """The oracle's next state after character ix, and p of the character after it (eq. (28))."""
    state = oracle_for_script(script, [ix], [0], state, params)[2]
    Why, by = output_params(script, params)
    y = Why.dot(output_h(script, state)) + by
    return state, np.exp(y - y.max()) / np.exp(y - y.max()).sum()


def greedy_oracle(script, params, prime_ix, n, h=None):
    """Near-zero temperature sampling is argmax decoding: the oracle fed the prime, then its own argmax."""
    h, out = zero_state_of(script, params) if h is None else h, []
    for ix in prime_ix:
        h, p = oracle_step(script, params, h, ix)
    for _ in range(n):
        out.append(int(np.argmax(p)))
        h, p = oracle_step(script, params, h, out[-1])
    return out

# -----------------------------------------------------------------------------
# small runs of the scripts

TEXT = 'the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n' * 30
SMALL = {'min_char_rnn.py': ['--hidden_size=12'], 'rnn3.py': ['--hidden_size=10', '--num_layers=3'],
         'lstm.py': ['--hidden_size=8'], 'gru.py': ['--hidden_size=9']}


def write_text(tmp_path, text=TEXT, name='input.txt'):
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return str(path)


def small_args(script, tmp_path, *extra, text=TEXT):
    """Arguments for a fast run of a small model on a small text inside tmp_path."""
    return [f'--input_file={write_text(tmp_path, text)}', *SMALL[script],
            f'--checkpoint_path={tmp_path / "out" / "ck.npz"}', *extra]


def ck_meta(path):
    """A checkpoint's record (its JSON 'meta')."""
    with np.load(path, allow_pickle=False) as ck:
        return json.loads(str(ck['meta']))


def rewrite_record(path, **changes):
    """A checkpoint's record with some fields changed, as a crafted or damaged file would have it."""
    with np.load(path, allow_pickle=False) as ck:
        arrays = {k: ck[k] for k in ck.files}
    arrays['meta'] = np.array(json.dumps(dict(json.loads(str(arrays['meta'])), **changes)))
    np.savez(path, **arrays)


def listing(folder):
    """Every file and folder under folder, with each file's bytes."""
    return {os.path.relpath(os.path.join(d, f), folder): open(os.path.join(d, f), 'rb').read() if f in files else None
            for d, dirs, files in os.walk(folder) for f in dirs + files}


def loss_lines(stdout):
    """(iteration, printed loss) for every line in the paper's format."""
    return [(int(m.group(1)), float(m.group(2)))
            for m in re.finditer(r'^iter (\d+), loss: (\d+\.\d{6})\b', stdout, re.M)]


def without_elapsed(text):
    """The lines of a loss log without its elapsed_s column (the fifth), which differs between runs."""
    return [','.join(row.split(',')[:4] + row.split(',')[5:]) for row in text.splitlines()]


def edited_script(tmp_path, script, **top):
    """A copy of a script in tmp_path (with harness.py beside it) with hyperparameters edited at the top of the
    file, as a user does."""
    source = open(os.path.join(ROOT, script), encoding='utf-8').read()
    for name, value in top.items():
        source, count = re.subn(rf'^{name} = \S+', f'{name} = {value}', source, count=1, flags=re.M)
        assert count == 1, name
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / script
    path.write_text(source, encoding='utf-8')
    shutil.copy(os.path.join(ROOT, 'harness.py'), tmp_path)
    return str(path)


def run_path(path, *args, timeout=60, **popen):
    """Run a script file (e.g. an edited copy) as a user would; like run_script."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    return subprocess.run([sys.executable, str(path), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, **popen)


def run_in_process(capsys, name, *args, cwd=None):
    """Run a script's main in this process (much faster than a new one), as run_script does: a
    CompletedProcess whose stderr ends with the message sys.exit would print; any other exception is raised."""
    m, old, code, message = load_script(name), os.getcwd(), 0, ''
    capsys.readouterr()
    os.chdir(cwd or old)
    try:
        harness.main(m, list(args))
    except SystemExit as e:
        code, message = (e.code, '') if isinstance(e.code, int) or e.code is None else (1, f'{e.code}\n')
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess([name, *args], code or 0, out, err + message)


def assert_clean_error(r, *words):
    """A non-zero exit whose stderr ends in one 'script: error: ...' line (after any progress notes)."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0
    assert lines and 'Traceback' not in r.stderr and sum('error' in line for line in lines) == 1, r.stderr
    assert lines[-1].startswith(tuple(f'{s}: error: ' for s in SCRIPTS)), lines[-1]
    for word in words:
        assert word in lines[-1], lines[-1]


def record_lossFun(m):
    """Replace m.lossFun by one that records (inputs, targets, hprev, loss) and returns the real result."""
    calls, lossFun = [], m.lossFun

    def recording(inputs, targets, hprev, params):
        loss, grads, h = lossFun(inputs, targets, hprev, params)
        calls.append((inputs.copy(), targets.copy(), hprev.copy(), float(loss), h.copy()))
        return loss, grads, h
    m.lossFun = recording
    return calls


def start_script(name, args):
    """Start a script as run_script does, with stdout and stderr as pipes the test reads (a Popen)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    return subprocess.Popen([sys.executable, os.path.join(ROOT, name), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def read_until(proc, line):
    """What proc printed on stdout up to the first line holding line; if it ends first, its stderr, failing."""
    seen = ''
    while line not in seen:
        out = proc.stdout.readline()
        if not out:                              # it ended without printing it: never wait forever
            proc.wait(timeout=60)
            raise AssertionError(f'ended ({proc.returncode}) before {line!r}: {proc.stderr.read()}')
        seen += out
    return seen


def trained(script, folder, *extra, text=TEXT):
    """A small run of script in folder (checkpoint folder/out/ck.npz), and its arguments."""
    args = small_args(script, folder, '--max_iters=20', *extra, text=text)
    r = run_script(script, *args)
    assert r.returncode == 0, r.stderr
    return args


def with_path(args, path):
    return [a for a in args if not a.startswith('--checkpoint_path=')] + [f'--checkpoint_path={path}']


def crafted(path, extra):
    """The checkpoint at path written again with more zip members (name: raw .npy bytes), compressed."""
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in dict(members, **extra).items():
            z.writestr(name, data)


def npy(header, body):
    """The bytes of a .npy member whose header says one thing and whose data is body."""
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, header)
    return f.getvalue() + body
