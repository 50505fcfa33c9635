"""Draw loss logs (the .csv written beside each checkpoint) as a PNG, like the paper's Fig. 4.

usage: python tools/plot_loss.py [--minutes] [--until=N] OUT.png LOG.csv[=label] [LOG.csv[=label] ...]

--minutes puts training time (the log's elapsed_s) on the x axis instead of the iteration; --until=N draws
each log up to iteration N (a run resumed past it).
Needs matplotlib (python -m pip install matplotlib), for this command only; the training scripts
never import it.
"""
import sys

from cli import pyplot, save
from loss_log import read_log


def read(spec, until=None):
    path, _, label = spec.partition('=')
    return label or path, read_log(path, 'plot_loss.py', until)


def main(out, logs, minutes=False, until=None):
    runs = [read(spec, until) for spec in logs]
    plt = pyplot()
    x = (lambda r: float(r['elapsed_s']) / 60) if minutes else (lambda r: int(r['iter']))
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for label, rows in runs:
        ax.plot([x(r) for r in rows], [float(r['smooth_loss']) for r in rows], lw=1, label=label)
        seq_length = float(rows[0]['smooth_loss']) / float(rows[0]['loss_per_char'])
        held = [(x(r), seq_length * float(r['val_loss_per_char'])) for r in rows if r['val_loss_per_char']]
        if held:   # per character, scaled to a sequence like the training loss
            ax.plot(*zip(*held), 'o', ms=3, label=f'{label}: held-out')
    ax.set_xlabel('training time (minutes)' if minutes else 'iteration')
    ax.set_ylabel('smoothed loss (nats per seq_length characters)')
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, out)


if __name__ == '__main__':
    args = [a for a in sys.argv[1:] if a != '--minutes' and not a.startswith('--until=')]
    until = [a[len('--until='):] for a in sys.argv[1:] if a.startswith('--until=')]
    if {'-h', '--help'} & set(args):
        print(__doc__.strip())
    elif len(args) < 2 or any(a.startswith('-') for a in args) or not all(u.isdigit() for u in until):
        sys.exit('plot_loss.py: error: give OUT.png and one or more LOG.csv (see --help)')
    elif not args[0].lower().endswith(('.png', '.svg', '.pdf')):
        sys.exit(f'plot_loss.py: error: the first argument is the figure to write (OUT.png), not {args[0]} (see --help)')
    else:
        main(args[0], args[1:], '--minutes' in sys.argv[1:], int(until[-1]) if until else None)
