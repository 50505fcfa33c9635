"""Held-out loss against model size: one row per checkpoint (trained with --val_fraction > 0), a Markdown
table on stdout and, with --out, a figure of the held-out loss per character against the parameter count.

usage: python tools/loss_vs_size.py CHECKPOINT [CHECKPOINT ...] [--out=loss_vs_size.png]

Reads each checkpoint through harness.py's checks, as sampling it does: its settings, its iteration, its last
held-out loss and smoothed training loss, and its parameter count. --out needs matplotlib
(python -m pip install matplotlib).
"""
import sys

from cli import fail, figure_name, load_model, parse, pyplot, save

SCRIPTS = ('min_char_rnn.py', 'rnn3.py', 'lstm.py', 'gru.py')   # and how each is drawn
STYLE = {'min_char_rnn.py': ('o-', 'tab:blue'), 'rnn3.py': ('s', 'tab:red'), 'lstm.py': ('^-', 'tab:green'),
         'gru.py': ('v-', 'tab:purple')}

def row(path):
    """What the table says of one checkpoint."""
    m, run = load_model(path)                    # the record and weights, through harness.py's checks
    meta, config, chars_per_seq, size = vars(run), run.config, run.config['seq_length'], run.theta.size
    if meta.get('val_loss') is None:
        fail(f'{path} has no held-out loss: train with --val_fraction > 0')
    if config.get('per_line'):
        fail(f'{path} is a per_line model: its loss per sequence is not per seq_length characters')
    return dict(path=path, script=meta['script'], layers=config.get('num_layers', 1), hidden=config['hidden_size'],
                size=int(size), n=meta['n'], seq_length=chars_per_seq, val_iter=meta['val_iter'], val=meta['val_loss'],
                train=meta['smooth_loss'] / chars_per_seq)


def main(argv):
    opts, files = parse(argv, ('out',), __doc__)
    if not files:
        fail('give one or more CHECKPOINT (see --help)')
    out = opts.get('out') and figure_name(opts['out'])
    rows = sorted((row(p) for p in files), key=lambda r: r['size'])
    print('| script | layers x hidden | parameters | iterations | held-out (nats/char) | training, smoothed '
          '(nats/char) | checkpoint |')
    print('|---|---|---:|---:|---:|---:|---|')
    for r in rows:
        print(f"| {r['script']} | {r['layers']} x {r['hidden']} | {r['size']:,} | {r['val_iter']:,} | "
              f"{r['val']:.4f} | {r['train']:.4f} | {r['path']} |")
    if out:
        draw(out, rows)


def draw(out, rows):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for script, (marker, colour) in STYLE.items():
        rs = [r for r in rows if r['script'] == script]
        if rs:
            ax.semilogx([r['size'] for r in rs], [r['val'] for r in rs], marker, color=colour, label=f'{script}: held-out')
            ax.semilogx([r['size'] for r in rs], [r['train'] for r in rs], marker[0] + ':', color=colour, mfc='none',
                        label=f'{script}: training (smoothed)')
            for r in rs:
                ax.annotate(f"{r['layers']} x {r['hidden']}" if r['layers'] > 1 else f"H={r['hidden']}",
                            (r['size'], r['val']), textcoords='offset points', xytext=(4, 6), fontsize=8)
    ax.set_xlabel('parameters')
    ax.set_ylabel('loss per character (nats)')
    if len({r['seq_length'] for r in rows}) == 1:   # the paper's unit: the loss of one seq_length sequence
        T = rows[0]['seq_length']
        ax.secondary_yaxis('right', functions=(lambda y: T * y, lambda y: y / T)).set_ylabel(
            f'x {T}: per sequence, as the paper prints it')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=8)
    save(fig, out)

if __name__ == '__main__':
    main(sys.argv[1:])
