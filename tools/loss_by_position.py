"""How much of the smoothed loss's "moving up and down" (the paper, Section VI-A) is where in the text the
run is: the smoothed loss of each pass over the training text, less that pass's mean, against the same
positions in the other passes.

usage: python tools/loss_by_position.py LOG.csv [--skip=1]

The log's checkpoint (the .npz beside it) gives the text and seq_length, so one pass is
len(training text) // seq_length iterations (the run starts the text again, from a zero state, after
it). The first --skip passes (learning fastest) and an incomplete last one are left out. Prints the
share of the variance of the mean-removed smoothed loss that the position in the text explains (the
mean over passes at each position, R^2), the swing of that mean profile, and the stretches of the text
with the highest and the lowest loss.
"""
import os
import sys

import numpy as np

from cli import fail, parse, read_record, text_pieces, text_slice
from loss_log import read_log


def profile(iters, loss, per_pass, skip):
    """(passes used, R^2, mean profile by position bin, bin width in iterations) from logged rows."""
    iters, loss = np.asarray(iters), np.asarray(loss, float)
    step = int(np.median(np.diff(iters)))
    bins = per_pass // step
    passes = [k for k in range(skip, iters.max() // per_pass) if k * per_pass + bins * step <= iters.max()]
    if len(passes) < 2:
        fail(f'the log has {iters.max() // per_pass} whole passes of {per_pass:,} iterations; need {skip + 2} '
             f'(--skip={skip})')
    rows = []
    for k in passes:
        want = k * per_pass + np.arange(bins) * step
        at = np.searchsorted(iters, want)       # the first logged row at or after each position
        row = loss[np.minimum(at, len(loss) - 1)]
        rows.append(row - row.mean())
    m = np.array(rows)
    mean = m.mean(axis=0)
    return passes, 1 - ((m - mean) ** 2).sum() / (m ** 2).sum(), mean, step


def main(argv):
    opts, logs = parse(argv, ('skip',), __doc__)
    if len(logs) != 1:
        fail('give one LOG.csv and at most --skip=N (see --help)')
    try:
        skip = int(opts.get('skip', 1))
        if not (skip >= 0):
            raise ValueError('out of range')
    except ValueError:
        fail(f"--skip must be a whole number >= 0, got {opts['skip']!r}")
    rows = read_log(logs[0], 'loss_by_position.py')
    try:
        config = read_record(os.path.splitext(logs[0])[0] + '.npz').config   # through harness.py's checks
        size = sum(map(len, text_pieces(config['input_file'])))   # in pieces: any size in little memory
    except (OSError, KeyError, ValueError) as e:
        why = f'{e.filename}: {e.strerror}' if isinstance(e, OSError) else e   # not "[Errno 22] ..."
        fail(f"needs the run's checkpoint beside {logs[0]} and its input file ({why})")
    if config.get('per_line'):
        fail('a per_line run has no position in a running text')
    size -= int(size * config['val_fraction'])
    T = config['seq_length']
    per_pass = (size - 1) // T                   # iterations until p + T + 1 > size starts it again
    iters = [int(r['iter']) for r in rows]
    passes, r2, mean, step = profile(iters, [float(r['smooth_loss']) for r in rows], per_pass, skip)
    print(f'{logs[0]}: {len(passes)} passes of {per_pass:,} iterations (passes {passes[0] + 1} to {passes[-1] + 1}); '
          f'the position in the text explains {100 * r2:.0f}% of the variance of the smoothed loss (each pass '
          f'less its mean); the mean profile swings {mean.min():+.2f} to {mean.max():+.2f}')
    span = 1000 * T                              # the smoothed loss averages about the last 1,000 iterations
    for name, i in (('highest', mean.argmax()), ('lowest', mean.argmin())):
        end = i * step * T
        before = text_slice(config['input_file'], max(0, end - span), end)
        line = next((x for x in before.split('\n')[1:] if x.strip()), '')
        print(f'  {name} at character {end:,}: the {span:,} characters before it, from "{line[:60]}"')


if __name__ == '__main__':
    main(sys.argv[1:])
