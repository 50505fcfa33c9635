"""Character-level vanilla RNN language model in NumPy: the single-layer model of "Language Modeling
with Recurrent Neural Networks and Backpropagation Through Time" (K. Ma, Sections III-V), after
Karpathy's min-char-rnn. Equation numbers in comments are the paper's.
"""
import functools, os
if not {'OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'} & set(os.environ):
    os.environ.update(OPENBLAS_NUM_THREADS='1', MKL_NUM_THREADS='1')   # before NumPy loads (README, Speed)
import numpy as np

# -----------------------------------------------------------------------------
# the paper's hyperparameters: plain assignments, each can be overridden as --name=value
input_file = 'input.txt'         # training text (UTF-8)
hidden_size = 100                # size of h_t
seq_length = 25                  # T: time steps per iteration (truncated BPTT); per_line: unused
learning_rate = 1e-2             # eta of Adagrad, eq. (32) (the paper's appendix listing has 1e-1)
clip = 5.0                       # gradients clipped to [-clip, clip] against exploding ones (0: off)
max_iters = 1000000              # the paper's run is about 1M iterations
print_every = 100                # print the loss and a sample every this many iterations
sample_length = 200              # characters per sample; per_line: the longest sampled name
seed = 1337                      # initial weights, sampling, per_line's order of lines
dtype = 'float32'                # or 'float64': same results within noise, slower
# run options: names, held-out loss, checkpoints, resume, sampling a saved model
per_line = False                 # True: each non-empty line is one sequence, one per iteration (names)
val_fraction = 0.0               # held-out tail of the text (0: train on all of it, as the paper)
eval_every = 10000               # held-out loss every this many iterations
checkpoint_path = 'out/min_char_rnn.npz'   # a .npz file; the loss log is the same name with .csv
checkpoint_every = 10000         # also saved at the end, on Ctrl-C, kill (SIGTERM) and hangup (SIGHUP)
resume = False                   # continue checkpoint_path with the settings it records
generate = 0                     # > 0: sample this many characters from checkpoint_path, no training
lines = 0                        # > 0: sample this many lines (per_line: names), no training
prime = ''                       # text run through the network before sampling
temperature = 1.0                # sampling divides the logits by it
# -----------------------------------------------------------------------------

# data (Section IV-A): the text as integers (char_to_ix) and its vocabulary (ix_to_char)
def load_data(path):
    """The text as one integer array, and its vocabulary, sorted so that it is the same every run."""
    with open(path, encoding='utf-8-sig') as f:    # -sig: a leading byte-order mark is not text
        text = f.read()
    chars = sorted(set(text)) or ['\n']
    char_to_ix = np.zeros(ord(chars[-1]) + 1, np.int32)    # indexed by code point
    char_to_ix[[ord(ch) for ch in chars]] = np.arange(len(chars))
    return char_to_ix[np.frombuffer(text.encode('utf-32-le'), np.uint32)], chars

@functools.lru_cache(maxsize=1)
def line_order(seed, epoch, count):
    """per_line: the order of the lines in pass `epoch` over them, seeded and reshuffled every pass."""
    return np.random.default_rng([seed, epoch]).permutation(count)

# -----------------------------------------------------------------------------
# model (Sections III, IV-B, IV-C)
def shapes(vocab_size):
    """The paper's parameters and their shapes, in the order they sit in theta (the Θ of eq. (32))."""
    H, V = hidden_size, vocab_size
    return dict(Wxh=(H, V), Whh=(H, H), Why=(V, H), bh=(H,), by=(V,))

def unflatten(theta, vocab_size):
    """The parameters as views into the one vector theta (or the gradient, or Adagrad's memory)."""
    sizes = [int(np.prod(shape)) for shape in shapes(vocab_size).values()]
    return [x.reshape(s) for x, s in zip(np.split(theta, np.cumsum(sizes)[:-1]), shapes(vocab_size).values())]

def init_params(vocab_size, rng):
    """Theta, with Wxh, Whh, Why ~ randn * 0.01 and zero biases, as the listing."""
    return np.concatenate([(rng.standard_normal(shape) * 0.01 if name[0] == 'W' else np.zeros(shape)).ravel()
                           for name, shape in shapes(vocab_size).items()]).astype(dtype)

def zero_state():
    return np.zeros(hidden_size, dtype)           # h_{-1}: the memory at the start of the text

def forward(inputs, targets, hprev, params):
    """Eq. (26)-(29) over a sequence: the loss J, hs (hs[0] = hprev, hs[t+1] = h_t) and p_t."""
    Wxh, Whh, Why, bh, by = params
    hs = np.empty((len(inputs) + 1, len(hprev)), hprev.dtype)
    hs[0] = hprev
    xh = Wxh.T[inputs] + bh                        # row t: Wxh x_t + bh (x_t one-hot: a column of Wxh)
    for xh_t, h_prev, h_t in zip(xh, hs, hs[1:]):
        np.tanh(xh_t + Whh.dot(h_prev), out=h_t)   # eq. (26)
    ys = hs[1:].dot(Why.T) + by                    # eq. (27), all t at once
    z = ys - ys.max(axis=1, keepdims=True)         # y_t less its max: same p_t, and exp cannot overflow
    e = np.exp(z)
    ps = e / e.sum(axis=1, keepdims=True)          # eq. (28)
    loss = -(z[np.arange(len(targets)), targets] - np.log(e.sum(axis=1))).sum()   # eq. (29), log-softmax
    return loss, hs, ps

def lossFun(inputs, targets, hprev, params):
    """Loss, gradients (BPTT) and the last hidden state."""
    Wxh, Whh, Why, bh, by = params
    loss, hs, ps = forward(inputs, targets, hprev, params)
    dy = ps
    dy[np.arange(len(targets)), targets] -= 1      # dJ/dy_t = p_t - one_hot(target_t)
    dWhy, dby = dy.T.dot(hs[1:]), dy.sum(axis=0)   # sum_t dy_t h_t^T, sum_t dy_t
    dh = dy.dot(Why)                               # row t: Why^T dy_t
    dtanh = 1 - hs[1:] * hs[1:]                    # tanh'(.) = 1 - h_t^2
    dhraw, dhnext = np.empty_like(dh), np.zeros_like(hprev)
    for dh_t, dtanh_t, dhraw_t in zip(dh[::-1], dtanh[::-1], dhraw[::-1]):
        np.multiply(dh_t + dhnext, dtanh_t, out=dhraw_t)  # backprop through tanh
        dhnext = dhraw_t.dot(Whh)                  # Whh^T dhraw_t
    dWhh, dbh = dhraw.T.dot(hs[:-1]), dhraw.sum(axis=0)  # sum_t dhraw_t h_{t-1}^T, sum_t dhraw_t
    xs = (inputs[:, None] == np.arange(len(by))).astype(dh.dtype)   # row t: one_hot(x_t), T x V
    return loss, [dhraw.T.dot(xs), dWhh, dWhy, dbh, dby], hs[-1]    # dWxh = sum_t dhraw_t x_t^T

def update(theta, grads, mem):
    """Clip the gradient to [-clip, clip] (the paper's [-5, 5]; against exploding gradients), then Adagrad,
    eq. (32)-(33)."""
    dtheta = np.concatenate([dparam.ravel() for dparam in grads])
    if clip:
        np.clip(dtheta, -clip, clip, out=dtheta)
    mem += dtheta * dtheta                         # eq. (33): G += g^2, per component
    theta -= learning_rate * dtheta / np.sqrt(mem + 1e-8)   # eq. (32)

def sample(h, seed_ix, n, params, rng, temperature=1.0, stop_ix=None):
    """Up to n character indices from the model fed seed_ix first (ending before stop_ix), and h after."""
    Wxh, Whh, Why, bh, by = params
    xh = Wxh.T + bh                                # row ix: Wxh one_hot(ix) + bh
    # Gumbel-max: argmax(y + T * g), g = -log(-log(uniform)), is a draw from softmax(y / T), eq. (28)
    noise = -temperature * np.log(-np.log(rng.random((n, len(by)))))
    ixes, ix = [], seed_ix
    for g in noise:
        h = np.tanh(xh[ix] + Whh.dot(h))           # eq. (26)
        ix = int((Why.dot(h) + by + g).argmax())   # eq. (27), then a draw from eq. (28)
        if ix == stop_ix:
            break
        ixes.append(ix)
    return ixes, h

def sample_names(k, start, params, rng, temperature=1.0):
    """per_line: k names, each from a zero state fed start (a newline, then any prime)."""
    h = forward(start[:-1], start[1:], zero_state(), params)[1][..., -1, :]
    return [sample(h, start[-1], sample_length, params, rng, temperature, start[0])[0] for _ in range(k)]

# -----------------------------------------------------------------------------
# training loop (Section V): every print_every iterations the loss and a sample, as the listing
def train(run):
    start_run(run)      # the run record: the data, the weights (new or the checkpoint's), signals caught
    data, params, nl = run.data, run.params, run.chars.index('\n') if per_line else None
    while run.n < max_iters and not stop:
        n, p = run.n, run.p
        if per_line:                               # one name an iteration, from a zero state (names note)
            seq = data[line_order(seed, n // len(data), len(data))[n % len(data)]]
            inputs, targets, run.hprev = seq[:-1], seq[1:], zero_state()
        else:
            if p + seq_length + 1 > len(data):
                run.hprev, p = zero_state(), 0     # start of data: reset the memory
            inputs, targets = data[p:p + seq_length], data[p + 1:p + seq_length + 1]
        held_out(run)                              # every eval_every iterations (not in the paper)
        if stop:
            break                                  # interrupted during the evaluation: redone on resume
        if n % print_every == 0:                   # per_line: five names, one a line
            sample_ix = (sum((name + [nl] for name in sample_names(5, [nl], params, run.rng)), [])[:-1]
                         if per_line else sample(run.hprev, inputs[0], sample_length, params, run.rng)[0])
        loss, grads, run.hprev = lossFun(inputs, targets, run.hprev, params)
        if not np.isfinite(loss):
            fail(f'loss became {loss} at iteration {n}; the last checkpoint is kept; lower --learning_rate?')
        run.smooth_loss = run.smooth_loss * 0.999 + float(loss) * 0.001   # float64 whatever the dtype
        if n % print_every == 0:
            report(run, sample_ix, grads)          # the loss, a sample; a row of the log; progress
        update(run.theta, grads, run.mem)
        run.p, run.n = p + seq_length, n + 1
        if run.n % checkpoint_every == 0:
            save_checkpoint(run)
    finish(run)                                    # the last held-out loss, the checkpoint, the closing line

# =============================================================================
# Not in the paper, and the same text in min_char_rnn.py and rnn3.py: the settings (the block at the top, a
# checkpoint's record, the command line), the run record and its files (checkpoint, loss log, lock), signals,
# held-out loss, progress, sampling a saved model.
import contextlib, difflib, fcntl, glob, hashlib, json, math, re, signal, sys, time
from types import SimpleNamespace
SCRIPT, MAX_LINE = os.path.basename(__file__), 1000
HEADER = 'iter,smooth_loss,loss_per_char,val_loss_per_char,elapsed_s,grad_norm,clipped_fraction'   # the log's
HEADERS = (HEADER, HEADER.split(',grad')[0])    # first line; that of a log from before the gradient's columns
COUNTS = dict(hidden_size=1, num_layers=1, seq_length=1, max_iters=1, print_every=1, sample_length=1,
              eval_every=1, checkpoint_every=1, seed=0, generate=0, lines=0)   # whole numbers, least values
RULES = {bool: ('True or False', None), str: ('text', None), float: ('positive', lambda v: 0 < v < math.inf),
         'val_fraction': ('in [0, 1)', lambda v: 0 <= v < 1), 'clip': ('>= 0', lambda v: 0 <= v < math.inf),
         'checkpoint_path': ('a file name ending in .npz', lambda v: v.endswith('.npz')),
         'dtype': ('float64 or float32', lambda v: v in ('float64', 'float32'))}
MODEL = ['hidden_size', 'num_layers', 'per_line']   # fixed by a checkpoint
ACTIONS = ['checkpoint_path', 'resume', 'generate', 'lines', 'prime', 'temperature']   # never taken from one
STATE = ['n', 'p', 'smooth_loss', 'elapsed', 'val_loss', 'val_iter', 'chars', 'text_sha256']   # in the record
stop = []                                        # signals, and an output gone, that ask a run to stop

def fail(msg):
    sys.exit(f'{SCRIPT}: error: {msg}')

def note(msg):
    say(f'{SCRIPT}: {msg}', sys.stderr)

def say(text, stream=sys.stdout):
    """Print; if the output has gone (`| head` closed, the terminal hung up), stop the run as Ctrl-C does."""
    try:
        print(text, file=stream, flush=True)
    except OSError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        stop.append(signal.SIGPIPE)

def read_block():
    """The block at the top of this file: (heading, '', '') for a group, ('', name, comment) for a setting."""
    block = open(__file__, encoding='utf-8').read().split('# ' + '-' * 77)[1]
    return re.findall(r'^# (.*)$|^(\w+) = .*?(?:\s# (.*))?$', block, re.M)
config_keys = [name for _, name, _ in read_block() if name]
KIND = {k: int if k in COUNTS else bool if k in ('per_line', 'resume') else float
        if k in ('learning_rate', 'clip', 'temperature', 'val_fraction') else str for k in config_keys}

def print_help():
    print(__doc__.strip())
    for heading, name, comment in read_block():
        value = repr('') if globals().get(name) == '' else globals().get(name)
        print(f'\n{heading}:' if heading else f'  --{name}={value}'.ljust(38) + ' ' + comment)

def parse(arg, following):
    """(name, value) from --name=value, the value typed as the setting is (check() then checks it)."""
    name, eq, value = arg[2:].partition('=')
    if not arg.startswith('--') or not eq:
        right = f'--{name}={following[0]}' if name in config_keys and following else '--name=value'
        fail(f"expected {right}, got '{arg}' (see --help)")
    if name not in config_keys:
        near = ''.join(f'; did you mean --{k}?' for k in difflib.get_close_matches(name, config_keys, 1))
        fail(f"unknown hyperparameter '{name}'{near} (see --help)")
    try:
        return name, (value if KIND[name] is str else int(value) if KIND[name] is int and value.isdigit()
                      else {'true': True, '1': True, 'false': False, '0': False}[value.lower()]
                      if KIND[name] is bool else float(value))
    except (KeyError, ValueError):
        fail(f'--{name}={value} is not a valid {KIND[name].__name__}')

def check(name, value, where):
    """The value if it suits the setting (a count may be written 1e6), else a one-line error."""
    kind = KIND[name]
    if kind in (int, float) and type(value) in (int, float) and (kind is float or float(value).is_integer()):
        value = kind(value)
    want, ok = (f'a whole number >= {COUNTS[name]}', lambda v: v >= COUNTS[name]) if kind is int else \
        RULES.get(name, RULES[kind])
    if type(value) is not kind or ok and not ok(value):
        fail(f'{where} must be {want}, got {value!r}')
    return value

def settings(argv, run):
    """Each setting from the block at the top, then (resuming or sampling) the checkpoint's record, then the
    command line: checked, then set once. A training run first locks its checkpoint path."""
    if {'-h', '--help'} & set(argv):
        print_help()
        sys.exit(0)
    given = dict(parse(arg, argv[i + 1:i + 2]) for i, arg in enumerate(argv))
    config = {k: check(k, globals()[k], f'{k} at the top of {SCRIPT}') for k in config_keys}
    config.update({k: check(k, v, '--' + k) for k, v in given.items()})
    path, resuming = config['checkpoint_path'], config['resume']
    sampling = config['generate'] or config['lines']
    if sampling and resuming or not sampling and {'prime', 'temperature'} & set(given):
        fail('--resume=True trains, --generate and --lines sample: give one of them' if resuming else
             '--prime and --temperature are for sampling a saved model: add --generate=N or --lines=K')
    if not sampling:
        lock(run, path)
    record = load_checkpoint(run, path) if resuming or sampling else {}
    for k in MODEL:
        if k in given and k in record and given[k] != record[k]:
            fail(f'checkpoint {path} has {k}={record[k]}, not {given[k]}')
    adopt = {k: check(k, v, f'{k} in {path}') for k, v in record.items() if k in config and k not in given
             and k not in ACTIONS and (resuming or k in MODEL + ['dtype'])}
    changed = [f'{k}={v}' for k, v in adopt.items() if v != config[k]]
    globals().update(config, **adopt)
    if resuming and run.n >= max_iters:
        fail(f'{path} is a finished run (iteration {run.n}, max_iters={max_iters}); to go on, raise it: '
             f'--resume=True --max_iters={2 * run.n}')
    if record:
        restore(run)
        note(f'resuming {path} at iteration {run.n}' + (f'; settings it was run with, not those at the '
             f'top of {SCRIPT}: {", ".join(changed)}' if changed else '') if resuming else
             f"sampling {path} at iteration {run.n} (trained on {record['input_file']})")

def lock(run, path):
    """Hold an advisory lock on path.lock while the run lasts (the system drops it when the process ends,
    even by kill -9): a second run on the same checkpoint is refused. A killed run's *.tmp files go."""
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    run.lock_path = path + '.lock'
    while run.lock is None:
        fd = os.open(run.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fail(f'{path} is in use by another run: let it end, or give this one another --checkpoint_path')
        if os.path.exists(run.lock_path) and os.path.samestat(os.fstat(fd), os.stat(run.lock_path)):
            run.lock = fd                        # else the run before removed it as it ended: lock anew
    for tmp in glob.glob(glob.escape(os.path.realpath(path)) + '.*.tmp') + glob.glob(
            glob.escape(os.path.realpath(path[:-4] + '.csv')) + '.*.tmp'):
        os.remove(tmp)

def load_checkpoint(run, path):
    """Read a checkpoint into the run record (arrays, RNG, state: checked; no pickles); its settings."""
    whole = lambda v: type(v) is int and v >= 0
    real = lambda v: type(v) in (int, float) and math.isfinite(v)
    try:
        with np.load(path, allow_pickle=False) as ck:
            run.arrays = {k: ck[k] for k in ck.files}
        meta = json.loads(str(run.arrays['meta']))
        meta = dict(val_loss=None, val_iter=None, text_sha256=None) | meta
        assert meta['script'] == SCRIPT, f"it was written by {meta['script']}"
        for k, ok in dict(n=whole, p=whole, smooth_loss=real, elapsed=real, config=lambda v: type(v) is dict,
                          val_loss=lambda v: v is None or real(v), val_iter=lambda v: v is None or whole(v),
                          chars=lambda v: type(v) is list and v
                          and all(type(c) is str and len(c) == 1 for c in v)).items():
            assert ok(meta[k]), f'its {k} is damaged'
        run.rng = np.random.default_rng()
        run.rng.bit_generator.state = meta['rng']
        log = run.arrays['log'].tobytes().decode('utf-8').split('\n') if 'log' in run.arrays else None
        assert log is None or log[0] in HEADERS and log[-1] == '', 'its log is damaged'
    except FileNotFoundError:
        fail(f'no checkpoint at {path}: train first, or set --checkpoint_path')
    except Exception as e:                       # anything unreadable: truncated, corrupt, pickled or foreign
        fail(f'{path} is not a usable {SCRIPT} checkpoint ({type(e).__name__}: {e})')
    run.__dict__.update({k: meta[k] for k in STATE}, rows=log and log[1:-1])
    run.trained_on = meta['config'].get('input_file')
    return dict(per_line=False) | meta['config']

def restore(run):
    """Weights, Adagrad's memory and hprev from the checkpoint's arrays (their shapes checked); the rows of
    its loss log (a checkpoint written before they were kept in it: the log's rows before its iteration)."""
    V, arrays = len(run.chars), run.arrays
    want = dict(shapes(V), **{'m' + k: s for k, s in shapes(V).items()}, hprev=zero_state().shape)
    for k, shape in want.items():
        if k not in arrays or arrays[k].shape != shape or arrays[k].dtype.kind != 'f':
            fail(f'{checkpoint_path} is not a usable {SCRIPT} checkpoint ({k} is damaged)')
    run.theta, run.mem = (np.concatenate([arrays[pre + k].ravel() for k in shapes(V)]).astype(dtype)
                          for pre in ('', 'm'))
    run.hprev, on_disk = arrays['hprev'].astype(dtype), []
    with contextlib.suppress(OSError, UnicodeDecodeError):
        on_disk = open(checkpoint_path[:-4] + '.csv', encoding='utf-8').read().splitlines()[1:]
    if run.rows is None:
        run.rows = [row for row in on_disk if row.split(',')[0].isdigit() and int(row.split(',')[0]) < run.n]
    run.rows = [row + ',' * (HEADER.count(',') - row.count(',')) for row in run.rows]   # older logs' rows
    if len(on_disk) > len(run.rows) and resume:
        note(f'loss log {checkpoint_path[:-4]}.csv: {len(on_disk) - len(run.rows)} rows written after its '
             f'checkpoint (iteration {run.n}) are dropped')

def start_run(run):
    """The run record filled in: the data, the weights and Adagrad's memory (the checkpoint's, or new),
    the signals caught."""
    data, chars = load_data(input_file)
    note(f'data has {len(data)} characters, {len(chars)} unique.')
    text_sha256, V = hashlib.sha256(data.tobytes()).hexdigest(), len(chars)
    if per_line:
        data = split_lines(data, chars.index('\n') if '\n' in chars else -1)
        if not data or max(map(len, data)) > MAX_LINE + 2:
            fail(f'--per_line=True trains on lines of 1 to {MAX_LINE} characters, and {input_file} has '
                 + (f'a line of {max(map(len, data)) - 2} characters' if data else 'no non-empty line'))
    n_val = int(len(data) * val_fraction)
    run.data, run.val_data = data[:len(data) - n_val], (data[len(data) - n_val:] if n_val else None)
    run.chars_per_seq = np.mean([len(s) - 1 for s in run.data]) if per_line else seq_length
    least_train, least_held_out = (1, 1) if per_line else (seq_length + 1, 2)    # sequences or characters
    if val_fraction and (n_val < least_held_out or len(run.data) < least_train):
        fail(f"--val_fraction={val_fraction} leaves {len(run.data)} {'lines' if per_line else 'characters'} "
             f'to train on and {n_val} held out')
    if len(run.data) < seq_length + 1 and not per_line:
        fail(f'{input_file} has {len(run.data)} characters; training needs at least seq_length + 1 = '
             f'{seq_length + 1}')
    if not resume:
        new_run(run, chars)
    elif run.chars != chars:
        fail(f'{input_file} has a different vocabulary ({V} symbols) from checkpoint {checkpoint_path} '
             f'({len(run.chars)}), which was trained on {run.trained_on}')
    elif run.text_sha256 not in (None, text_sha256):
        note(f'warning: {input_file} is not the text {checkpoint_path} was trained on (same vocabulary)')
    run.text_sha256, run.params, run.handlers = text_sha256, unflatten(run.theta, V), catch_signals()
    run.n0, run.t0 = run.n, time.time()

def split_lines(data, nl):
    """per_line: each non-empty line as newline + line + newline (the newline starts and ends a name)."""
    ends = np.flatnonzero(np.append(data, nl) == nl)
    starts = np.append(-1, ends[:-1])
    return [np.concatenate(([nl], data[a + 1:b], [nl])) for a, b in zip(starts, ends) if b > a + 1]

def new_run(run, chars):
    """Weights as the listing's, zero Adagrad memory and hprev, and the loss of iteration 0 (p_t = 1/V)."""
    V, size = len(chars), sum(int(np.prod(shape)) for shape in shapes(len(chars)).values())
    need = np.dtype(dtype).itemsize * (4 * size + 8 * seq_length * V) + 8 * sample_length * V   # and a step's
    have = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    if need > have:
        fail(f'hidden_size={hidden_size} and {V:,} symbols make {size:,} parameters, about '
             f'{need / 2**30:.1f} GB to train; this machine has {have / 2**30:.1f} GB')
    paper = config_keys[1:config_keys.index('per_line')]    # the first group of the block, but input_file
    note(f'new run: {size:,} parameters ({dtype}); ' + ', '.join(f'{k}={globals()[k]}' for k in paper))
    keep_earlier_run()
    run.rng = np.random.default_rng(seed)
    run.theta, run.hprev, run.chars = init_params(V, run.rng), zero_state(), chars
    run.__dict__.update(mem=np.zeros_like(run.theta), n=0, p=0, elapsed=0.0, val_loss=None, val_iter=None,
                        rows=[], smooth_loss=np.log(V) * run.chars_per_seq)

def keep_earlier_run():
    """A new run never overwrites an earlier one: this script's checkpoint and log there are renamed first."""
    old = [f for f in (checkpoint_path, checkpoint_path[:-4] + '.csv') if os.path.lexists(f)]
    if not old:
        return
    earlier = SimpleNamespace(n=None)
    if checkpoint_path in old:
        load_checkpoint(earlier, checkpoint_path)   # and refuse a file that is not this script's checkpoint
    if old[-1].endswith('.csv') and open(old[-1], 'rb').readline().strip() not in map(str.encode, HEADERS):
        fail(f'{old[-1]} is not a loss log of {SCRIPT}, which a new run would rename: give another '
             '--checkpoint_path')
    stamp = time.strftime('%Y%m%d-%H%M%S', time.localtime(os.path.getmtime(old[0])))
    tag = ('' if earlier.n is None else f'iter{earlier.n}-') + stamp
    new, k = lambda f, k: f'{f[:-4]}.{tag}{"-%d" % k if k else ""}{f[-4:]}', 0
    while any(os.path.lexists(new(f, k)) for f in old):
        k += 1
    for f in old:
        os.rename(f, new(f, k))
    note(f"earlier run kept as {' and '.join(new(f, k) for f in old)}; this is a new run "
         '(--resume=True continues one)')

def catch_signals():
    """Ctrl-C (SIGINT), kill (SIGTERM), a closed terminal (SIGHUP): finish the iteration, save, exit 128 + n.
    Returns the handlers it replaces, which main puts back."""
    stop.clear()
    return {sig: signal.signal(sig, lambda signum, _: stop.append(signum))
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}

def seconds(run):
    return run.elapsed + time.time() - run.t0   # training time, across resumes

def eval_loss(val_data, params):
    """Mean loss per character on held-out data (None if stopped): h carried across chunks as in training,
    or per_line from a zero state for each name."""
    h, total = zero_state(), 0.0
    chunks = val_data if per_line else [val_data[i:i + seq_length + 1]
                                        for i in range(0, len(val_data) - 1, seq_length)]
    for chunk in chunks:
        if stop:
            return None
        loss, hs, _ = forward(chunk[:-1], chunk[1:], zero_state() if per_line else h, params)
        total, h = total + float(loss), hs[..., -1, :]
    return total / sum(len(chunk) - 1 for chunk in chunks)

def held_out(run, final=False):
    """The held-out loss every eval_every iterations and at the end (once an iteration), on stdout."""
    if run.val_data is None or run.val_iter == run.n or run.n % eval_every and not final:
        return
    val = eval_loss(run.val_data, run.params)
    if val is not None:
        run.val_loss, run.val_iter = val, run.n
        say(f'iter {run.n}, held-out loss: {val:.4f} nats/char, {val / np.log(2):.4f} bits/char')

def report(run, sample_ix=None, grads=None):
    """A row of the loss log (one an iteration: the last one wins), with the gradient's norm before clipping
    and the fraction of its entries clipping changes; with a sample, the paper's transcript (the smoothed
    loss, the sample) on stdout, and speed and time left on stderr."""
    health = ','
    if grads:                                    # printing iterations only: two passes over the gradient
        norm = math.sqrt(sum(np.square(g, dtype=np.float64).sum() for g in grads))
        clipped = sum(np.count_nonzero(abs(g) > clip) for g in grads) if clip else 0
        health = f'{norm:.6g},{clipped / sum(g.size for g in grads):.6g}'
    row = (f'{run.n},{run.smooth_loss:.6f},{run.smooth_loss / run.chars_per_seq:.6f},'
           f"{run.val_loss if run.val_iter == run.n else ''},{seconds(run):.1f},{health}")
    if run.rows and run.rows[-1].startswith(f'{run.n},'):
        run.rows.pop()                           # a resumed run writes its first row anew
    run.rows.append(row)
    if sample_ix is not None:
        say(f'----\niter {run.n}, loss: {run.smooth_loss:f}\n----\n'
            + ''.join(run.chars[ix] for ix in sample_ix))
        rate = (run.n - run.n0) / max(time.time() - run.t0, 1e-9)
        left = round((max_iters - run.n) / max(rate, 1e-9))
        if run.n > run.n0:
            note(f'iter {run.n}/{max_iters}: loss {run.smooth_loss / run.chars_per_seq:.4f} nats/char, '
                 f'{rate:.0f} it/s, {left // 3600} h {left % 3600 // 60} min {left % 60} s left')

def finish(run):
    """The held-out loss at the last iteration (a row of the log), the checkpoint, the closing line."""
    if run.val_data is not None and not stop:
        held_out(run, final=True)
        if not stop:
            report(run)
    save_checkpoint(run)
    rate = (run.n - run.n0) / (time.time() - run.t0)
    how = f'continue with --resume=True --checkpoint_path={checkpoint_path}' if stop else 'done'
    note(f'{"interrupted" if stop else "stopped"} at iteration {run.n} ({rate:.0f} it/s); '
         f'saved {checkpoint_path}; {how}')
    if stop:
        sys.exit(128 + stop[0])

def save_checkpoint(run):
    """The checkpoint (the paper's arrays by name, Adagrad's memory as 'm' + name, hprev, the run's record as
    JSON, the loss log's text), then the log: each written to a file of this process's own, then renamed
    over the last (through a symbolic link), so that a crash or a full disk leaves it whole."""
    V = len(run.chars)
    meta = dict({k: getattr(run, k) for k in STATE}, script=SCRIPT, smooth_loss=float(run.smooth_loss),
                elapsed=seconds(run), rng=run.rng.bit_generator.state,
                config={k: globals()[k] for k in config_keys})
    log = np.frombuffer('\n'.join([HEADER, *run.rows, '']).encode('utf-8'), np.uint8)   # the .csv, in it too
    arrays = dict(zip(shapes(V), unflatten(run.theta, V)), hprev=run.hprev, log=log,
                  meta=np.array(json.dumps(meta)))
    arrays.update(('m' + k, m) for k, m in zip(shapes(V), unflatten(run.mem, V)))
    for path, write in [(checkpoint_path, lambda f: np.savez(f, **arrays)),
                        (checkpoint_path[:-4] + '.csv', lambda f: f.write(log.tobytes()))]:
        tmp = f'{os.path.realpath(path)}.{os.getpid()}.tmp'
        try:
            with open(tmp, 'wb') as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, os.path.realpath(path))
        except OSError as e:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            fail(f'cannot write {path}: {e.strerror}; the previous one is untouched')

def generate_text(run):
    """--generate=N characters or --lines=K lines from the saved model, after --prime; a per_line model's
    are names, each from a zero state fed a newline and the prime. The output ends with a newline."""
    params, ix_of = unflatten(run.theta, len(run.chars)), {ch: i for i, ch in enumerate(run.chars)}
    for ch in prime:
        if ch not in ix_of:
            fail(f"--prime has {ch!r}, which is not in the model's vocabulary")
    if lines and '\n' not in ix_of:
        fail('--lines needs a newline in the vocabulary')
    # without a prime, from a zero state fed a newline (or, if the text has none, its first symbol)
    start = [ix_of.get('\n', 0)] * (per_line or not prime) + [ix_of[ch] for ch in prime]
    h0 = h = forward(start[:-1], start[1:], zero_state(), params)[1][..., -1, :]   # after the prime
    ix, rng = start[-1], np.random.default_rng(seed)
    last = '' if per_line else prime             # what was written last
    left, todo = generate or MAX_LINE * lines, lines - last.count('\n') if lines else sys.maxsize
    sys.stdout.write(last)
    while left > 0 and todo > 0:                 # in pieces: any length in little memory
        if per_line:
            name = sample(h0, start[-1], sample_length, params, rng, temperature, start[0])[0]   # from h0
            piece = prime + ''.join(run.chars[i] for i in name) + '\n'
        else:
            ixes, h = sample(h, ix, min(left, 10000), params, rng, temperature)
            piece, ix = ''.join(run.chars[i] for i in ixes), ixes[-1]
        parts = piece[:left].split('\n')
        piece = '\n'.join(parts[:todo]) + ('\n' if len(parts) > todo else '')
        sys.stdout.write(piece)
        last, left, todo = (last + piece)[-1:], left - len(piece), todo - piece.count('\n')
    print('' if last.endswith('\n') else '\n', end='', flush=True)

def main(argv):
    np.seterr(all='ignore')                      # a non-finite loss is caught and reported by train
    run = SimpleNamespace(lock=None, handlers={})
    try:
        settings(argv, run)
        generate_text(run) if generate or lines else train(run)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:                      # stdout closed early, e.g. piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except MemoryError:
        fail(f'out of memory with hidden_size={hidden_size} and {len(getattr(run, "chars", []))} symbols')
    except UnicodeDecodeError as e:
        fail(f'{input_file} is not UTF-8 text (byte {e.start}); convert it to UTF-8')
    except OSError as e:
        fail(f"cannot {'read input file' if e.filename == input_file else 'write'} {e.filename}: "
             f'{e.strerror}')
    finally:
        for sig, handler in run.handlers.items():
            signal.signal(sig, handler)
        if run.lock is not None:                 # removed while still held: see lock()
            with contextlib.suppress(OSError):
                os.remove(run.lock_path)
            os.close(run.lock)


if __name__ == '__main__':
    main(sys.argv[1:])
