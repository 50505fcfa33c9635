"""Character-level LSTM language model in NumPy: the remedy that Section VI-A of "Language Modeling with
Recurrent Neural Networks and Backpropagation Through Time" (K. Ma) names for vanishing and exploding
gradients, in min_char_rnn.py's loop: the LSTM cell in place of eq. (26). Equation numbers are the paper's."""
import os, signal, sys, types
try:
    import harness      # all that the paper does not have (harness.py, beside this file); it loads NumPy
except ModuleNotFoundError:
    harness = None      # alone: the listing's loop, no files (see the end)
try:
    import numpy as np
except ModuleNotFoundError:
    sys.exit(f'{os.path.basename(__file__)}: error: needs NumPy: python -m pip install numpy')

# -----------------------------------------------------------------------------
# the paper's hyperparameters: plain assignments, each can be overridden as --name=value
input_file = 'input.txt'         # training text (UTF-8)
hidden_size = 45                 # size of h_t and c_t: 22,970 parameters at 65 symbols (RNN: 23,165)
seq_length = 25                  # T: time steps per iteration (truncated BPTT); per_line: unused
learning_rate = 2e-1             # eta of Adagrad, eq. (32): the best of a sweep (docs/discussion.md, 5)
forget_bias = 0.0                # initial bias of the forget gate f: the best of 0, 1, 2 (the same sweep)
clip = 5.0                       # gradients clipped to [-clip, clip] against exploding ones (0: off)
max_iters = 1000000              # the paper's run is about 1M iterations
print_every = 100                # print the loss and a sample every this many iterations
sample_length = 200              # characters per sample; per_line: the longest sampled name
seed = 1337                      # weights, samples (a seed gives the same sample each time), names' order
dtype = 'float32'                # or 'float64': same results within noise, slower
# run options: names, checkpoints (harness.py has the others: held-out loss, resume, sampling)
per_line = False                 # True: each non-empty line is one sequence, one per iteration (names)
checkpoint_path = 'out/lstm.npz'           # a .npz file; the loss log is the same name with .csv
checkpoint_every = 10000         # also saved at the end, and on Ctrl-C, kill and the other signals
# -----------------------------------------------------------------------------

# data (Section IV-A): the text as integers (char_to_ix) and its vocabulary (ix_to_char)
def load_data(path):
    """The text as one integer array (char_to_ix of each character), and its vocabulary (ix_to_char)."""
    with open(path, encoding='utf-8-sig') as f:    # -sig: a leading byte-order mark is not text
        text = f.read()
    chars = sorted(set(text)) or ['\n']            # sorted: the listing's list(set(data)) varies by run
    char_to_ix = np.zeros(ord(chars[-1]) + 1, np.int32)    # indexed by code point
    char_to_ix[[ord(ch) for ch in chars]] = np.arange(len(chars))
    return char_to_ix[np.frombuffer(text.encode('utf-32-le'), np.uint32)], chars

# model (Section VI-A's remedy): an LSTM cell (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000)
def shapes(vocab_size):
    """The parameters and their shapes, in the order they sit in theta (the Θ of eq. (32))."""
    H, V = hidden_size, vocab_size
    return dict(Wxh=(4 * H, V), Whh=(4 * H, H), Why=(V, H), bh=(4 * H,), by=(V,))

def unflatten(theta, vocab_size):
    """The parameters as views into the one vector theta (or the gradient, or Adagrad's memory)."""
    sizes = [int(np.prod(shape)) for shape in shapes(vocab_size).values()]
    return [x.reshape(s) for x, s in zip(np.split(theta, np.cumsum(sizes)[:-1]), shapes(vocab_size).values())]

def init_params(vocab_size, rng):
    """Theta, with Wxh, Whh, Why ~ randn * 0.01 and zero biases, as the listing, but f's bias forget_bias."""
    biases = dict(bh=np.repeat([0, forget_bias, 0, 0], hidden_size), by=np.zeros(vocab_size))   # i, f, o, g
    return np.concatenate([(rng.standard_normal(shape) * 0.01 if name[0] == 'W' else biases[name]).ravel()
                           for name, shape in shapes(vocab_size).items()]).astype(dtype)

def zero_state():
    return np.zeros((2, hidden_size), dtype)      # h_{-1} and c_{-1}: the memory at the start of the text

def cell(a, c):
    """From a_t = Wxh x_t + Whh h_{t-1} + bh (blocks i, f, o, g) and c_{t-1}: h_t, c_t and the gates."""
    H = c.shape[-1]
    s = 0.5 + 0.5 * np.tanh(0.5 * a[..., :3 * H])  # sigmoid(x) = 1 / (1 + e^-x), and it cannot overflow
    i, f, o, g = s[..., :H], s[..., H:2 * H], s[..., 2 * H:], np.tanh(a[..., 3 * H:])
    c = f * c + i * g                              # the cell state: i lets g in, f keeps c_{t-1}
    return o * np.tanh(c), c, (i, f, o, g)         # h_t: o lets it out

def forward(inputs, targets, hprev, params):
    """The cell, eq. (27)-(29), arguments as lossFun's: J, hcs (hcs[:, t] = h_t, c_t; t = -1: hprev), ps."""
    Wxh, Whh, Why, bh, by = params
    inputs, targets, shape = np.asarray(inputs, int), np.asarray(targets, int), (2, len(Whh) // 4)
    if inputs.ndim != 1 or targets.shape != inputs.shape or np.shape(hprev) not in (shape, shape + (1,)):
        raise ValueError(f'lossFun takes inputs, targets of T ints each and hprev of shape {shape} or '
                         f'{shape + (1,)}, not {inputs.shape}, {targets.shape} and {np.shape(hprev)}')
    hs, cs = hcs = np.empty((2, len(inputs) + 1, shape[1]), np.asarray(hprev).dtype)   # h_t, c_t: rows t
    hcs[:, -1] = np.reshape(hprev, shape)          # the listing's hs[-1] = np.copy(hprev), and c's
    xh = Wxh.T[inputs] + bh                        # row t: np.dot(Wxh, xs[t]) + bh (one-hot x_t: a column)
    for t in range(len(inputs)):
        hs[t], cs[t], _ = cell(xh[t] + np.dot(Whh, hs[t - 1]), cs[t - 1])   # in place of eq. (26)
    ys = np.dot(hs[:-1], Why.T) + by               # eq. (27) for all t: row t is np.dot(Why, hs[t]) + by
    z = ys - ys.max(axis=1, keepdims=True)         # y_t less its max: the same p_t, and exp cannot overflow
    e = np.exp(z)
    sums = e.sum(axis=1, keepdims=True)
    ps = e / sums                                  # eq. (28): row t is np.exp(ys[t]) / np.sum(np.exp(ys[t]))
    loss = -(z[np.arange(len(targets)), targets] - np.log(sums[:, 0])).sum()   # eq. (29), as log-softmax
    return loss, hcs, ps

def lossFun(inputs, targets, hprev, params):
    """The listing's lossFun: inputs, targets (T ints each), hprev (h_{-1}, c_{-1}), of shape (2, H) or
    (2, H, 1), params [Wxh, Whh, Why, bh, by]; returns J, [dWxh, dWhh, dWhy, dbh, dby], (h_{T-1}, c_{T-1})."""
    Wxh, Whh, Why, bh, by = params
    loss, (hs, cs), ps = forward(inputs, targets, hprev, params)
    inputs, T = np.asarray(inputs, int), len(inputs)
    dys = ps                                       # dy = np.copy(ps[t]) for all t (ps is not used after)
    dys[np.arange(T), targets] -= 1                # dy[targets[t]] -= 1: dJ/dy_t = p_t - one_hot(target_t)
    dWhy, dby = np.dot(dys.T, hs[:-1]), dys.sum(axis=0)   # dWhy += np.dot(dy, hs[t].T); dby += dy
    dhs = np.dot(dys, Why)                         # row t: np.dot(Why.T, dy), the output's part of dh
    hprevs, cprevs, tanhcs = hs[np.arange(T) - 1], cs[np.arange(T) - 1], np.tanh(cs[:-1])   # rows t-1, t
    i, f, o, g = cell(Wxh.T[inputs] + bh + np.dot(hprevs, Whh.T), cprevs)[2]   # forward's gates, all t
    dcdhs = o * (1 - tanhcs * tanhcs)              # row t: dh_t/dc_t
    dacts = np.concatenate((g * i * (1 - i), cprevs * f * (1 - f), tanhcs * o * (1 - o), i * (1 - g * g)), 1)
    draws, dhnext, dcnext = np.empty((T, len(bh)), hs.dtype), np.zeros_like(hs[-1]), np.zeros_like(cs[-1])
    for t in reversed(range(T)):
        dh = dhs[t] + dhnext                       # backprop into h
        dc = dcnext + dcdhs[t] * dh                # backprop into c: from h_t, and from c_{t+1}
        draws[t] = draw = dacts[t] * np.concatenate((dc, dc, dh, dc))   # into a_t: i, f, g via c_t, o via h_t
        dhnext = np.dot(draw, Whh)                 # np.dot(Whh.T, draw), as a row
        dcnext = f[t] * dc                         # VI-A's shortcut: to c_{t-1} times f, no weight matrix
    xs = (inputs[:, None] == np.arange(len(by))).astype(dhs.dtype)   # row t: the listing's xs[t], one-hot
    dbh, dWxh = draws.sum(axis=0), np.dot(draws.T, xs)   # dbh += draw; dWxh += np.dot(draw, xs[t].T)
    dWhh = np.dot(draws.T, hprevs)                 # dWhh += np.dot(draw, hs[t-1].T) (hs[-1]: hprev)
    return loss, [dWxh, dWhh, dWhy, dbh, dby], np.array([hs[T - 1], cs[T - 1]])

def update(params, grads, mems):
    """The listing's clipping (to [-clip, clip]), then Adagrad, eq. (32)-(33), in place; mems: mWxh..mby."""
    for param, dparam, mem in zip(params, grads, mems):
        if clip:
            dparam.clip(-clip, clip, out=dparam)   # against exploding gradients (np.clip: 2x the overhead)
        mem += dparam * dparam                     # eq. (33): G += g^2, per component
        param += -learning_rate * dparam / np.sqrt(mem + 1e-8)   # eq. (32), eps in the root as the listing

def sample(hc, seed_ix, n, params, rng, temperature=1.0, stop_ix=None, top_k=0):
    """Up to n character indices after seed_ix (not past stop_ix), and (h, c) after; temperature 0: greedy."""
    Wxh, Whh, Why, bh, by = params
    # Gumbel-max, argmax(y + T u) for u = -log(-log(r)), draws as the listing's np.random.choice: faster
    noise = -temperature * np.log(-np.log(rng.random((n, len(by))))) if temperature else np.zeros((n, 1))
    ixes, ix, (h, c) = [], seed_ix, hc
    for u in noise:
        h, c, _ = cell(Wxh[:, ix] + bh + np.dot(Whh, h), c)   # for eq. (26); Wxh[:, ix]: np.dot(Wxh, x)
        y = np.dot(Why, h) + by                    # eq. (27)
        if top_k:
            y[np.argsort(y)[:-top_k]] = -np.inf    # all but the top_k likeliest out of the draw
        ix = int((y + u).argmax())                 # a draw from eq. (28)
        if ix == stop_ix:
            break
        ixes.append(ix)
    return ixes, np.array([h, c])

# training loop (Section V): every print_every iterations the loss and a sample, as the listing
def new_run(run, data, chars):
    """The listing's start: new weights, zero Adagrad memory and hprev, p = n = 0, the loss of iteration 0."""
    vocab_size, run.rng, run.data, run.chars = len(chars), np.random.default_rng(seed), data, chars
    run.theta = init_params(vocab_size, run.rng)
    run.mem, run.hprev, run.n, run.p = np.zeros_like(run.theta), zero_state(), 0, 0
    T = np.mean([len(line) - 1 for line in data]) if per_line else seq_length   # per_line: names' mean length
    run.smooth_loss = -np.log(1.0 / vocab_size) * T   # loss at iteration 0, p_t = 1 / vocab_size
    return run

def train(run):
    harness.start_run(run)   # the data, new weights (new_run) or a checkpoint's, a held-out tail, signals
    data, params, mems = run.data, unflatten(run.theta, len(run.chars)), unflatten(run.mem, len(run.chars))
    while run.n < max_iters:
        n, p = run.n, run.p
        if per_line:                               # one name an iteration, from a zero state (names note)
            inputs, targets, run.hprev = harness.next_name(run)
        else:                                      # (the listing's >= would never train the last character)
            if p + seq_length + 1 > len(data):
                run.hprev, p = zero_state(), 0     # reset RNN memory, go from start of data
            inputs, targets = data[p:p + seq_length], data[p + 1:p + seq_length + 1]
        harness.held_out(run)                      # every eval_every iterations (not in the paper)
        if run.stop:
            break                                  # a signal (during the evaluation: it is redone on resume)
        if n % print_every == 0:                   # per_line: five names, one a line
            sample_ix = (harness.names_sample(run, params) if per_line
                         else sample(run.hprev, inputs[0], sample_length, params, run.rng)[0])
            txt = ''.join(run.chars[ix] for ix in sample_ix)
        loss, grads, run.hprev = lossFun(inputs, targets, run.hprev, params)
        if not np.isfinite(loss):
            sys.exit(f'{os.path.basename(__file__)}: error: loss became {loss} at iteration {n}; '
                     f'the last checkpoint is kept; lower --learning_rate?')
        run.smooth_loss = run.smooth_loss * 0.999 + float(loss) * 0.001   # float64 whatever the dtype
        if n % print_every == 0:
            harness.log_row(run, grads)            # a row of the loss log (the gradient before clipping)
        update(params, grads, mems)
        run.p, run.n = p + seq_length, n + 1
        if n % print_every == 0:                   # printed once the iteration is whole (harness.main)
            print(f'----\niter {n}, loss: {run.smooth_loss:f}\n----\n{txt}', flush=True)
        if run.n % checkpoint_every == 0:
            harness.save_checkpoint(run)
    harness.finish(run)                            # the last held-out loss, the checkpoint, the closing line

if __name__ == '__main__' and harness:
    harness.main(sys.modules[__name__])            # the settings (top, checkpoint, command line), then train
elif __name__ == '__main__':                       # alone: the listing's start and loop; the hooks do nothing
    prog = os.path.basename(__file__)
    print(f'{prog}: alone, the settings at the top, no files; checkpoints, resume, the command line and '
          'sampling a saved model need harness.py beside it', file=sys.stderr)
    if sys.argv[1:] or per_line:                   # per_line: the names note's, not the paper's
        sys.exit(f'{prog}: error: {"per_line" if per_line else "the command line"} needs harness.py too')
    harness = types.SimpleNamespace(**dict.fromkeys(['start_run', 'held_out', 'log_row', 'save_checkpoint',
                                                     'finish'], lambda run, grads=None: None))
    signal.signal(signal.SIGINT, signal.SIG_DFL)   # Ctrl-C ends it at once, quietly (no files to save)
    try:
        data, chars = load_data(input_file)      # Section IV-A
        train(new_run(types.SimpleNamespace(stop=[]), data, chars))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        sys.exit(f'{prog}: error: {e}')
