"""The "more complex" 3-layer RNN, 512 units a layer, of "Language Modeling with Recurrent Neural Networks and
Backpropagation Through Time" (K. Ma, Section V) in NumPy; equations are the paper's. Each layer is eq. (26)
with its own Wxh, Whh, bh: layer 1 reads the one-hot x_t, layer l+1 reads h^l_t; Why, by the top one."""
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
hidden_size = 512                # size of each layer's h_t
num_layers = 3                   # stacked tanh layers
seq_length = 25                  # T: time steps per iteration (truncated BPTT); per_line: unused
learning_rate = 1e-2             # eta of Adagrad, eq. (32) (the paper's appendix listing has 1e-1)
clip = 5.0                       # gradients clipped to [-clip, clip] against exploding ones (0: off)
max_iters = 470000               # the paper's 3-layer run is about 470k iterations
print_every = 100                # print the loss and a sample every this many iterations
sample_length = 200              # characters per sample; per_line: the longest sampled name
seed = 1337                      # initial weights, sampling, per_line's order of lines
dtype = 'float32'                # or 'float64': same results within noise, slower
# run options: names, held-out loss, checkpoints, resume, sampling a saved model
per_line = False                 # True: each non-empty line is one sequence, one per iteration (names)
val_fraction = 0.0               # held-out tail of the text (0: train on all of it, as the paper)
eval_every = 10000               # held-out loss every this many iterations
checkpoint_path = 'out/rnn3.npz'           # a .npz file; the loss log is the same name with .csv
checkpoint_every = 1000          # also saved at the end, and on Ctrl-C, kill and the other signals
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
    """The paper's parameters (Wxh, Wxh2, Wxh3, Whh, ..., bh3, Why, by) and shapes, in theta's order."""
    H, V, L = hidden_size, vocab_size, num_layers
    names = [w + (str(l + 1) if l else '') for w in ('Wxh', 'Whh', 'bh') for l in range(L)] + ['Why', 'by']
    return dict(zip(names, [(H, V)] + [(H, H)] * (2 * L - 1) + [(H,)] * L + [(V, H), (V,)]))

def unflatten(theta, vocab_size):
    """The parameters as views into the one vector theta (or the gradient, or Adagrad's memory)."""
    sizes = [int(np.prod(shape)) for shape in shapes(vocab_size).values()]
    return [x.reshape(s) for x, s in zip(np.split(theta, np.cumsum(sizes)[:-1]), shapes(vocab_size).values())]

def init_params(vocab_size, rng):
    """Theta, with every Wxh, Whh and Why ~ randn * 0.01 and zero biases, as the listing."""
    return np.concatenate([(rng.standard_normal(shape) * 0.01 if name[0] == 'W' else np.zeros(shape)).ravel()
                           for name, shape in shapes(vocab_size).items()]).astype(dtype)

def zero_state():
    return np.zeros((num_layers, hidden_size), dtype)   # h_{-1} of each layer: the start of the text

def unpack(params):
    L = (len(params) - 2) // 3
    return params[:L], params[L:2 * L], params[2 * L:3 * L], params[-2], params[-1]

def forward(inputs, targets, hprev, params):
    """Eq. (26)-(29) over a sequence: the loss J, hs (hs[l, 0] = hprev[l], hs[l, t+1] = h^l_t), p_t."""
    Wxh, Whh, bh, Why, by = unpack(params)
    hs = np.empty((len(Whh), len(inputs) + 1, hprev.shape[1]), hprev.dtype)
    hs[:, 0] = hprev
    for l in range(len(Whh)):   # row t of xh: Wxh one_hot(x_t) + bh for layer 1, Wxh_l h^{l-1}_t + bh_l above
        xh = (Wxh[0].T[inputs] if l == 0 else hs[l - 1, 1:].dot(Wxh[l].T)) + bh[l]
        for xh_t, h_prev, h_t in zip(xh, hs[l], hs[l, 1:]):
            np.tanh(xh_t + Whh[l].dot(h_prev), out=h_t)   # eq. (26), layer l
    ys = hs[-1, 1:].dot(Why.T) + by                # eq. (27) on the top layer, all t at once
    z = ys - ys.max(axis=1, keepdims=True)         # y_t less its max: same p_t, and exp cannot overflow
    e = np.exp(z)
    ps = e / e.sum(axis=1, keepdims=True)          # eq. (28)
    loss = -(z[np.arange(len(targets)), targets] - np.log(e.sum(axis=1))).sum()   # eq. (29), log-softmax
    return loss, hs, ps

def lossFun(inputs, targets, hprev, params):
    """Loss, gradients (BPTT through time and down the stack) and the last hidden states."""
    Wxh, Whh, bh, Why, by = unpack(params)
    loss, hs, ps = forward(inputs, targets, hprev, params)
    dy = ps
    dy[np.arange(len(targets)), targets] -= 1      # dJ/dy_t = p_t - one_hot(target_t)
    dWhy, dby = dy.T.dot(hs[-1, 1:]), dy.sum(axis=0)  # sum_t dy_t h_t^T, sum_t dy_t (top layer)
    dh = dy.dot(Why)                               # row t: Why^T dy_t, the paper's dh3 before dhnext3
    dWxh, dWhh, dbh = [None] * len(Whh), [None] * len(Whh), [None] * len(Whh)
    # The listing goes dh3 -> dh2 -> dh at each t; this does a layer over all t, then the one below. Same
    # sums: layer l's dhraw_t needs only its own dhraw_{t+1} and layer l+1's dhraw_t, both done before it.
    for l in reversed(range(len(Whh))):
        dtanh = 1 - hs[l, 1:] * hs[l, 1:]          # tanh'(.) = 1 - h_t^2
        dhraw, dhnext = np.empty_like(dh), np.zeros_like(hprev[l])
        for dh_t, dtanh_t, dhraw_t in zip(dh[::-1], dtanh[::-1], dhraw[::-1]):
            np.multiply(dh_t + dhnext, dtanh_t, out=dhraw_t)  # backprop through tanh
            dhnext = dhraw_t.dot(Whh[l])           # Whh_l^T dhraw_t
        dWhh[l], dbh[l] = dhraw.T.dot(hs[l, :-1]), dhraw.sum(axis=0)   # sum_t dhraw_t h_{t-1}^T
        below = (inputs[:, None] == np.arange(len(by))).astype(dh.dtype) if l == 0 else hs[l - 1, 1:]
        dWxh[l] = dhraw.T.dot(below)               # sum_t dhraw_t x_t^T, x_t = one_hot or h^{l-1}_t
        if l:
            dh = dhraw.dot(Wxh[l])                 # row t: Wxh_l^T dhraw_t, into the layer below
    return loss, dWxh + dWhh + dbh + [dWhy, dby], hs[:, -1]

def update(theta, grads, mem):
    """Clip to [-clip, clip] against exploding gradients, then Adagrad, eq. (32)-(33), array by array."""
    for param, dparam, m in zip(unflatten(theta, len(grads[-1])), grads, unflatten(mem, len(grads[-1]))):
        if clip:
            np.clip(dparam, -clip, clip, out=dparam)
        m += dparam * dparam                       # eq. (33): G += g^2, per component
        param -= learning_rate * dparam / np.sqrt(m + 1e-8)   # eq. (32)

def sample(h, seed_ix, n, params, rng, temperature=1.0, stop_ix=None):
    """Up to n character indices from the model fed seed_ix first (ending before stop_ix), and h after."""
    Wxh, Whh, bh, Why, by = unpack(params)
    xh = Wxh[0].T + bh[0]                          # row ix: Wxh one_hot(ix) + bh
    # Gumbel-max: argmax(y + T * g), g = -log(-log(uniform)), is a draw from softmax(y / T), eq. (28)
    noise = -temperature * np.log(-np.log(rng.random((n, len(by)))))
    ixes, ix, h = [], seed_ix, h.copy()
    for g in noise:
        for l in range(len(Whh)):                  # eq. (26), layer l: layer 1 reads x_t, layer l+1 h^l_t
            np.tanh((xh[ix] if l == 0 else Wxh[l].dot(h[l - 1]) + bh[l]) + Whh[l].dot(h[l]), out=h[l])
        ix = int((Why.dot(h[-1]) + by + g).argmax())   # eq. (27), then a draw from eq. (28)
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
