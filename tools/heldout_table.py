"""Held-out loss of several runs side by side, at equal iterations: one markdown row per label, a column per
iteration. Logs given the same label are seeds of one configuration: the cell is their mean and, after
+-, half their range (the seed spread).

usage: python tools/heldout_table.py LOG.csv=label [LOG.csv=label ...] [--iters=100000,200000,300000]
                                     [--until=N]

Each LOG.csv is the loss log a run with --val_fraction > 0 wrote beside its checkpoint; its held-out loss
per character (nats) at each of --iters (iterations where it evaluated: a multiple of its eval_every) is read.
Without --iters: every iteration all the logs evaluated at. A log without an evaluation at an iteration asked
for is one line of error. --until=N reads each log up to iteration N only.
"""
import sys

import cli  # noqa: F401  (piped into `head`, the tool ends quietly)
from cli import fail, parse
from loss_log import read_log


def held_out(path, until):
    """{iteration: held-out loss per character} of one log."""
    rows = read_log(path, 'heldout_table.py', until)
    return {int(r['iter']): float(r['val_loss_per_char']) for r in rows if r['val_loss_per_char']}


def cell(values):
    """The mean of the seeds' values, and half their range after +- (one seed: its value)."""
    mean = sum(values) / len(values)
    return f'{mean:.4f}' + (f' +- {(max(values) - min(values)) / 2:.4f}' if len(values) > 1 else '')


def main(argv):
    opts, specs = parse(argv, ('iters', 'until'), __doc__)
    if not specs or not all('=' in s for s in specs):
        fail('give one or more LOG.csv=label (see --help)')
    try:
        iters = [int(i) for i in opts['iters'].split(',')] if 'iters' in opts else None
        until = int(opts['until']) if 'until' in opts else None
    except ValueError:
        fail('--iters is whole numbers separated by commas, --until a whole number')
    groups = {}
    for spec in specs:
        path, _, label = spec.partition('=')
        groups.setdefault(label, []).append((path, held_out(path, until)))
    if iters is None:
        iters = sorted(set.intersection(*(set(evals) for runs in groups.values() for _, evals in runs)))
    for label, runs in groups.items():
        for path, evals in runs:
            missing = [n for n in iters if n not in evals]
            if missing:
                fail(f'{path} has no held-out loss at iteration {missing[0]:,}')
    print('| held-out loss (nats/char) | seeds | ' + ' | '.join(f'{n:,}' for n in iters) + ' |')
    print('|---|---:|' + '---:|' * len(iters))
    for label, runs in groups.items():
        print(f'| {label} | {len(runs)} | ' + ' | '.join(cell([evals[n] for _, evals in runs]) for n in iters) + ' |')


if __name__ == '__main__':
    main(sys.argv[1:])
