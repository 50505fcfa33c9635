"""Draw loss logs (the .csv written beside each checkpoint) as a PNG, like the paper's Fig. 4.

  python -m pip install matplotlib
  python tools/plot_loss.py [--minutes] OUT.png LOG.csv[=label] [LOG.csv[=label] ...]

--minutes puts training time (the log's elapsed_s) on the x axis instead of the iteration.

matplotlib is needed for this command only; the training scripts never import it.
"""
import csv
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def main(out, logs, minutes=False):
    x = (lambda r: float(r['elapsed_s']) / 60) if minutes else (lambda r: int(r['iter']))
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for spec in logs:
        path, _, label = spec.partition('=')
        with open(path) as f:
            rows = list(csv.DictReader(f))
        ax.plot([x(r) for r in rows], [float(r['smooth_loss']) for r in rows], lw=1, label=label or path)
        seq_length = float(rows[0]['smooth_loss']) / float(rows[0]['loss_per_char'])
        held = [(x(r), seq_length * float(r['val_loss_per_char'])) for r in rows if r['val_loss_per_char']]
        if held:   # per character, scaled to a sequence like the training loss
            ax.plot(*zip(*held), 'o', ms=3, label=f'{label or path}: held-out')
    ax.set_xlabel('training time (minutes)' if minutes else 'iteration')
    ax.set_ylabel('smoothed loss (nats per seq_length characters)')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)


if __name__ == '__main__':
    minutes = '--minutes' in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != '--minutes']
    if len(args) < 2:
        sys.exit(__doc__)
    main(args[0], args[1:], minutes)
