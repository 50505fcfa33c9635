"""
Character-level vanilla RNN language model in NumPy: the single-layer model of "Language Modeling
with Recurrent Neural Networks and Backpropagation Through Time" (K. Ma, Sections III-V), after
Karpathy's min-char-rnn. Equation numbers in comments are the paper's.

  python min_char_rnn.py                  # train on input.txt (a rerun starts afresh and keeps the last run)
  python min_char_rnn.py --resume=True    # continue the saved run exactly, with the settings it was run with
  python min_char_rnn.py --generate=500 --prime="ROMEO:" --temperature=0.8   # sample the saved model
"""
import difflib, functools, json, os, signal, sys, time
if not {'OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'} & set(os.environ):
    os.environ.update(OPENBLAS_NUM_THREADS='1', MKL_NUM_THREADS='1')   # before NumPy loads (README, Speed)
import numpy as np

# -----------------------------------------------------------------------------
# hyperparameters: plain assignments, each can be overridden as --name=value
input_file = 'input.txt'         # training text (UTF-8)
hidden_size = 100                # size of h_t
seq_length = 25                  # T: time steps per iteration (truncated BPTT); per_line: unused
learning_rate = 1e-2             # eta of Adagrad, eq. (32) (the paper's appendix listing has 1e-1)
max_iters = 1000000              # the paper's run is about 1M iterations
print_every = 100                # print the loss and a sample every this many iterations
sample_length = 200              # characters per sample; per_line: the longest sampled name
seed = 1337                      # initial weights, sampling, per_line's order of lines
dtype = 'float32'                # or 'float64': same results within noise, slower
per_line = False                 # True: each non-empty line is one sequence, one per iteration (names)
val_fraction = 0.0               # held-out tail of the text (0: train on all of it, as the paper)
eval_every = 10000               # held-out loss every this many iterations
checkpoint_path = 'out/min_char_rnn.npz'   # the loss log is the same name with .csv
checkpoint_every = 10000         # also saved at the end, on Ctrl-C and on kill (SIGTERM)
resume = False                   # continue checkpoint_path with the settings it records
generate = 0                     # > 0: sample this many characters from checkpoint_path, no training
lines = 0                        # > 0: sample this many lines (per_line: names), no training
prime = ''                       # text run through the network before sampling
temperature = 1.0                # sampling divides the logits by it
# -----------------------------------------------------------------------------

# data (Section IV-A): the text as integers (char_to_ix) and its vocabulary (ix_to_char)
def load_data(path):
    """The text as one integer array, and its vocabulary, sorted so that it is the same every run."""
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except UnicodeDecodeError as e:
        fail(f'{path} is not UTF-8 text (byte {e.start}); convert it to UTF-8')
    except OSError as e:
        fail(f'cannot read input file {path}: {e.strerror}')
    chars = sorted(set(text)) or ['\n']
    char_to_ix = np.zeros(ord(chars[-1]) + 1, np.int32)    # indexed by code point
    char_to_ix[[ord(ch) for ch in chars]] = np.arange(len(chars))
    return char_to_ix[np.frombuffer(text.encode('utf-32-le'), np.uint32)], chars

def split_lines(data, nl):
    """per_line: each non-empty line as newline + line + newline (the newline starts and ends a name)."""
    ends = np.flatnonzero(np.append(data, nl) == nl)
    return [np.concatenate(([nl], data[a + 1:b], [nl])) for a, b in zip(np.append(-1, ends[:-1]), ends) if b > a + 1]

# -----------------------------------------------------------------------------
# model (Sections III, IV-B, IV-C)
def unflatten(theta, vocab_size):
    """The paper's Wxh, Whh, Why, bh, by as views into the flat parameter vector theta."""
    H, V, params, i = hidden_size, vocab_size, [], 0
    for shape in [(H, V), (H, H), (V, H), (H,), (V,)]:
        params.append(theta[i:i + int(np.prod(shape))].reshape(shape))
        i += params[-1].size
    return params

def init_params(vocab_size, rng):
    """Theta (all weights in one vector, so clipping and Adagrad are a pass each) and its views."""
    theta = np.zeros((hidden_size + 1) * (hidden_size + vocab_size) + hidden_size * vocab_size, dtype)
    params = unflatten(theta, vocab_size)
    for W in params[:3]:                           # Wxh, Whh, Why ~ randn * 0.01; the biases stay zero
        W[...] = rng.standard_normal(W.shape) * 0.01
    return theta, params

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
    dWxh = dhraw.T.dot(np.eye(len(by), dtype=dh.dtype)[inputs])   # sum_t dhraw_t one_hot(x_t)^T
    return loss, [dWxh, dWhh, dWhy, dbh, dby], hs[-1]

def update(theta, grads, mem):
    """Clip the gradient to [-5, 5] (against exploding gradients), then Adagrad, eq. (32)-(33)."""
    dtheta = np.concatenate([dparam.ravel() for dparam in grads])
    np.clip(dtheta, -5, 5, out=dtheta)
    mem += dtheta * dtheta                         # eq. (33): G += g^2, per component
    theta -= learning_rate * dtheta / np.sqrt(mem + 1e-8)   # eq. (32)

def sample(h, seed_ix, n, params, rng, temperature=1.0, stop_ix=None):
    """Up to n character indices from the model fed seed_ix first (ending early at stop_ix), and h after."""
    Wxh, Whh, Why, bh, by = params
    xh = Wxh.T + bh                                # row ix: Wxh one_hot(ix) + bh
    # Gumbel-max: argmax(y + T * g), g = -log(-log(uniform)), is a draw from softmax(y / T), eq. (28)
    noise = -temperature * np.log(-np.log(rng.random((n, len(by)))))
    ixes, ix = [], seed_ix
    for g in noise:
        h = np.tanh(xh[ix] + Whh.dot(h))           # eq. (26)
        ix = int((Why.dot(h) + by + g).argmax())   # eq. (27), then a draw from eq. (28)
        ixes.append(ix)
        if ix == stop_ix:
            break
    return ixes, h

def sample_names(k, start, params, rng, temperature=1.0):
    """per_line: k names (their newline dropped), each from a zero state fed start (newline, any prime)."""
    h = forward(start[:-1], start[1:], np.zeros(hidden_size, dtype), params)[1][-1]
    names = [sample(h, start[-1], sample_length, params, rng, temperature, start[0])[0] for _ in range(k)]
    return [name[:-1] if name[-1] == start[0] else name for name in names]

# -----------------------------------------------------------------------------
# training loop (Section V): every print_every iterations the loss and a sample, as the listing
def train(ck):
    data, val_data, ix_to_char, chars_per_seq = training_data()
    nl = ix_to_char.index('\n') if per_line else None
    theta, mem, hprev, rng, n, p, smooth_loss, elapsed = initial_state(ck, ix_to_char, data, chars_per_seq)
    params, handlers, log, t0 = unflatten(theta, len(ix_to_char)), catch_signals(), open_log(n), time.time()
    n0, seconds = n, lambda: elapsed + time.time() - t0   # training time, across resumes
    def checkpoint():
        save_checkpoint(theta, mem, hprev, dict(script=SCRIPT, n=n, p=p, smooth_loss=float(smooth_loss), chars=ix_to_char,
                        rng=rng.bit_generator.state, elapsed=seconds(), config={k: globals()[k] for k in config_keys}))
    while n < max_iters and not stop:
        if per_line:                               # one name per iteration, from a zero state (the names note)
            seq = data[line_order(seed, n // len(data), len(data))[n % len(data)]]
            inputs, targets, hprev = seq[:-1], seq[1:], np.zeros_like(hprev)
        else:
            if p + seq_length + 1 > len(data):
                hprev, p = np.zeros_like(hprev), 0   # start of data: reset the memory
            inputs, targets = data[p:p + seq_length], data[p + 1:p + seq_length + 1]
        val = held_out(n, val_data, params, stop)
        if stop:
            break                                  # interrupted during the evaluation: redone on resume
        if n % print_every == 0:                    # per_line: five names, one a line
            sample_ix = ([ix for name in sample_names(5, [nl], params, rng) for ix in name + [nl]][:-1] if per_line
                         else sample(hprev, inputs[0], sample_length, params, rng)[0])
        loss, grads, hprev = lossFun(inputs, targets, hprev, params)
        if not np.isfinite(loss):
            fail(f'loss became {loss} at iteration {n}; the last checkpoint is kept; try a smaller --learning_rate')
        smooth_loss = smooth_loss * 0.999 + float(loss) * 0.001   # float64 whatever the dtype
        if n % print_every == 0:
            say(f'----\niter {n}, loss: {smooth_loss:f}\n----\n' + ''.join(ix_to_char[ix] for ix in sample_ix))
            log_row(log, n, smooth_loss, smooth_loss / chars_per_seq, val, seconds())
            progress(n, n0, t0, smooth_loss / chars_per_seq)
        update(theta, grads, mem)
        p, n = p + seq_length, n + 1
        if n % checkpoint_every == 0:
            checkpoint()
    finish(n, (n - n0) / (time.time() - t0), val_data, params, log, smooth_loss, chars_per_seq, seconds, checkpoint, handlers)

# =============================================================================
# Not in the paper: the command line, held-out loss, run files (checkpoint, loss log), progress,
# sampling a saved model, main.
config_keys = [k for k, v in globals().items() if not k.startswith('_') and isinstance(v, (bool, int, float, str))]
MODEL_KEYS = ['hidden_size', 'per_line']        # fixed by a checkpoint
ACTION_KEYS = ['resume', 'generate', 'lines', 'prime', 'temperature', 'checkpoint_path']   # never adopted
SCRIPT, NAMES, MAX_LINE = os.path.basename(__file__), ['Wxh', 'Whh', 'Why', 'bh', 'by'], 1000
stop = []                                        # signals and closed pipes that ask a run to stop

def fail(msg):
    sys.exit(f'{SCRIPT}: error: {msg}')

def note(msg):
    say(f'{SCRIPT}: {msg}', sys.stderr)

def say(text, stream=sys.stdout):
    """Print; if the reader has gone (a closed pipe, e.g. `| head`), stop the run as Ctrl-C does."""
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        stop.append(signal.SIGPIPE)

def print_help():
    """Usage, then each hyperparameter with its default and comment, read from the block at the top."""
    print(__doc__.strip() + f'\n\nhyperparameters (--name=value; defaults from the top of {SCRIPT}):')
    block = open(__file__, encoding='utf-8').read().split('# ' + '-' * 77)[1]
    for line in block.splitlines()[2:]:
        name, _, comment = line.partition('#')
        name = name.split('=')[0].strip()
        print(f"  --{name}={globals()[name] if globals()[name] != '' else repr('')}".ljust(38) + ' ' + comment.strip())

def configure(argv):
    """Apply --name=value overrides (typed by the default) and check every value; return the ones given."""
    if {'-h', '--help'} & set(argv):
        print_help()
        sys.exit(0)
    given = {}
    for i, arg in enumerate(argv):
        name, eq, value = arg[2:].partition('=')
        if not arg.startswith('--') or not eq:
            right = f'--{name}={argv[i + 1]}' if name in config_keys and i + 1 < len(argv) else '--name=value'
            fail(f"expected {right}, got '{arg}' (see --help)")
        if name not in config_keys:
            near = difflib.get_close_matches(name, config_keys, 1)
            fail(f"unknown hyperparameter '{name}'" + (f'; did you mean --{near[0]}?' if near else '') + ' (see --help)')
        kind = type(globals()[name])
        try:
            if kind is bool and value.lower() not in ('true', 'false', '1', '0'):
                raise ValueError
            given[name] = value.lower() in ('true', '1') if kind is bool else kind(value)
        except ValueError:
            fail(f"--{name}={value} is not a valid {kind.__name__}")
    globals().update(given)
    check()
    return given

def check():
    for name in ['hidden_size', 'seq_length', 'max_iters', 'print_every', 'sample_length', 'eval_every',
                 'checkpoint_every', 'generate', 'lines', 'seed']:
        low = 0 if name in ('generate', 'lines', 'seed') else 1
        if type(globals()[name]) is not int or globals()[name] < low:
            fail(f'--{name} must be a whole number >= {low}, got {globals()[name]}')
    for name in ['learning_rate', 'temperature']:
        if not 0 < globals()[name] < float('inf'):
            fail(f'--{name} must be positive, got {globals()[name]}')
    if not 0 <= val_fraction < 1:
        fail(f'--val_fraction must be in [0, 1), got {val_fraction}')
    if dtype not in ('float64', 'float32'):
        fail(f"--dtype must be float64 or float32, got '{dtype}'")

def training_data():
    """Training and held-out data (per_line: lists of names), the vocabulary, characters per sequence."""
    data, ix_to_char = load_data(input_file)
    note(f'data has {len(data)} characters, {len(ix_to_char)} unique.')
    if per_line:
        if '\n' not in ix_to_char or not (data != ix_to_char.index('\n')).any():
            fail(f'--per_line=True trains on one name per line, and {input_file} has no non-empty line')
        data = split_lines(data, ix_to_char.index('\n'))
        if max(map(len, data)) > MAX_LINE + 2:
            fail(f'{input_file} has a line of {max(map(len, data)) - 2} characters; --per_line is for lines of at most {MAX_LINE}')
    n_val = int(len(data) * val_fraction)
    data, val_data = data[:len(data) - n_val], (data[len(data) - n_val:] if n_val else None)
    least_train, least_held_out = (1, 1) if per_line else (seq_length + 1, 2)    # sequences or characters
    if val_fraction and (n_val < least_held_out or len(data) < least_train):
        fail(f"--val_fraction={val_fraction} leaves {len(data)} {'lines' if per_line else 'characters'} to train on "
             f'and {n_val} held out')
    if len(data) < seq_length + 1 and not per_line:
        fail(f'{input_file} has {len(data)} characters; training needs at least seq_length + 1 = {seq_length + 1}')
    return data, val_data, ix_to_char, np.mean([len(s) - 1 for s in data]) if per_line else seq_length

def initial_state(ck, ix_to_char, data, chars_per_seq):
    """Weights, Adagrad memory, hprev, RNG, n, p, smooth loss, elapsed s: from the checkpoint, or new."""
    if ck:
        theta, mem, hprev, meta = ck
        if meta['chars'] != ix_to_char:
            fail(f"{input_file} has a different vocabulary ({len(ix_to_char)} symbols) from checkpoint {checkpoint_path} "
                 f"({len(meta['chars'])}), which was trained on {meta['config']['input_file']}")
        rng = np.random.default_rng()
        rng.bit_generator.state = meta['rng']
        return theta, mem, hprev, rng, meta['n'], meta['p'], meta['smooth_loss'], meta['elapsed']
    size = (hidden_size + 1) * (hidden_size + len(ix_to_char)) + hidden_size * len(ix_to_char)
    need, have = size * np.dtype(dtype).itemsize * 4, os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    if need > have:                                # weights, Adagrad memory, gradients, update temporaries
        fail(f'hidden_size={hidden_size} makes {size:,} parameters, about {need / 2**30:.1f} GB to train; '
             f'this machine has {have / 2**30:.1f} GB')
    note(f'new run: hidden_size={hidden_size}, {size:,} parameters ({dtype}); ' + ', '.join(
        f'{k}={globals()[k]}' for k in ['seq_length', 'learning_rate', 'max_iters', 'per_line', 'val_fraction', 'seed']))
    keep_earlier_run()
    rng = np.random.default_rng(seed)
    theta = init_params(len(ix_to_char), rng)[0]
    smooth_loss = np.log(len(ix_to_char)) * chars_per_seq   # the loss at iteration 0: p_t = 1/V everywhere
    return theta, np.zeros_like(theta), np.zeros(hidden_size, dtype), rng, 0, 0, smooth_loss, 0.0

def keep_earlier_run():
    """A new run never overwrites an earlier one: its checkpoint and log are renamed first."""
    stem = os.path.splitext(checkpoint_path)[0]
    old = [f for f in (checkpoint_path, stem + '.csv') if os.path.lexists(f)]
    if old:
        try:
            with np.load(checkpoint_path, allow_pickle=False) as ck:
                tag = f"iter{json.loads(str(ck['meta']))['n']}-"
        except Exception:
            tag = ''
        tag += time.strftime('%Y%m%d-%H%M%S', time.localtime(os.path.getmtime(old[0])))
        k, new = 0, lambda f, k: f'{stem}.{tag}{"-%d" % k if k else ""}{os.path.splitext(f)[1]}'
        while any(os.path.lexists(new(f, k)) for f in (checkpoint_path, stem + '.csv')):
            k += 1
        for f in old:
            os.rename(f, new(f, k))
        note(f"earlier run kept as {' and '.join(new(f, k) for f in old)}; this is a new run (--resume=True continues one)")

@functools.lru_cache(maxsize=1)
def line_order(seed, epoch, count):
    """per_line: the order of the lines in pass `epoch` over them, seeded and reshuffled every pass."""
    return np.random.default_rng([seed, epoch]).permutation(count)

def eval_loss(val_data, params, stop):
    """Mean loss per character on held-out data (None if stopped): carrying h across chunks as in
    training, or per_line from a zero state for each name."""
    h0 = h = np.zeros(hidden_size, dtype)
    chunks = val_data if per_line else [val_data[i:i + seq_length + 1] for i in range(0, len(val_data) - 1, seq_length)]
    total = 0.0
    for chunk in chunks:
        if stop:
            return None
        loss, hs, _ = forward(chunk[:-1], chunk[1:], h0 if per_line else h, params)
        total, h = total + float(loss), hs[-1]
    return total / sum(len(chunk) - 1 for chunk in chunks)

def held_out(n, val_data, params, stop):
    """Every eval_every iterations the held-out loss, printed; '' if not evaluated, None if stopped."""
    if val_data is None or n % eval_every:
        return ''
    val = eval_loss(val_data, params, stop)
    if val is not None:
        say(f'iter {n}, held-out loss: {val:.4f} nats/char, {val / np.log(2):.4f} bits/char')
    return val

def catch_signals():
    """Ctrl-C (SIGINT), kill (SIGTERM) or a closed pipe: finish the iteration, save, exit 128 + signal.
    Returns the handlers it replaces, for finish to put back."""
    stop.clear()
    return {sig: signal.signal(sig, lambda signum, _: stop.append(signum)) for sig in (signal.SIGINT, signal.SIGTERM)}

def open_log(n):
    """The loss log. On resume, rows from iteration n on are cut off in place (no window in which
    a crash loses the rest), then new rows are appended."""
    path, keep = os.path.splitext(checkpoint_path)[0] + '.csv', 0
    try:
        if resume and os.path.exists(path):
            with open(path, 'rb') as f:
                for row in f:
                    first = row.split(b',')[0]
                    if not row.endswith(b'\n') or first.isdigit() and int(first) >= n:
                        break
                    keep += len(row)
            os.truncate(path, keep)
        os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
        log = open(path, 'a' if keep else 'w')
    except OSError as e:
        fail(f'cannot write the loss log {path}: {e.strerror}')
    if not keep:
        log.write('iter,smooth_loss,loss_per_char,val_loss_per_char,elapsed_s\n')
    return log

def log_row(log, n, smooth_loss, loss_per_char, val, seconds):
    log.write(f'{n},{smooth_loss:.6f},{loss_per_char:.6f},{val},{seconds:.1f}\n')
    log.flush()

def progress(n, n0, t0, loss_per_char):
    """Speed and time left, on stderr (stdout is the paper's transcript)."""
    rate = (n - n0) / max(time.time() - t0, 1e-9)
    left = (max_iters - n) / max(rate, 1e-9)
    if n > n0:
        note(f'iter {n}/{max_iters}: loss {loss_per_char:.4f} nats/char, {rate:.0f} it/s, '
             f'{left // 3600:.0f} h {left % 3600 // 60:.0f} min {left % 60:.0f} s left')

def finish(n, rate, val_data, params, log, smooth_loss, chars_per_seq, seconds, checkpoint, handlers):
    """The last held-out loss (into the log row at n), the checkpoint, the closing line on stderr."""
    if val_data is not None and not stop:
        val = eval_loss(val_data, params, stop)
        if val is not None:
            note(f'held-out loss at iteration {n}: {val:.4f} nats/char')
            log_row(log, n, smooth_loss, smooth_loss / chars_per_seq, val, seconds())
    checkpoint()
    log.close()
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
    how = f'continue with --resume=True --checkpoint_path={checkpoint_path}' if stop else 'done'
    note(f'{"interrupted" if stop else "stopped"} at iteration {n} ({rate:.0f} it/s); saved {checkpoint_path}; {how}')
    if stop:
        sys.exit(128 + stop[0])

def save_checkpoint(theta, mem, hprev, meta):
    """Plain arrays under the paper's names plus a JSON record; written aside, then renamed, so a
    crash or a full disk leaves the last good checkpoint whole."""
    V = len(meta['chars'])
    arrays = dict(zip(NAMES, unflatten(theta, V)), **{'m' + k: m for k, m in zip(NAMES, unflatten(mem, V))})
    os.makedirs(os.path.dirname(checkpoint_path) or '.', exist_ok=True)
    tmp = checkpoint_path + '.tmp'
    try:
        with open(tmp, 'wb') as f:
            np.savez(f, hprev=hprev, meta=np.array(json.dumps(meta)), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, checkpoint_path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        fail(f'cannot write checkpoint {checkpoint_path}: {e.strerror}; the previous one is untouched')

def load_checkpoint(given):
    """Theta, Adagrad memory, hprev and the run's record. Adopts the model's settings (on resume:
    every recorded setting) unless given on the command line; a given model shape must match."""
    try:
        with np.load(checkpoint_path, allow_pickle=False) as ck:
            arrays = {k: ck[k] for k in ck.files}
        meta = json.loads(str(arrays['meta']))
        assert meta['script'] == SCRIPT, f"it was written by {meta['script']}"
        config = dict({'per_line': False}, **meta['config'])
        H, V = config['hidden_size'], len(meta['chars'])
        shapes = dict(Wxh=(H, V), Whh=(H, H), Why=(V, H), bh=(H,), by=(V,), hprev=(H,))
        for k, shape in dict(shapes, **{'m' + k: shapes[k] for k in NAMES}).items():
            assert arrays[k].shape == shape and arrays[k].dtype.kind == 'f', f'{k} is damaged'
    except FileNotFoundError:
        fail(f'no checkpoint at {checkpoint_path}: train first, or set --checkpoint_path')
    except Exception as e:   # anything unreadable: truncated, corrupt, pickled or foreign
        fail(f'{checkpoint_path} is not a usable {SCRIPT} checkpoint ({type(e).__name__}: {e})')
    for k in MODEL_KEYS:
        if k in given and given[k] != config[k]:
            fail(f"checkpoint {checkpoint_path} has {k}={config[k]}, not {given[k]}")
    adopt = {k: v for k, v in config.items() if k in config_keys and k not in given and k not in ACTION_KEYS
             and (resume or k in MODEL_KEYS + ['dtype'])}
    changed = [f'{k}={v}' for k, v in adopt.items() if v != globals()[k]]
    globals().update(adopt)
    check()
    if resume:
        note(f"resuming {checkpoint_path} at iteration {meta['n']}" +
             (f"; settings it was run with, not those at the top of {SCRIPT}: {', '.join(changed)}" if changed else ''))
    theta, mem = (np.concatenate([arrays[pre + k].ravel() for k in NAMES]).astype(dtype) for pre in ('', 'm'))
    return theta, mem, arrays['hprev'].astype(dtype), meta

def generate_text(ck):
    """--generate=N characters, or --lines=K lines (per_line: K names), sampled from a saved model."""
    theta, _, _, meta = ck
    ix_to_char = meta['chars']
    params, char_to_ix = unflatten(theta, len(ix_to_char)), {ch: i for i, ch in enumerate(ix_to_char)}
    for ch in prime:
        if ch not in char_to_ix:
            fail(f"--prime has {ch!r}, which is not in the model's vocabulary")
    nl = char_to_ix.get('\n')
    if (lines or per_line) and nl is None:
        fail('--lines needs a newline in the vocabulary')
    rng, start = np.random.default_rng(seed), [nl] * (per_line or not prime) + [char_to_ix[ch] for ch in prime]
    decode = lambda ixes: ''.join(ix_to_char[ix] for ix in ixes)
    if per_line and lines:
        for name in sample_names(lines, start, params, rng, temperature):
            print(prime + decode(name))
        return
    h = forward(start[:-1], start[1:], np.zeros(hidden_size, dtype), params)[1][-1]
    left, ix, done = generate or MAX_LINE * lines, start[-1], prime.count('\n')
    sys.stdout.write(prime)
    while left > 0 and not (lines and done >= lines):   # in pieces: any length runs in little memory
        ixes, h = sample(h, ix, min(left, 10000), params, rng, temperature)
        text, left, ix = decode(ixes), left - len(ixes), ixes[-1]
        if lines and text.count('\n') >= lines - done:
            text = '\n'.join(text.split('\n')[:lines - done]) + '\n'
        done += text.count('\n')
        sys.stdout.write(text)
    print('' if lines else '\n', end='')

def main(argv):
    given = configure(argv)
    np.seterr(all='ignore')   # a non-finite loss is caught and reported by the training loop
    try:
        ck = load_checkpoint(given) if resume or generate or lines else None
        generate_text(ck) if generate or lines else train(ck)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:   # stdout closed early, e.g. piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except MemoryError:
        fail(f'out of memory (hidden_size={hidden_size}); try a smaller model')


if __name__ == '__main__':
    main(sys.argv[1:])
