"""Sizes and signals a run must stay within (issue 32): checkpoint members bounded by the file, the loss log read
only where it is used and in pieces, texts that are not files, crafted sizes refused before anything is made,
the memory estimate's figures, sampling stopped by a signal, a second signal while a run ends."""
import os
import re
import signal
import struct
import subprocess
import sys
import tracemalloc

import pytest

from common import (ROOT, HARNESS, assert_clean_error, ck_meta, crafted, npy, read_until, rewrite_record,
                    run_in_process, run_script, small_args, start_script, trained)


def claim_size(path, member, size):
    """The zip at path with member's uncompressed size in the central directory set to size (its data as it was):
    a member that says it holds more than it does."""
    data = bytearray(open(path, 'rb').read())
    at = data.index(b'PK\x01\x02')              # the first entry of the central directory
    while True:
        name_length = struct.unpack_from('<H', data, at + 28)[0]
        if data[at + 46:at + 46 + name_length] == member.encode():
            struct.pack_into('<I', data, at + 24, size)
            break
        at = data.index(b'PK\x01\x02', at + 4)
    open(path, 'wb').write(bytes(data))


def peak_of(capsys, script, *args):
    """A run in this process and the most memory Python and NumPy held during it (tracemalloc)."""
    tracemalloc.start()
    try:
        r = run_in_process(capsys, script, *args)
        return r, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('mode', ['--resume=True', '--generate=20'])
def test_a_member_larger_than_the_checkpoint_is_refused_before_it_is_read_whatever_its_record_says(script, mode,
                                                                                                      tmp_path, capsys):
    """2 GiB of log declared by its header and by the zip itself, in a file of a few kB whose record claims
    n = 10**9 (the log's bound must not come from the record)."""
    args = trained(script, tmp_path)
    path = tmp_path / 'out' / 'ck.npz'
    rewrite_record(path, n=10**9)
    crafted(path, {'log.npy': npy({'descr': '|u1', 'fortran_order': False, 'shape': (2**31,)}, b'iter\n' * 1000)})
    claim_size(path, 'log.npy', 2**31 + 128)
    assert path.stat().st_size < 2**20
    r, peak = peak_of(capsys, script, *args, mode, '--max_iters=2000000000')
    assert_clean_error(r, 'its log is damaged')
    assert peak < 30e6, peak


@pytest.mark.parametrize('script', HARNESS)
def test_sampling_never_opens_the_loss_log_and_a_resume_reads_it_in_little_memory(script, tmp_path, capsys):
    """A FIFO at the log's name would hang any read of it; 200 MB of it (a sparse file) must not be held."""
    args = trained(script, tmp_path)
    log = tmp_path / 'out' / 'ck.csv'
    saved = log.read_bytes()
    log.unlink()
    os.mkfifo(log)
    r = run_script(script, *args, '--generate=30', timeout=60)
    assert r.returncode == 0 and len(r.stdout) >= 30, r.stderr
    log.unlink()
    with open(log, 'wb') as f:
        f.write(saved)
        f.truncate(200 * 2**20)                  # the rest zeros, on no disk
    r, peak = peak_of(capsys, script, *args, '--resume=True', '--max_iters=25')
    assert r.returncode == 0 and peak < 30e6, (r.stderr, peak)
    assert log.read_bytes() == saved, 'the rows of the checkpoint, the zeros after them dropped'


@pytest.mark.parametrize('script', HARNESS)
def test_a_text_that_is_a_device_a_pipe_or_a_folder_is_refused_in_one_line_and_never_read(script, tmp_path):
    fifo = tmp_path / 'fifo.txt'
    os.mkfifo(fifo)                              # no writer: opening it would wait for ever
    texts = [str(fifo), str(tmp_path)] + ['/dev/zero'] * os.path.exists('/dev/zero')
    for text in texts:
        args = [a for a in small_args(script, tmp_path) if not a.startswith('--input_file')]
        r = run_script(script, *args, f'--input_file={text}', timeout=60)
        assert_clean_error(r, f'cannot read input file {text}', 'a folder, a device or a pipe')


def test_a_record_of_ten_million_layers_is_refused_before_its_model_is_made(tmp_path, capsys):
    """rnn3.py with num_layers=10**7 of 10 units: building even the names of its 30 million arrays takes GBs."""
    args = trained('rnn3.py', tmp_path)
    path = tmp_path / 'out' / 'ck.npz'
    rewrite_record(path, config=dict(ck_meta(path)['config'], num_layers=10**7))
    for mode in ('--generate=20', '--resume=True'):
        r, peak = peak_of(capsys, 'rnn3.py', *[a for a in args if not a.startswith('--num_layers')], mode,
                          '--max_iters=40')
        assert_clean_error(r, 'GB to train; this machine has')
        assert peak < 30e6, peak


SMALL_MACHINE = '''import os
sysconf = os.sysconf
os.sysconf = lambda name: {'SC_PAGE_SIZE': 4096, 'SC_PHYS_PAGES': 2**18}.get(name) or sysconf(name)
'''


def on_a_small_machine(tmp_path):
    """The environment of a run on a machine whose sysconf says it has 1 GB."""
    (tmp_path / 'site').mkdir(exist_ok=True)
    (tmp_path / 'site' / 'sitecustomize.py').write_text(SMALL_MACHINE)
    return dict(os.environ, PYTHONPATH=str(tmp_path / 'site'), OPENBLAS_NUM_THREADS='1')


@pytest.mark.parametrize('script', HARNESS)
def test_the_memory_refusal_gives_its_figures_in_gb(script, tmp_path):
    """On a 1 GB machine: 'this machine has 1.0 GB', and the model's need at least its parameters, their
    gradient and Adagrad's memory (3 copies), at most 10 copies and a little more."""
    args = [a for a in small_args(script, tmp_path) if not a.startswith('--hidden_size')] + ['--hidden_size=20000']
    r = subprocess.run([sys.executable, os.path.join(ROOT, script), *args, '--max_iters=1'], capture_output=True,
                       text=True, env=on_a_small_machine(tmp_path), timeout=60)
    assert_clean_error(r, 'this machine has 1.0 GB')
    found = re.search(r'make ([\d,]+) parameters, about ([\d.]+) GB to train', r.stderr)
    params, gb = int(found.group(1).replace(',', '')), float(found.group(2))
    assert 3 * params * 4 / 2**30 <= gb <= 10 * params * 4 / 2**30 + 0.1, (params, gb)


@pytest.mark.parametrize('script', HARNESS)
def test_a_text_too_large_for_the_memory_is_refused_before_it_is_read(script, tmp_path):
    """A 100 MB text (sparse) on a 1 GB machine: reading it would take about 12 bytes a byte."""
    args = small_args(script, tmp_path)
    text = args[0].split('=', 1)[1]
    with open(text, 'ab') as f:
        f.truncate(100 * 2**20)
    r = subprocess.run([sys.executable, os.path.join(ROOT, script), *args, '--max_iters=1'], capture_output=True,
                       text=True, env=on_a_small_machine(tmp_path), timeout=60)
    assert_clean_error(r, 'GB to train; this machine has 1.0 GB')
    assert 'data has' not in r.stderr


def test_the_closing_line_names_the_checkpoint_as_it_was_given(tmp_path):
    script = 'min_char_rnn.py'
    args = [a for a in small_args(script, tmp_path) if not a.startswith('--checkpoint_path')]
    r = run_script(script, *args, '--checkpoint_path=out/ck.npz', '--max_iters=5', cwd=tmp_path)
    assert r.returncode == 0 and r.stderr.splitlines()[-1].endswith('saved out/ck.npz; done'), r.stderr


def greedy_sample(script, args, n):
    """The first n characters of the sample of the saved model at temperature 0 (the same every time)."""
    r = run_script(script, *args, f'--generate={n}', '--temperature=0')
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize('script, name, how', [
    ('min_char_rnn.py', 'SIGTERM', '--generate=100000000'), ('rnn3.py', 'SIGHUP', '--lines=100000000'),
    ('min_char_rnn.py', 'SIGUSR1', '--lines=100000000'), ('rnn3.py', 'SIGALRM', '--generate=100000000'),
    ('min_char_rnn.py', 'SIGQUIT', '--generate=100000000'), ('rnn3.py', 'SIGINT', '--lines=100000000')])
def test_a_signal_during_sampling_ends_it_in_one_line_with_128_plus_its_number(script, name, how, tmp_path):
    """What was written before the signal is the start of the same sample, uncut by a traceback."""
    if not hasattr(signal, name):
        pytest.skip(f'no {name} here')
    args = trained(script, tmp_path)
    proc = start_script(script, [*args, how, '--temperature=0'])
    head = proc.stdout.read(4000)                # the sample has begun
    proc.send_signal(getattr(signal, name))
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + getattr(signal, name), err
    assert err.strip().splitlines()[-1].endswith('interrupted: the sample above is cut short') and 'Traceback' not in err
    out = (head + rest).rstrip('\n')            # sampling ends its output with a newline
    assert greedy_sample(script, args, len(out)).startswith(out)


SECOND_SIGNAL_AT_THE_END = '''import os, signal
remove = os.remove
def remove_then_interrupt(path, *a, **k):
    remove(path, *a, **k)
    if str(path).endswith('.lock'):
        os.kill(os.getpid(), signal.SIGINT)      # Ctrl-C just after SIGTERM's save, as the run ends
os.remove = remove_then_interrupt
'''


@pytest.mark.parametrize('script', HARNESS)
def test_a_second_signal_while_a_stopped_run_ends_changes_nothing(script, tmp_path):
    """SIGTERM, then SIGINT as the run removes its lock: saved, one line, exit 143 (not killed by the second)."""
    args = small_args(script, tmp_path, '--max_iters=100000000', '--print_every=20')
    (tmp_path / 'site').mkdir()
    (tmp_path / 'site' / 'sitecustomize.py').write_text(SECOND_SIGNAL_AT_THE_END)
    env = dict(os.environ, PYTHONPATH=str(tmp_path / 'site'), OPENBLAS_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    read_until(proc, 'iter 20, loss')
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and 'Traceback' not in err, err
    assert 'interrupted at iteration' in err and ck_meta(tmp_path / 'out' / 'ck.npz')['n'] >= 21
    assert not (tmp_path / 'out' / 'ck.npz.lock').exists()


@pytest.mark.parametrize('target', ['fifo', '/dev/zero', 'folder'])
def test_the_tools_never_read_a_records_text_that_is_a_device_a_pipe_or_a_folder(target, tmp_path):
    """A record naming a FIFO without a writer (open would block), /dev/zero (endless) or a folder as its text:
    the results table leaves its passes out, the other tools end in one line; none of them waits or reads."""
    trained('min_char_rnn.py', tmp_path, '--print_every=5')
    path = {'fifo': tmp_path / 'fifo', 'folder': tmp_path}.get(target, target)
    if target == 'fifo':
        os.mkfifo(path)
    ck = tmp_path / 'out' / 'ck.npz'
    rewrite_record(ck, config=dict(ck_meta(ck)['config'], input_file=str(path)), input_path=str(path))
    run = lambda tool, *args: subprocess.run([sys.executable, os.path.join(ROOT, 'tools', tool), *map(str, args)],
                                             capture_output=True, text=True, timeout=60)
    table = run('loss_table.py', tmp_path / 'out' / 'ck.csv')
    assert table.returncode == 0 and 'iterations, training time' in table.stdout, table.stderr
    assert 'passes over the training text' not in table.stdout
    for tool, args in [('loss_by_position.py', [tmp_path / 'out' / 'ck.csv']),
                       ('inspect_text.py', [ck, f'--out={tmp_path / "page.html"}']), ('gradient_reach.py', [ck])]:
        r = run(tool, *args)
        assert r.returncode == 1 and r.stderr.count('\n') == 1 and f'{tool}: error: ' in r.stderr, r.stderr
        assert str(path) in r.stderr and 'not a file' in r.stderr and 'Errno' not in r.stderr and not r.stdout
    assert not (tmp_path / 'page.html').exists()
