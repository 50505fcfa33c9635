"""Print the README's results tables from loss logs (the .csv written beside each checkpoint).

usage: python tools/loss_table.py [--iters=0,22600,997100] [--paper=104.36,54.97,44.43] [--below=44.43]
                                  [--minutes=3,45] [--until=N] LOG.csv[=label] [LOG.csv[=label] ...]

One markdown column per log: the smoothed loss at each of --iters (and the paper's, if given), the
first logged iteration at or below --below, the lowest smoothed loss, its range over the last
quarter of the run, the last held-out loss and the last one within each of --minutes of training,
the iterations and training time recorded in the checkpoint beside the log (if it is there), and the
gradient's norm before clipping and the fraction of entries clipped (logs that record them). --until=N reads
each log up to iteration N only (a run resumed past it): its iterations and time are then the log's at N.
"""
import math
import os
import sys

import numpy as np

import cli  # noqa: E402,F401  (piped into `head`, the tool ends quietly)
from loss_log import read_log

OPTIONS = ['--iters', '--paper', '--below', '--minutes', '--until']


def held_out(evals):
    """The last of (iteration, held-out loss per character, elapsed s), in nats and bits."""
    if not evals:
        return '-'
    n, loss, _ = evals[-1]
    return f'{loss:.4f} ({loss / math.log(2):.4f} bits) at {n:,}'


def column(path, iters, below, minutes, until=None):
    """(row label, cell) pairs for one log; the labels are the same for every log."""
    rows = read_log(path, 'loss_table.py', until)
    loss = {int(r['iter']): float(r['smooth_loss']) for r in rows}
    cells = [(f'smoothed loss at {i:,}', f'{loss[i]:.2f}' if i in loss else '-') for i in iters]
    if below is not None:
        first = next((f'{i:,}' for i in sorted(loss) if loss[i] <= below), 'not reached')
        cells.append((f'first iteration at or below {below}', first))
    cells.append(('lowest smoothed loss', f'{min(loss.values()):.2f}'))
    last = [loss[i] for i in loss if i >= 0.75 * max(loss)]
    cells.append(('smoothed loss over the last quarter of the run', f'{min(last):.2f} - {max(last):.2f}'))
    evals = [(int(r['iter']), float(r['val_loss_per_char']), float(r['elapsed_s']))
             for r in rows if r['val_loss_per_char']]
    cells.append(('held-out loss per character, last evaluation', held_out(evals)))
    cells += [(f'held-out loss, last evaluation within {m:g} min of training',
               held_out([e for e in evals if e[2] <= 60 * m])) for m in minutes]
    checkpoint = os.path.splitext(path)[0] + '.npz'
    trained = passes = '-'
    if os.path.exists(checkpoint):
        meta = vars(cli.read_record(checkpoint))   # through harness.py's checks
        mins, secs = divmod(round(meta['elapsed']), 60)
        if until is not None:                    # the run as it was at the log's last row
            meta['n'], meta['elapsed'] = int(rows[-1]['iter']), float(rows[-1]['elapsed_s'])
            mins, secs = divmod(round(meta['elapsed']), 60)
        trained = f"{meta['n']:,} in {mins} min {secs} s"
        passes = passes_over_training_text(meta)
    cells.append(('passes over the training text', passes))
    cells.append(('iterations, training time', trained))
    grads = [(float(r['grad_norm']), int(r['iter']), float(r['clipped_fraction'])) for r in rows if r.get('grad_norm')]
    cells.append(('gradient norm before clipping: median, largest (at iteration)', '-' if not grads else
                  f'{np.median([g[0] for g in grads]):.3g}, {max(grads)[0]:.3g} (at {max(grads)[1]:,})'))
    cells.append(('entries clipped: mean fraction, logged iterations with any', '-' if not grads else
                  f'{np.mean([g[2] for g in grads]):.2g}, {sum(g[2] > 0 for g in grads)} of {len(grads)}'))
    return cells


def passes_over_training_text(meta):
    """Iterations x characters (per_line: lines) per iteration / the training part of the input file."""
    config, size, tail = meta['config'], 0, ''
    per_line = config.get('per_line', False)
    try:
        for piece in cli.text_pieces(config['input_file']):   # any size in little memory
            lines = (tail + piece).split('\n')    # per_line: the non-empty lines; tail: the last one's start
            size, tail = size + (sum(map(bool, lines[:-1])) if per_line else len(piece)), lines[-1][:1]
    except (OSError, UnicodeDecodeError):
        return '-'
    size += per_line and bool(tail)
    size -= int(size * config['val_fraction'])
    return f"{meta['n'] * (1 if per_line else config['seq_length']) / size:.1f}"


def main(argv):
    if {'-h', '--help'} & set(argv):
        print(__doc__.strip())
        return
    bad = [a for a in argv if a.startswith('--') and (a.partition('=')[0] not in OPTIONS or '=' not in a)]
    if bad:
        sys.exit(f"loss_table.py: error: unknown option {bad[0]} (see --help)")
    opts = dict(a[2:].split('=', 1) for a in argv if a.startswith('--'))
    logs = [a for a in argv if not a.startswith('--')]
    try:
        iters = [int(i) for i in opts['iters'].split(',')] if 'iters' in opts else []
        paper = opts['paper'].split(',') if 'paper' in opts else None
        below = float(opts['below']) if 'below' in opts else None
        minutes = [float(m) for m in opts['minutes'].split(',')] if 'minutes' in opts else []
        until = int(opts['until']) if 'until' in opts else None
    except ValueError as e:
        sys.exit(f'loss_table.py: error: {e} (see --help)')
    if not logs or (paper and len(paper) != len(iters)):
        sys.exit('loss_table.py: error: give one or more LOG.csv, and as many --paper values as --iters (see --help)')
    try:
        columns = [column(spec.partition('=')[0], iters, below, minutes, until) for spec in logs]
    except (OSError, KeyError, ValueError) as e:
        sys.exit(f'loss_table.py: error: cannot read a loss log: {e}')
    header = [''] + (['paper'] if paper else []) + [spec.partition('=')[2] or spec for spec in logs]
    print('| ' + ' | '.join(header) + ' |')
    print('|' + ' --- |' * len(header))
    for r, (label, _) in enumerate(columns[0]):
        cells = [c[r][1] for c in columns]
        if r >= len(iters) and all(cell == '-' for cell in cells):
            continue   # e.g. held-out rows for runs without a held-out split
        print('| ' + ' | '.join([label] + ([paper[r] if r < len(iters) else '-'] if paper else []) + cells) + ' |')


if __name__ == '__main__':
    main(sys.argv[1:])
