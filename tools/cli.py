"""What the tools here share: one-line errors named after the tool, --name=value options, figures."""
import os
import sys


def fail(msg):
    sys.exit(f'{os.path.basename(sys.argv[0])}: error: {msg}')


def parse(argv, names, doc):
    """The --name=value options (each name one of names) and the other arguments; --help prints doc."""
    if {'-h', '--help'} & set(argv):
        print(doc.strip())
        sys.exit(0)
    opts = {}
    for arg in argv:
        name, eq, value = arg[2:].partition('=')
        if arg.startswith('--'):
            if not eq or name not in names:
                fail(f"unknown option '{arg}' (see --help)")
            opts[name] = value
    return opts, [a for a in argv if not a.startswith('--')]


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
