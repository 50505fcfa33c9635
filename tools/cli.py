"""What the tools here share: one-line errors named after the tool, --name=value options, figures, the text a
saved model is read on, and a saved model (or only its record) read through harness.py's checks."""
import errno
import importlib.util
import os
import re
import signal
import stat
import sys
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402,F401

if os.path.dirname(os.path.abspath(sys.argv[0])) == os.path.dirname(os.path.abspath(__file__)) \
        and hasattr(signal, 'SIGPIPE'):              # (Windows has none)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)    # a tool (not a test) piped into `head` ends quietly


def fail(msg):
    sys.exit(f'{os.path.basename(sys.argv[0])}: error: {msg}')


def parse(argv, names, doc):
    """The --name=value options (each name one of names) and the other arguments; --help prints doc."""
    if {'-h', '--help'} & set(argv):
        print(doc.strip())
        sys.exit(0)
    opts = {}
    for i, arg in enumerate(argv):
        name, eq, value = arg[2:].partition('=')
        if arg.startswith('--') and not eq and name in names:   # --chars 200: say the form it takes
            given = argv[i + 1] if i + 1 < len(argv) else 'VALUE'
            fail(f"expected --{name}={given}, got '{arg}' (see --help)")
        if arg.startswith('--'):
            if not eq or name not in names:
                fail(f"unknown option '{arg}' (see --help)")
            opts[name] = value
    return opts, [a for a in argv if not a.startswith('--')]


def read_record(path):
    """A checkpoint's record (n, elapsed, config, chars, script...), checked by harness.py as for --resume."""
    harness.prog, run = os.path.basename(sys.argv[0]), SimpleNamespace(script=None, lock=None, handlers={})
    harness.load_checkpoint(run, path)
    return run


def load_model(path):
    """The script that wrote checkpoint path (one beside harness.py), set up as the checkpoint records (float64),
    and its run record (params, chars, n, config...). Quiet; the checks are sampling's."""
    run = read_record(path)                      # the script it names: a file beside harness.py
    file = os.path.join(os.path.dirname(os.path.abspath(harness.__file__)), str(run.script))
    if not re.fullmatch(r'[\w-]+\.py', str(run.script)) or not os.path.isfile(file) or run.script == 'harness.py':
        fail(f'{path} was written by {run.script!r}, which is not a script beside harness.py')
    spec = importlib.util.spec_from_file_location(run.script[:-3], file)
    run.m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run.m)
    harness.settings(run.m, [f'--checkpoint_path={path}', '--generate=1', '--dtype=float64'], run)
    run.params = run.m.unflatten(run.theta, len(run.chars))
    return run.m, run


def read_text(run, text_file, n, default=1000):
    """The first n (or default) characters of TEXT_FILE or else of the saved model's input file (found from any
    folder if it was given relative to the repository's): its held-out tail if the run held one out, or its
    beginning. Read in pieces: any size in little memory."""
    path = text_file or run.config['input_file']
    if not text_file and not os.path.exists(path):   # a relative path from a run in the repository's folder
        path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), path)
    try:
        size = sum(map(len, text_pieces(path)))
        tail = 0 if text_file else int(size * run.config.get('val_fraction', 0))   # the held-out part
        start = size - tail if tail else 0
        if n and n > size - start or size - start < 2:
            fail(f'--chars={n}, but {path} has {size - start} characters here' if n else
                 f'{path} has {size - start} characters here; a model needs at least 2 to predict one')
        return text_slice(path, start, start + (n or default))
    except (OSError, UnicodeDecodeError) as e:
        fail(f'cannot read {path} as UTF-8 text ({getattr(e, "strerror", None) or e})')


def text_pieces(path):
    """The UTF-8 text of the file at path in pieces of a million characters; an OSError if it is not a file (a
    folder, a device such as /dev/zero, a pipe: never opened)."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(errno.EINVAL, 'a folder, a device or a pipe, not a file', path)
    with open(path, encoding='utf-8-sig') as f:
        yield from iter(lambda: f.read(2**20), '')


def text_slice(path, start, stop):
    """Characters start to stop of the text at path, read in pieces."""
    kept, at = [], 0
    for piece in text_pieces(path):
        kept.append(piece[max(0, start - at):max(0, stop - at)])
        at += len(piece)
        if at >= stop:
            break
    return ''.join(kept)


def forward_pieces(m, params, codes, step=None):
    """The script's own forward pass (eq. (26)-(28)) over codes from a zero state, in pieces of step characters
    (by default, as many as make p_t 8 MB whatever the vocabulary), h carried from one to the next: (first index,
    the piece's h_t as (layers, steps, units), its p_t) for each piece."""
    h, step = m.zero_state(), step or max(1, 2**20 // len(params[-1]))
    for a in range(0, len(codes), step):
        piece = codes[a:a + step]
        _, hs, ps = m.forward(piece, piece, h, params)
        h = hs[..., len(piece) - 1, :]           # h_{T-1}: the scripts keep hprev as hs[-1], as the listing
        yield a, hs[..., :-1, :].reshape(-1, len(piece), hs.shape[-1]), ps


def pyplot():
    """matplotlib's pyplot drawing to files, or a one-line error if matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        fail('drawing a figure needs matplotlib: python -m pip install matplotlib')
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save(fig, out):
    fig.tight_layout()
    try:
        fig.savefig(out)
    except OSError as e:
        fail(f'cannot write {out}: {e.strerror}')
    print(f'wrote {out}', file=sys.stderr)


def figure_name(out):
    """out, if it names a figure file, else a one-line error."""
    if not out.lower().endswith(('.png', '.svg', '.pdf')):
        fail(f'--out is the figure to write (a .png, .svg or .pdf), got {out!r}')
    return out
