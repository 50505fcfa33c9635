"""How far back in time a trained model's gradient reaches: for k = 0..K, the mean norm of dJ_t/dh_{t-k},
the gradient of the loss at one step t (eq. (29)) with respect to the hidden state k steps earlier (per
layer for rnn3.py; for lstm.py also dJ_t/dc_(t-k), through the cell state c), over a few hundred positions t
of the model's text. Truncated BPTT (seq_length = 25) never carries a gradient further back than 24 steps; K
past it shows what the truncation cuts off. For lstm.py, dJ_t/dh_(t-k) holds c_(t-k), and dJ_t/dc_(t-k) goes
both through c_(t-k+1) and through h_(t-k) = o tanh(c_(t-k)): lossFun's dh and dc.

usage: python tools/gradient_reach.py CHECKPOINT [CHECKPOINT ...] [--k=50] [--positions=300]
                                      [--chars=5000] [--text=FILE] [--out=reach.png]

Each CHECKPOINT is one of the scripts' (min_char_rnn.py, rnn3.py, lstm.py, gru.py; not a per_line model:
those start every line from a zero state). The text is --text, or else the checkpoint's input file: its
held-out tail if the run held one out, or its beginning; the script's own forward pass (eq. (26)-(28)) reads
its first --chars characters from a zero state, and t takes --positions values evenly spread over those at
least K + 50 steps in. The table gives, per layer, the mean norm and its ratio to the mean norm at k = 0.
--out also draws the ratios (needs matplotlib: python -m pip install matplotlib).
"""
import sys

import numpy as np

from cli import fail, figure_name, forward_pieces, load_model, parse, pyplot, read_text, save

WARM_UP = 50                                     # steps from the zero state before the earliest h_{t-k}


def backward(m, params, codes, ts, K):
    """For k = 0..K, yield the list over layers (bottom first) of dJ_t/dh^l_{t-k}, one row per t in ts: the
    total derivative, through layer l at t-k+1 and the layers above at t-k. A gated cell: its own backward."""
    gated = {4: backward_lstm, 3: backward_gru}.get(gates(m, len(params[-1])))
    if gated:
        yield from gated(m, params, codes, ts, K)
        return
    Wxh, Whh, Why = split(m, params)
    hs, dy = states(m, params, codes, ts)
    dy = dy.dot(Why)                             # dJ_t/dh^L_t = Why^T dy_t
    g = [np.zeros((len(ts), hs.shape[2])) for _ in Whh]
    g[-1] = dy
    for k in range(K + 1):
        dhraw = [None] * len(Whh)
        for l in reversed(range(len(Whh))):      # g[l] is whole for step t-k: from t-k+1 and from above
            dhraw[l] = g[l] * (1 - hs[l, ts - k + 1] ** 2)   # through the tanh of eq. (26)
            if l:
                g[l - 1] += dhraw[l].dot(Wxh[l])  # into the layer below, same step
        yield [x.copy() for x in g]
        g = [d.dot(W) for d, W in zip(dhraw, Whh)]   # to step t-k-1


def gates(m, vocab_size):
    """The blocks of H rows the script's cell stacks in Whh: 4 (lstm.py), 3 (gru.py), 1 (the tanh layers)."""
    return m.shapes(vocab_size)['Whh'][0] // m.hidden_size


def states(m, params, codes, ts):
    """The script's states over codes from a zero state, as [row, s + 1] (row: a layer, or h and c), and
    dJ_t/dy_t = p_t - one_hot(target_t) at the positions ts."""
    hs, dy = [m.zero_state().reshape(-1, 1, m.hidden_size)], []
    for a, h, ps in forward_pieces(m, params, codes[:-1]):
        hs.append(h)
        dy.append(ps[ts[(ts >= a) & (ts < a + len(ps))] - a])   # p_t at the positions only
    dy = np.concatenate(dy)
    dy[np.arange(len(ts)), codes[ts + 1]] -= 1
    return np.concatenate(hs, axis=1), dy


def backward_lstm(m, params, codes, ts, K):
    """lstm.py: for k = 0..K, [dJ_t/dh_{t-k}, dJ_t/dc_{t-k}], the second through c_{t-k+1} and through
    h_{t-k} = o tanh(c_{t-k}) both (lossFun's dc); the first with c_{t-k} held (lossFun's dh)."""
    Wxh, Whh, Why, bh, by = params
    (hs, cs), dy = states(m, params, codes, ts)  # hs[s + 1] = h_s, hs[0] = h_{-1} = 0; cs alike
    i, f, o, g = m.cell(Wxh.T[codes[:-1]] + bh + hs[:-1].dot(Whh.T), cs[:-1])[2]   # row s: step s's gates
    dcdh = o * (1 - np.tanh(cs[1:]) ** 2)        # row s: dh_s/dc_s
    dh = dy.dot(Why)
    dc = dh * dcdh[ts]
    for k in range(K + 1):
        yield [dh.copy(), dc.copy()]
        s = ts - k
        draw = np.concatenate((dc * g[s] * i[s] * (1 - i[s]), dc * cs[s] * f[s] * (1 - f[s]),
                               dh * np.tanh(cs[s + 1]) * o[s] * (1 - o[s]), dc * i[s] * (1 - g[s] ** 2)), axis=1)
        dh = draw.dot(Whh)                       # to h_{s-1}, through step s's gates
        dc = dc * f[s] + dh * dcdh[s - 1]        # to c_{s-1}: the shortcut, and through h_{s-1}


def backward_gru(m, params, codes, ts, K):
    """gru.py: for k = 0..K, [dJ_t/dh_{t-k}]."""
    Wxh, Whh, Why, bh, by = params
    H = Whh.shape[1]
    (hs,), dy = states(m, params, codes, ts)
    xh, hprev = Wxh.T[codes[:-1]] + bh, hs[:-1]  # row s: Wxh x_s + bh, h_{s-1}
    r, z = np.split(m.sigmoid(xh[:, :2 * H] + hprev.dot(Whh[:2 * H].T)), 2, axis=1)
    g = np.tanh(xh[:, 2 * H:] + (r * hprev).dot(Whh[2 * H:].T))
    dh = dy.dot(Why)
    for k in range(K + 1):
        yield [dh.copy()]
        s = ts - k
        drh = (dh * (1 - z[s]) * (1 - g[s] ** 2)).dot(Whh[2 * H:])   # into r * h_{s-1}, through g
        drz = np.concatenate((drh * hprev[s] * r[s] * (1 - r[s]), dh * (hprev[s] - g[s]) * z[s] * (1 - z[s])), 1)
        dh = dh * z[s] + drh * r[s] + drz.dot(Whh[:2 * H])   # to h_{s-1}: the shortcut z, through r and g


def split(m, params):
    """Wxh, Whh as per-layer lists (Wxh[0] unused here) and Why, from either script's parameters."""
    names = list(m.shapes(len(params[-1])))
    by_name = dict(zip(names, params))
    layers = [''] + [str(l + 1) for l in range(1, getattr(m, 'num_layers', 1))]
    return [by_name['Wxh' + s] for s in layers], [by_name['Whh' + s] for s in layers], by_name['Why']


def reach(m, params, codes, ts, K):
    """Mean norm of dJ_t/dh^l_{t-k} over ts, as an array [k, layer]."""
    return np.array([[np.linalg.norm(x, axis=1).mean() for x in g] for g in backward(m, params, codes, ts, K)])


def positions(n, K, count):
    """count steps t spread evenly over those with K + WARM_UP steps before them and a target after."""
    if n - 1 - (K + WARM_UP) < count:
        fail(f'--k={K} and --positions={count} need at least {K + WARM_UP + count + 1} characters; give '
             'more --chars or fewer --positions')
    return np.unique(np.linspace(K + WARM_UP, n - 2, count).round().astype(int))


def option(opts, name, default, least, most):
    try:
        value = int(opts.pop(name, default))
        if not (least <= value <= most):
            raise ValueError('out of range')
        return value
    except ValueError:
        fail(f'--{name} must be a whole number from {least} to {most}')


def main(argv):
    opts, files = parse(argv, ('k', 'positions', 'chars', 'text', 'out'), __doc__)
    if not files:
        fail('give one or more CHECKPOINT (see --help)')
    K, count = option(opts, 'k', 50, 0, 1000), option(opts, 'positions', 300, 1, 10000)
    chars, out = option(opts, 'chars', 5000, 2, 100000), opts.get('out') and figure_name(opts['out'])
    curves = []
    for path in files:
        m, run = load_model(path)
        params, vocab = run.params, run.chars
        if m.per_line:
            fail(f'{path} is a per_line model: each line starts from a zero state, so there is no reach to '
                 'measure across a text')
        text = read_text(run, opts.get('text'), None, default=chars)
        ix = {ch: i for i, ch in enumerate(vocab)}
        if any(ch not in ix for ch in text):
            fail(f"{opts.get('text') or run.config['input_file']} has symbols outside {path}'s vocabulary")
        codes = np.array([ix[ch] for ch in text])
        ts = positions(len(codes), K, count)
        r = reach(m, params, codes, ts, K)
        L, lstm = r.shape[1], gates(m, len(vocab)) == 4
        names = ['h', 'c'] if lstm else [f'layer {l + 1}' for l in range(L)]   # lstm.py: h, and the cell state
        label = f"{run.script} ({1 if lstm else L} x {m.hidden_size}), iteration {run.n:,}"
        print(f'{path}: {label}; {len(ts)} positions in the first {len(codes):,} characters of '
              + (opts['text'] if 'text' in opts else run.config['input_file']
                 + (' (held-out tail)' if run.config.get('val_fraction') else '')))
        print('   k' + ''.join(f'{name:>11}: norm     ratio' for name in names))
        for k in range(K + 1):
            print(f'{k:4d}' + ''.join(f'{r[k, l]:20.4g}{r[k, l] / r[0, l]:10.3g}' for l in range(L)))
        curves += [(f'{label}, {names[l]}' if L > 1 else label, r[:, l] / r[0, l]) for l in range(L)]
    if out:
        draw(out, curves, m.seq_length)


def draw(out, curves, seq_length):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for label, ratio in curves:
        ax.semilogy(range(len(ratio)), ratio, lw=1.5, label=label)
    ax.axvline(seq_length - 1, color='grey', ls='--', lw=1)
    ax.text(seq_length - 0.5, ax.get_ylim()[1], f' truncated BPTT (seq_length {seq_length}) stops here',
            va='top', fontsize=8, color='grey')
    ax.set_xlabel('k (steps back in time)')
    ax.set_ylabel('mean |dJ_t / dh_(t-k)|, relative to k = 0')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=8)
    save(fig, out)

if __name__ == '__main__':
    main(sys.argv[1:])
