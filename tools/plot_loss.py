"""Draw loss logs (the .csv written beside each checkpoint) as a PNG, like the paper's Fig. 4.

  python -m pip install matplotlib
  python tools/plot_loss.py OUT.png LOG.csv[=label] [LOG.csv[=label] ...]

matplotlib is needed for this command only; the training scripts never import it.
"""
import csv
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def main(out, logs):
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for spec in logs:
        path, _, label = spec.partition('=')
        with open(path) as f:
            rows = list(csv.DictReader(f))
        ax.plot([int(r['iter']) for r in rows], [float(r['smooth_loss']) for r in rows], lw=1, label=label or path)
        seq_length = float(rows[0]['smooth_loss']) / float(rows[0]['loss_per_char'])
        held = [(int(r['iter']), seq_length * float(r['val_loss_per_char'])) for r in rows if r['val_loss_per_char']]
        if held:   # per character, scaled to a sequence like the training loss
            ax.plot(*zip(*held), 'o', ms=3, label=f'{label or path}: held-out')
    ax.set_xlabel('iteration')
    ax.set_ylabel('smoothed loss (nats per seq_length characters)')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
