"""Character-level vanilla RNN language model in NumPy: the single-layer model of "Language Modeling
with Recurrent Neural Networks and Backpropagation Through Time" (K. Ma, Sections III-V), after
Karpathy's min-char-rnn. Equation numbers in comments are the paper's.
"""
import functools, os, sys
try:
    import harness      # all that the paper does not have (harness.py, beside this file); before NumPy loads
except ModuleNotFoundError as e:
    sys.exit(f'{os.path.basename(__file__)}: error: needs ' + ('harness.py beside it' if e.name == 'harness'
             else f'{e.name}: python -m pip install {e.name}'))
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
checkpoint_every = 10000         # also saved at the end, and on Ctrl-C, kill and the other signals
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

def split_lines(data, nl):
    """per_line: each non-empty line as newline + line + newline (the newline starts and ends a name)."""
    ends = np.flatnonzero(np.append(data, nl) == nl)
    starts = np.append(-1, ends[:-1])
    return [np.concatenate(([nl], data[a + 1:b], [nl])) for a, b in zip(starts, ends) if b > a + 1]

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
    harness.start_run(run)   # the run record: the data, the weights (new or a checkpoint's), signals caught
    data, params, nl = run.data, run.params, run.chars.index('\n') if per_line else None
    while run.n < max_iters:
        n, p = run.n, run.p
        if per_line:                               # one name an iteration, from a zero state (names note)
            seq = data[line_order(seed, n // len(data), len(data))[n % len(data)]]
            inputs, targets, run.hprev = seq[:-1], seq[1:], zero_state()
        else:
            if p + seq_length + 1 > len(data):
                run.hprev, p = zero_state(), 0     # start of data: reset the memory
            inputs, targets = data[p:p + seq_length], data[p + 1:p + seq_length + 1]
        harness.held_out(run)                      # every eval_every iterations (not in the paper)
        if run.stop:
            break                                  # a signal (during the evaluation: it is redone on resume)
        if n % print_every == 0:                   # per_line: five names, one a line
            sample_ix = (sum((name + [nl] for name in sample_names(5, [nl], params, run.rng)), [])[:-1]
                         if per_line else sample(run.hprev, inputs[0], sample_length, params, run.rng)[0])
            txt = ''.join(run.chars[ix] for ix in sample_ix)
        loss, grads, run.hprev = lossFun(inputs, targets, run.hprev, params)
        if not np.isfinite(loss):
            harness.fail(f'loss became {loss} at iteration {n}; the last checkpoint is kept; '
                         'lower --learning_rate?')
        run.smooth_loss = run.smooth_loss * 0.999 + float(loss) * 0.001   # float64 whatever the dtype
        if n % print_every == 0:
            harness.log_row(run, grads)            # a row of the loss log (the gradient before clipping)
        update(run.theta, grads, run.mem)
        run.p, run.n = p + seq_length, n + 1
        if n % print_every == 0:                   # printed once the iteration is whole (harness.main)
            print(f'----\niter {n}, loss: {run.smooth_loss:f}\n----\n{txt}', flush=True)
        if run.n % checkpoint_every == 0:
            harness.save_checkpoint(run)
    harness.finish(run)                            # the last held-out loss, the checkpoint, the closing line

# -----------------------------------------------------------------------------
if __name__ == '__main__':
    harness.main(sys.modules[__name__])            # the settings (top, checkpoint, command line), then train
