"""How many sampled names are new: not in the list the model was trained on, or only in its held-out part.

usage: python min_char_rnn.py --checkpoint_path=out/titles_h30_val.npz --lines=100 > samples.txt
       python tools/novelty.py samples.txt data/movie_titles.txt [--val_fraction=0.1]

Reads one sampled name a line and the list (one name a line, as --per_line=True trains on it); the
held-out part is the list's last val_fraction of its non-empty lines, as the training scripts split it.
Prints the counts: new, in the training part, in the held-out part only.
"""
import signal
import sys

if hasattr(signal, 'SIGPIPE'):                   # piped into `head`: end quietly (Windows has none)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def fail(msg):
    sys.exit(f'novelty.py: error: {msg}')


def main(argv):
    if {'-h', '--help'} & set(argv):
        print(__doc__.strip())
        return
    files = [a for a in argv if not a.startswith('--')]
    opts = dict(a[2:].partition('=')[::2] for a in argv if a.startswith('--'))
    if len(files) != 2 or set(opts) - {'val_fraction'}:
        fail('give SAMPLES.txt LIST.txt [--val_fraction=F] (see --help)')
    try:
        val_fraction = float(opts.get('val_fraction', 0))
        if not (0 <= val_fraction < 1):
            raise ValueError('out of range')
    except ValueError:
        fail(f"--val_fraction must be in [0, 1), got {opts['val_fraction']!r}")
    try:
        samples, names = ([line for line in open(f, encoding='utf-8').read().split('\n') if line] for f in files)
    except (OSError, UnicodeDecodeError) as e:
        fail(f'cannot read {getattr(e, "filename", None) or files}: {getattr(e, "strerror", None) or e}')
    n_val = int(len(names) * val_fraction)
    train, held_out = set(names[:len(names) - n_val]), set(names[len(names) - n_val:])
    new = sum(s not in train and s not in held_out for s in samples)
    only_held_out = sum(s in held_out and s not in train for s in samples)
    print(f'{len(samples)} samples: {new} new, {sum(s in train for s in samples)} in the training part, '
          f'{only_held_out} only in the held-out part ({len(names)} names, {n_val} held out)')


if __name__ == '__main__':
    main(sys.argv[1:])
