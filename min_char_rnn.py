"""
Character-level vanilla RNN language model in NumPy: the single-layer model of "Language Modeling
with Recurrent Neural Networks and Backpropagation Through Time" (Sections III-V), after
Karpathy's min-char-rnn. Equation numbers in comments are the paper's.

Layout: row t of `hs` is the paper's column vector h_t (hs[0] is hprev), and W @ one_hot(x) is
the column gather W[:, x]; the only sequential work is one matrix-vector product per step.

  python min_char_rnn.py                                 # train on input.txt, checkpoint to out/
  python min_char_rnn.py --resume=True                   # continue the saved run exactly
  python min_char_rnn.py --generate=500 --prime="ROMEO:" --temperature=0.8
"""
import json, os, signal, sys, time
import numpy as np

# -----------------------------------------------------------------------------
# hyperparameters: plain assignments, each can be overridden as --name=value
input_file = 'input.txt'
hidden_size = 100                # size of h_t
seq_length = 25                  # T: time steps unrolled by truncated BPTT
learning_rate = 1e-2             # eta of Adagrad, eq. (32) (the paper's appendix listing has 1e-1)
max_iters = 1000000              # the paper's run is about 1M iterations
print_every = 100                # print the loss and a sample every this many iterations
sample_length = 200
seed = 1337                      # initial weights and sampling
dtype = 'float32'                # or 'float64': same results within noise, slower (README, Speed)
val_fraction = 0.0               # held-out tail of the text (0: train on all of it, as the paper)
eval_every = 10000               # held-out loss every this many iterations
checkpoint_path = 'out/min_char_rnn.npz'
checkpoint_every = 10000
resume = False                   # continue from checkpoint_path
generate = 0                     # > 0: sample this many characters from checkpoint_path, no training
lines = 0                        # > 0: sample this many lines from checkpoint_path, no training
prime = ''                       # text run through the network before sampling
temperature = 1.0                # sampling divides the logits by it
# -----------------------------------------------------------------------------
config_keys = [k for k, v in globals().items()
               if not k.startswith('_') and isinstance(v, (bool, int, float, str))]
model_keys = ['hidden_size']     # fixed by a checkpoint
SCRIPT = os.path.basename(__file__)
NAMES = ['Wxh', 'Whh', 'Why', 'bh', 'by']

def fail(msg):
    sys.exit(f'{SCRIPT}: error: {msg}')

def configure(argv):
    """Apply --name=value overrides (typed by the default); return the ones given."""
    given = {}
    for arg in argv:
        name, eq, value = arg[2:].partition('=')
        if not arg.startswith('--') or not eq:
            fail(f"expected --name=value, got '{arg}'")
        if name not in config_keys:
            fail(f"unknown hyperparameter '{name}'; known: {', '.join(config_keys)}")
        kind = type(globals()[name])
        try:
            if kind is bool and value.lower() not in ('true', 'false', '1', '0'):
                raise ValueError
            given[name] = value.lower() in ('true', '1') if kind is bool else kind(value)
        except ValueError:
            fail(f"--{name}={value} is not a valid {kind.__name__}")
    globals().update(given)
    for name in ['hidden_size', 'seq_length', 'learning_rate', 'max_iters', 'print_every',
                 'sample_length', 'eval_every', 'checkpoint_every', 'temperature']:
        if not 0 < globals()[name] < float('inf'):
            fail(f'--{name} must be positive, got {globals()[name]}')
    if generate < 0 or lines < 0:
        fail('--generate and --lines must be 0 or more')
    if not 0 <= val_fraction < 1:
        fail(f'--val_fraction must be in [0, 1), got {val_fraction}')
    if dtype not in ('float64', 'float32'):
        fail(f"--dtype must be float64 or float32, got '{dtype}'")
    return given

# -----------------------------------------------------------------------------
# data
def load_data(path):
    """The text as one integer array, and its sorted vocabulary (stable across runs)."""
    try:
        with open(path, encoding='utf-8') as f:
            text = f.read()
    except UnicodeDecodeError as e:
        fail(f'{path} is not UTF-8 text (byte {e.start}); convert it to UTF-8')
    except OSError as e:
        fail(f'cannot read input file {path}: {e.strerror}')
    if len(text) < seq_length + 1:
        fail(f'{path} has {len(text)} characters; training needs at least seq_length + 1 = {seq_length + 1}')
    chars = sorted(set(text))
    char_to_ix = np.zeros(ord(chars[-1]) + 1, np.int32)    # indexed by code point
    char_to_ix[[ord(ch) for ch in chars]] = np.arange(len(chars))
    return char_to_ix[np.frombuffer(text.encode('utf-32-le'), np.uint32)], chars

# -----------------------------------------------------------------------------
# model
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
    for W in params[:3]:                           # Wxh, Whh, Why; the biases stay zero
        W[...] = rng.standard_normal(W.shape) * 0.01
    return theta, params

def forward(inputs, targets, hprev, params):
    """Eq. (26)-(29) over a sequence: the loss J, hs (hs[0] = hprev, hs[t+1] = h_t) and p_t."""
    Wxh, Whh, Why, bh, by = params
    hs = np.empty((len(inputs) + 1, len(hprev)), hprev.dtype)
    hs[0] = hprev
    xh = Wxh.T[inputs] + bh                        # row t: Wxh @ one_hot(x_t) + bh
    for x_t, h_prev, h_t in zip(xh, hs, hs[1:]):
        np.tanh(x_t + Whh.dot(h_prev), out=h_t)   # eq. (26)
    z = hs[1:].dot(Why.T) + by
    z -= z.max(axis=1, keepdims=True)            # y_t less its max: p_t unchanged, exp cannot overflow
    e = np.exp(z)
    ps = e / e.sum(axis=1, keepdims=True)        # eq. (28)
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

def sample(h, seed_ix, n, params, rng, temperature=1.0):
    """n character indices sampled from the model, fed seed_ix first; and the hidden state after."""
    Wxh, Whh, Why, bh, by = params
    xh = Wxh.T + bh                                # row ix: Wxh @ one_hot(ix) + bh
    # Gumbel-max: argmax(y + T * g), g = -log(-log(uniform)), is a draw from softmax(y / T), eq. (28)
    noise = -temperature * np.log(-np.log(rng.random((n, len(by)))))
    ixes, ix = [], seed_ix
    for g in noise:
        h = np.tanh(xh[ix] + Whh.dot(h))           # eq. (26)
        ix = int((Why.dot(h) + by + g).argmax())   # eq. (27), then a draw from eq. (28)
        ixes.append(ix)
    return ixes, h

def eval_loss(data, params):
    """Mean loss per character on held-out data, carrying h across chunks as in training."""
    h, total = np.zeros(hidden_size, dtype), 0.0
    for i in range(0, len(data) - 1, seq_length):
        targets = data[i + 1:i + seq_length + 1]
        loss, hs, _ = forward(data[i:i + len(targets)], targets, h, params)
        total, h = total + float(loss), hs[-1]
    return total / (len(data) - 1)

# -----------------------------------------------------------------------------
# checkpoints: .npz of arrays plus a JSON string; loaded as data only (allow_pickle=False)
def save_checkpoint(theta, mem, hprev, meta):
    V = len(meta['chars'])
    arrays = dict(zip(NAMES, unflatten(theta, V)), **{'m' + k: m for k, m in zip(NAMES, unflatten(mem, V))})
    os.makedirs(os.path.dirname(checkpoint_path) or '.', exist_ok=True)
    tmp = checkpoint_path + '.tmp'
    try:
        with open(tmp, 'wb') as f:   # write aside, then rename: the last good file survives a crash
            np.savez(f, hprev=hprev, meta=np.array(json.dumps(meta)), **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, checkpoint_path)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        fail(f'cannot write checkpoint {checkpoint_path}: {e.strerror}; the previous one is untouched')

def load_checkpoint(given):
    """Theta, Adagrad memory, hprev and metadata; adopts the checkpoint's model shape."""
    try:
        with np.load(checkpoint_path, allow_pickle=False) as ck:
            arrays = {k: ck[k] for k in ck.files}
        meta = json.loads(str(arrays['meta']))
        assert meta['script'] == SCRIPT, f"it was written by {meta['script']}"
        H, V = meta['config']['hidden_size'], len(meta['chars'])
        shapes = dict(Wxh=(H, V), Whh=(H, H), Why=(V, H), bh=(H,), by=(V,), hprev=(H,))
        for k, shape in dict(shapes, **{'m' + k: shapes[k] for k in NAMES}).items():
            assert arrays[k].shape == shape and arrays[k].dtype.kind == 'f', f'{k} is damaged'
    except FileNotFoundError:
        fail(f'no checkpoint at {checkpoint_path}: train first, or set --checkpoint_path')
    except Exception as e:   # anything unreadable: truncated, corrupt, pickled or foreign
        fail(f'{checkpoint_path} is not a usable {SCRIPT} checkpoint ({type(e).__name__}: {e})')
    for k in model_keys:
        if k in given and given[k] != meta['config'][k]:
            fail(f"checkpoint {checkpoint_path} has {k}={meta['config'][k]}, not {given[k]}")
        globals()[k] = meta['config'][k]
    if 'dtype' not in given:
        globals()['dtype'] = meta['config']['dtype']
    theta, mem = (np.concatenate([arrays[pre + k].ravel() for k in NAMES]).astype(dtype) for pre in ('', 'm'))
    return theta, mem, arrays['hprev'].astype(dtype), meta

# -----------------------------------------------------------------------------
# sampling a saved model, and training
def generate_text(given):
    theta, _, _, meta = load_checkpoint(given)
    ix_to_char = meta['chars']
    params = unflatten(theta, len(ix_to_char))
    char_to_ix = {ch: i for i, ch in enumerate(ix_to_char)}
    for ch in prime:
        if ch not in char_to_ix:
            fail(f'--prime has {ch!r}, which is not in the model\'s vocabulary')
    if lines and '\n' not in char_to_ix:
        fail('--lines needs a newline in the vocabulary')
    rng = np.random.default_rng(seed)
    prime_ix = [char_to_ix[ch] for ch in prime] or [char_to_ix.get('\n', 0)]
    h = forward(prime_ix[:-1], prime_ix[1:], np.zeros(hidden_size, dtype), params)[1][-1]
    ixes, _ = sample(h, prime_ix[-1], generate or 1000 * lines, params, rng, temperature)
    text = prime + ''.join(ix_to_char[i] for i in ixes)
    print(''.join(text.splitlines(keepends=True)[:lines]) if lines else text, end='' if lines else '\n')

def train(given):
    data, chars = load_data(input_file)
    ix_to_char = chars
    n_val = int(len(data) * val_fraction)
    data, val_data = data[:len(data) - n_val], data[len(data) - n_val:]
    if len(data) < seq_length + 1 or (n_val and n_val < 2):
        fail(f'--val_fraction={val_fraction} leaves {len(data)} characters to train on and {n_val} held out')
    if resume:
        theta, mem, hprev, meta = load_checkpoint(given)
        if meta['chars'] != chars:
            fail(f"{input_file} has a different vocabulary ({len(chars)} symbols) from checkpoint "
                 f"{checkpoint_path} ({len(meta['chars'])}); resume with the input_file it was trained on")
        n, p, smooth_loss, elapsed = meta['n'], meta['p'], meta['smooth_loss'], meta['elapsed']
        rng = np.random.default_rng()
        rng.bit_generator.state = meta['rng']
    else:
        if os.path.exists(checkpoint_path):
            fail(f'{checkpoint_path} exists: continue it with --resume=True, or move it or set '
                 '--checkpoint_path to start a new run')
        rng = np.random.default_rng(seed)
        theta, _ = init_params(len(chars), rng)
        mem = np.zeros_like(theta)
        hprev, n, p, elapsed = np.zeros(hidden_size, dtype), 0, 0, 0.0
        smooth_loss = -np.log(1.0 / len(chars)) * seq_length   # the loss at iteration 0
    params = unflatten(theta, len(chars))
    log_path = os.path.splitext(checkpoint_path)[0] + '.csv'
    os.makedirs(os.path.dirname(log_path) or '.', exist_ok=True)
    rows = open(log_path).readlines()[1:] if resume and os.path.exists(log_path) else []
    log = open(log_path, 'w')
    log.write('iter,smooth_loss,loss_per_char,val_loss_per_char,elapsed_s\n')
    log.writelines(r for r in rows if r.split(',')[0].isdigit() and int(r.split(',')[0]) < n)

    def checkpoint():
        save_checkpoint(theta, mem, hprev, dict(
            script=SCRIPT, n=n, p=p, smooth_loss=float(smooth_loss), chars=chars, rng=rng.bit_generator.state,
            elapsed=elapsed + time.time() - t0, config={k: globals()[k] for k in config_keys}))

    stop = []
    old_handler = signal.signal(signal.SIGINT, lambda *_: stop.append(1))   # finish the iteration, then save
    t0, n0 = time.time(), n
    while n < max_iters and not stop:
        if p + seq_length + 1 > len(data) or n == 0:
            hprev, p = np.zeros(hidden_size, dtype), 0     # start of data: reset the memory
        inputs, targets = data[p:p + seq_length], data[p + 1:p + seq_length + 1]
        val = ''
        if n_val and n % eval_every == 0:
            val = eval_loss(val_data, params)
            print(f'iter {n}, held-out loss: {val:.4f} nats/char, {val / np.log(2):.4f} bits/char')
        if n % print_every == 0:
            sample_ix, _ = sample(hprev, inputs[0], sample_length, params, rng)
        loss, grads, hprev = lossFun(inputs, targets, hprev, params)
        if not np.isfinite(loss):
            fail(f'loss became {loss} at iteration {n}; the last checkpoint is kept; '
                 'try a smaller --learning_rate')
        smooth_loss = smooth_loss * 0.999 + float(loss) * 0.001   # float64 whatever the dtype
        if n % print_every == 0:
            print(f'----\niter {n}, loss: {smooth_loss:f} ({smooth_loss / seq_length:.4f} nats/char)\n----')
            print(''.join(ix_to_char[ix] for ix in sample_ix))
            log.write(f'{n},{smooth_loss:.6f},{smooth_loss / seq_length:.6f},{val},'
                      f'{elapsed + time.time() - t0:.1f}\n')
            log.flush()
        update(theta, grads, mem)
        p, n = p + seq_length, n + 1
        if n % checkpoint_every == 0:
            checkpoint()
    if n_val and not stop:   # the last log row gets a held-out loss too
        val = eval_loss(val_data, params)
        log.write(f'{n},{smooth_loss:.6f},{smooth_loss / seq_length:.6f},{val},{elapsed + time.time() - t0:.1f}\n')
        print(f'held-out loss at iteration {n}: {val:.4f} nats/char', file=sys.stderr)
    checkpoint()
    log.close()
    signal.signal(signal.SIGINT, old_handler)
    took = time.time() - t0
    print(f'{"interrupted" if stop else "stopped"} at iteration {n} ({(n - n0) / max(took, 1e-9):.0f} '
          f'iter/s); saved {checkpoint_path}' + ('; continue with --resume=True' if stop else ''), file=sys.stderr)
    if stop:
        sys.exit(130)

def main(argv):
    given = configure(argv)
    np.seterr(all='ignore')   # a non-finite loss is caught and reported by the training loop
    try:
        generate_text(given) if generate or lines else train(given)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:   # stdout closed early, e.g. piped into head: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == '__main__':
    main(sys.argv[1:])
