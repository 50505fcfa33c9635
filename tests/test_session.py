"""A user's first hour: edit the top and run again, resume as it was, --help, signals, the log, what runs."""
import errno
import hashlib
import math
import os
import re
import signal
import time
from types import SimpleNamespace
import subprocess
import sys

import numpy as np
import pytest

from common import (ROOT, harness, SCRIPTS, TEXT, assert_clean_error, ck_meta, edited_script, load_script, read_until, run_main, loss_lines, run_path, run_script,
                    script_params, small_args, start_script, write_text, SMALL, HARNESS, GATES)

SMALL_TOP = {'min_char_rnn.py': {'hidden_size': 12}, 'rnn3.py': {'hidden_size': 10, 'num_layers': 2},
             'lstm.py': {'hidden_size': 8}, 'gru.py': {'hidden_size': 9}}


def user_args(tmp_path, *extra):
    """A run of an edited copy on the small text, checkpoint in tmp_path/out (no model-shape flags)."""
    return [f'--input_file={write_text(tmp_path)}', f'--checkpoint_path={tmp_path / "out" / "ck.npz"}', *extra]


def whh_shape(path, script):
    """Whh's shape, a gated cell's per gate (it stacks a block of H rows for each)."""
    with np.load(path, allow_pickle=False) as ck:
        rows, cols = ck['Whh'].shape
    return rows // GATES.get(script, 1), cols


def digest(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


@pytest.mark.parametrize('script', SCRIPTS)
def test_rerun_after_an_edit_keeps_every_earlier_run_and_trains_the_new_shape_from_zero(script, tmp_path):
    out = tmp_path / 'out'
    first = run_path(edited_script(tmp_path / 'a', script, **SMALL_TOP[script]), *user_args(tmp_path, '--max_iters=30'))
    assert first.returncode == 0, first.stderr
    kept = {digest(out / 'ck.npz'), digest(out / 'ck.csv')}
    for rerun, hidden in enumerate([6, 5, 5]):   # edit, edit, then the same command once more
        top = dict(SMALL_TOP[script], hidden_size=hidden)
        r = run_path(edited_script(tmp_path / 'a', script, **top), *user_args(tmp_path, f'--max_iters={20 + rerun}'))
        assert r.returncode == 0, r.stderr
        assert loss_lines(r.stdout)[0][0] == 0 and 'earlier run kept as' in r.stderr
        record, files = ck_meta(out / 'ck.npz'), sorted(os.listdir(out))
        assert record['n'] == 20 + rerun and whh_shape(out / 'ck.npz', script) == (hidden, hidden)
        assert record['config']['hidden_size'] == hidden
        assert len(files) == 2 * (rerun + 2), files                 # every run's checkpoint and log
        moved = [f for f in files if f not in ('ck.npz', 'ck.csv')]
        assert all(re.fullmatch(r'ck\.iter\d+-\d{8}-\d{6}(-\d+)?\.(npz|csv)', f) for f in moved), moved
        assert kept <= {digest(out / f) for f in moved}, 'an earlier run was changed or lost'
        kept |= {digest(out / 'ck.npz'), digest(out / 'ck.csv')}


@pytest.mark.parametrize('script', SCRIPTS)
def test_earlier_runs_with_the_same_iteration_count_and_time_are_all_kept(script, tmp_path):
    """Three earlier runs that would get the same new name (same iterations, same second): none is lost."""
    out, run, kept = tmp_path / 'out', edited_script(tmp_path / 'a', script, **SMALL_TOP[script]), set()
    for seed in (1, 2, 3, 4):
        r = run_path(run, *user_args(tmp_path, '--max_iters=10', f'--seed={seed}'))
        assert r.returncode == 0, r.stderr
        for f in ('ck.npz', 'ck.csv'):
            os.utime(out / f, (1.7e9, 1.7e9))               # the same modification time for every run
        kept |= {digest(out / 'ck.npz'), digest(out / 'ck.csv')}
    assert len(os.listdir(out)) == 8 and {digest(out / f) for f in os.listdir(out)} == kept


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_kept_run_is_named_by_its_iteration_and_its_checkpoints_own_time(script, tmp_path):
    run = edited_script(tmp_path / 'a', script, **SMALL_TOP[script])
    assert run_path(run, *user_args(tmp_path, '--max_iters=10')).returncode == 0
    os.utime(tmp_path / 'out' / 'ck.npz', (1.6e9, 1.6e9))
    os.utime(tmp_path / 'out' / 'ck.csv', (1.5e9, 1.5e9))
    assert run_path(run, *user_args(tmp_path, '--max_iters=5')).returncode == 0
    stamp = time.strftime('%Y%m%d-%H%M%S', time.localtime(1.6e9))
    assert sorted(os.listdir(tmp_path / 'out')) == ['ck.csv', f'ck.iter10-{stamp}.csv', f'ck.iter10-{stamp}.npz', 'ck.npz']


@pytest.mark.parametrize('script', SCRIPTS)
def test_progress_counts_this_processs_iterations_and_gives_hours_minutes_and_seconds_left(script, tmp_path, capsys,
                                                                                        monkeypatch):
    """A clock that moves 0.5 s a training step: resumed at 200, at 300 the run has done 100 iterations in 101
    steps' time (50.5 s), 1.98 it/s, and 10,000 are left: 5,050 s, 1 h 24 min 10 s."""
    args = small_args(script, tmp_path, '--print_every=100')
    run_main(load_script(script), args + ['--max_iters=200'])
    m, clock = load_script(script), [1000.0]
    lossFun = m.lossFun

    def half_a_second_each(*a):
        clock[0] += 0.5
        if clock[0] == 1000.0 + 0.5 * 102:
            harness.stop.append(signal.SIGINT)              # stop after iteration 300
        return lossFun(*a)
    m.lossFun = half_a_second_each
    monkeypatch.setattr(harness, 'time', SimpleNamespace(time=lambda: clock[0], strftime=time.strftime,
                                                         localtime=time.localtime))
    capsys.readouterr()
    with pytest.raises(SystemExit):
        run_main(m, args + ['--resume=True', '--max_iters=10300'])
    progress = [line for line in capsys.readouterr().err.splitlines() if 'it/s, ' in line]
    assert len(progress) == 1 and progress[0].startswith(f'{script}: iter 300/10300: loss ')
    assert progress[0].endswith(' nats/char, 2 it/s, 1 h 24 min 10 s left'), progress


@pytest.mark.parametrize('script', SCRIPTS)
def test_resume_after_an_edit_continues_the_run_as_it_was_and_names_what_it_adopted(script, tmp_path):
    """The first run has a non-default rate and dtype; the resume is run from a copy whose top says otherwise."""
    args = ['--max_iters=200', '--learning_rate=0.05', '--dtype=float64', '--print_every=50']
    run = edited_script(tmp_path / 'a', script, **SMALL_TOP[script])
    whole = run_path(run, *user_args(tmp_path / 'whole', *args, '--max_iters=400'))
    first = run_path(run, *user_args(tmp_path / 'b', *args))
    edited = edited_script(tmp_path / 'c', script, **dict(SMALL_TOP[script], hidden_size=7, seq_length=9))
    second = run_path(edited, *user_args(tmp_path / 'b', '--resume=True', '--max_iters=400'))
    assert whole.returncode == first.returncode == second.returncode == 0, second.stderr
    assert first.stdout + second.stdout == whole.stdout
    note = [line for line in second.stderr.splitlines() if 'resuming' in line][0]
    hidden = SMALL_TOP[script]['hidden_size']
    for adopted in [f'hidden_size={hidden}', 'seq_length=25', 'learning_rate=0.05', 'dtype=float64', 'print_every=50']:
        assert adopted in note, note
    assert 'max_iters' not in note                              # given on the command line
    m = ck_meta(tmp_path / 'b' / 'out' / 'ck.npz')
    assert m['config']['learning_rate'] == 0.05 and m['config']['dtype'] == 'float64'
    assert whh_shape(tmp_path / 'b' / 'out' / 'ck.npz', script) == (hidden, hidden)


@pytest.mark.parametrize('script', SCRIPTS)
def test_resume_with_a_different_model_shape_on_the_command_line_is_refused(script, tmp_path):
    run = edited_script(tmp_path / 'a', script, **SMALL_TOP[script])
    assert run_path(run, *user_args(tmp_path, '--max_iters=20')).returncode == 0
    r = run_path(run, *user_args(tmp_path, '--resume=True', '--per_line=True'))
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].endswith('has per_line=False, not True')


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('flag', ['--help', '-h'])
def test_help_lists_every_hyperparameter_with_its_default_and_comment(script, flag):
    r = run_script(script, flag, '--hiden_size=5')
    assert r.returncode == 0 and r.stderr == ''
    m = load_script(script)
    assert r.stdout.startswith(m.__doc__.strip()), 'the help begins with what the script is'
    source = open(os.path.join(ROOT, script)).read()
    names = [name for _, name, _ in harness.read_block(m) if name]
    assert names and 'per_line' in names
    for name in names:
        comment = re.search(rf'^{name} = .*?(?:# (.*))?$', source, re.M).group(1)
        line = [line for line in r.stdout.splitlines() if line.strip().startswith(f'--{name}=')]
        assert len(line) == 1, name
        assert f'--{name}={getattr(m, name)}' in line[0] and (comment is None or line[0].endswith(comment)), line
    assert "--prime=''" in r.stdout, 'an empty default is shown as one'


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_setting_a_user_adds_to_the_top_is_typed_by_its_value(script, tmp_path):
    path = edited_script(tmp_path, script)
    source = open(path, encoding='utf-8').read()
    open(path, 'w', encoding='utf-8').write(source.replace('checkpoint_every = ', 'dropout = 0.5\ncheckpoint_every = '))
    args = small_args(script, tmp_path, '--max_iters=5')
    assert '--dropout=0.5' in run_path(path, '--help').stdout
    assert run_path(path, *args, '--dropout=0.25').returncode == 0
    assert_clean_error(run_path(path, *args, '--dropout=abc'), '--dropout=abc is not a valid float')


@pytest.mark.parametrize('script', SCRIPTS)
def test_the_training_time_a_checkpoint_records_adds_up_across_a_resume(script, tmp_path, capsys, monkeypatch):
    """A clock that moves 0.5 s a training step: 20 steps, then 10 more after a resume: 10 s, then 15 s."""
    clock, args, seen = [1000.0], small_args(script, tmp_path, '--print_every=5'), []
    monkeypatch.setattr(harness, 'time', SimpleNamespace(time=lambda: clock[0], strftime=time.strftime,
                                                         localtime=time.localtime))
    for extra in (['--max_iters=20'], ['--max_iters=30', '--resume=True']):
        m = load_script(script)
        lossFun = m.lossFun
        m.lossFun = lambda *a: clock.__setitem__(0, clock[0] + 0.5) or lossFun(*a)
        run_main(m, args + extra)
        seen.append(ck_meta(tmp_path / 'out' / 'ck.npz')['elapsed'])
    elapsed = [float(row.split(',')[4]) for row in (tmp_path / 'out' / 'ck.csv').read_text().splitlines()[1:]]
    assert seen == [10.0, 15.0] and elapsed == [0.5, 3.0, 5.5, 8.0, 10.5, 13.0], (seen, elapsed)   # after each step


@pytest.mark.parametrize('script', SCRIPTS)
def test_help_keeps_a_hash_sign_inside_a_value_apart_from_the_comment(script, tmp_path):
    path = edited_script(tmp_path, script)
    source = open(tmp_path / 'harness.py', encoding='utf-8').read()   # the run options' block: harness.py's top
    open(tmp_path / 'harness.py', 'w', encoding='utf-8').write(source.replace("prime = ''  ", "prime = 'C# minor'"))
    r = run_path(path, '--help')
    line = [line for line in r.stdout.splitlines() if line.strip().startswith('--prime=')][0]
    assert r.returncode == 0 and re.fullmatch(r'  --prime=C# minor +text run through the network before sampling', line)


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('line, extra', [('iter 1000, loss', ['--print_every=1000']),
                                         ('iter 1000, held-out loss', ['--print_every=1000000', '--val_fraction=0.1',
                                                                       '--eval_every=1000'])])
def test_what_goes_to_stdout_reaches_a_pipe_as_it_is_printed(script, line, extra, tmp_path):
    """Without PYTHONUNBUFFERED, as `python min_char_rnn.py | tee log` runs: the lines of iteration 1,000 (the
    transcript, the held-out loss) can be read before the run has saved iteration 100,000 (8 KB of them, a full
    buffer, would take over 100,000 iterations)."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONUNBUFFERED'}
    args = small_args(script, tmp_path, *extra, '--sample_length=5', '--checkpoint_every=1000')
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, script), *args, '--max_iters=1000000'], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    read_until(proc, line)
    saved = ck_meta(tmp_path / 'out' / 'ck.npz')['n']
    proc.kill()
    proc.wait()
    assert saved < 100000, saved

@pytest.mark.parametrize('script', SCRIPTS)
def test_unknown_name_suggests_the_closest_and_a_missing_equals_sign_shows_the_right_form(script, tmp_path):
    r = run_script(script, '--hiden_size=5', cwd=tmp_path)
    assert r.returncode == 1 and "did you mean --hidden_size?" in r.stderr and '--help' in r.stderr
    r = run_script(script, '--max_iters', '100', cwd=tmp_path)
    assert r.returncode == 1 and "expected --max_iters=100, got '--max_iters'" in r.stderr


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('sig, code', [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_kill_saves_a_checkpoint_that_resumes_exactly(script, sig, code, tmp_path):
    extra = ['--print_every=50', '--sample_length=40', '--val_fraction=0.1', '--eval_every=100']
    args = small_args(script, tmp_path / 'b', *extra)
    proc = start_script(script, args + ['--max_iters=1000000'])
    seen = read_until(proc, 'iter 100, loss')
    proc.send_signal(sig)
    out, err = proc.stdout.read(), proc.stderr.read()    # not communicate(): it skips what readline buffered
    proc.wait(timeout=60)
    assert proc.returncode == code and 'Traceback' not in err, err
    stopped = int(re.search(r'interrupted at iteration (\d+)', err).group(1))
    assert 100 < stopped < 1000000 and '--resume=True' in err
    end = stopped + 120
    resumed = run_script(script, *args, f'--max_iters={end}', '--resume=True')
    whole = run_script(script, *small_args(script, tmp_path / 'a', *extra), f'--max_iters={end}')
    assert resumed.returncode == whole.returncode == 0
    assert seen + out + resumed.stdout == whole.stdout


@pytest.mark.parametrize('script, sig', [(s, sig) for s in SCRIPTS for sig in (signal.SIGINT, signal.SIGTERM)
                                         if s in HARNESS or sig == signal.SIGTERM])   # the gated: one signal
def test_a_signal_during_a_long_held_out_evaluation_stops_it_promptly_and_saves(script, sig, tmp_path, capsys):
    """The evaluation at iteration 0 has 930 chunks; the signal comes during the fifth, and no sixth is read.
    The handlers in place before (the test's own) are back after each run."""
    args = small_args(script, tmp_path, '--val_fraction=0.9', '--max_iters=5', text=TEXT * 10)
    mine = lambda signum, frame: None
    before = {s: signal.signal(s, mine) for s in map(getattr, [signal] * 8, harness.SIGNALS)}
    m, calls = load_script(script), []
    forward = m.forward

    def signalled_in_the_fifth(*a):
        calls.append(1)
        if len(calls) == 5:
            os.kill(os.getpid(), sig)
        return forward(*a)
    m.forward = signalled_in_the_fifth
    with pytest.raises(SystemExit) as e:
        run_main(m, args)
    assert e.value.code == 128 + sig and len(calls) == 5, len(calls)
    assert all(signal.getsignal(s) is mine for s in before), 'the handlers in place before a run are put back'
    assert 'held-out' not in capsys.readouterr().out
    assert ck_meta(tmp_path / 'out' / 'ck.npz')['n'] == 0
    run_main(load_script(script), args + ['--resume=True'])          # the evaluation is redone on resume
    resumed = capsys.readouterr().out
    assert all(signal.getsignal(s) is mine for s in before)
    for s, handler in before.items():
        signal.signal(s, handler)
    run_main(load_script(script), small_args(script, tmp_path / 'whole', '--val_fraction=0.9', '--max_iters=5', text=TEXT * 10))
    assert resumed == capsys.readouterr().out and resumed.startswith('iter 0, held-out loss')


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_reader_that_closes_the_pipe_stops_the_run_and_it_is_saved_and_resumes(script, tmp_path):
    """`python script.py | head`: the run stops as on Ctrl-C (exit 141) and nothing it trained is lost."""
    extra = ['--print_every=50', '--sample_length=40']
    proc = start_script(script, small_args(script, tmp_path / 'b', *extra, '--max_iters=1000000'))
    seen = ''.join(proc.stdout.readline() for _ in range(8))          # up to iteration 50's loss line
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 141 and 'Traceback' not in err, err
    stopped = ck_meta(tmp_path / 'b' / 'out' / 'ck.npz')['n']
    assert 50 < stopped < 1000000 and f'interrupted at iteration {stopped}' in err
    resumed = run_script(script, *small_args(script, tmp_path / 'b', *extra), f'--max_iters={stopped + 100}', '--resume=True')
    whole = run_script(script, *small_args(script, tmp_path / 'a', *extra), f'--max_iters={stopped + 100}')
    assert whole.stdout.startswith(seen) and whole.stdout.endswith(resumed.stdout) and resumed.stdout


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_reader_that_closes_the_pipe_after_a_held_out_line_stops_the_run_too(script, tmp_path):
    """Only held-out lines go to stdout here: the first write after the reader has gone is one of them."""
    args = small_args(script, tmp_path, '--print_every=1000000', '--val_fraction=0.1', '--eval_every=100')
    proc = start_script(script, args + ['--max_iters=20000'])
    read_until(proc, 'iter 100, held-out loss')
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141 and 'Traceback' not in err, err
    assert 100 < ck_meta(tmp_path / 'out' / 'ck.npz')['n'] < 20000


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_terminal_gone_without_a_hangup_stops_the_run_as_a_closed_pipe_does(script, tmp_path, monkeypatch):
    """stdout's writes fail with EIO (a terminal that has gone): the run saves the last whole iteration, exits 141."""
    def gone(text):
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    devnull = os.open(os.devnull, os.O_WRONLY)
    monkeypatch.setattr(sys, 'stdout', SimpleNamespace(write=gone, flush=lambda: None, fileno=lambda: devnull))
    with pytest.raises(SystemExit) as e:
        run_main(load_script(script), small_args(script, tmp_path, '--max_iters=100'))
    os.close(devnull)
    assert e.value.code == 141 and ck_meta(tmp_path / 'out' / 'ck.npz')['n'] == 1


def test_a_run_holds_the_lock_file_that_is_there_even_when_the_run_before_removes_it_meanwhile(tmp_path,
                                                                                               monkeypatch):
    """The run before ends between this run's opening the lock file and locking it, and removes the file."""
    flock, removed = harness.fcntl.flock, []

    def the_run_before_ends_meanwhile(fd, op):
        if not removed:
            removed.append(os.remove(tmp_path / 'ck.npz.lock'))
        return flock(fd, op)
    monkeypatch.setattr(harness.fcntl, 'flock', the_run_before_ends_meanwhile)
    run = SimpleNamespace(lock=None, path=str(tmp_path / 'ck.npz'), log_path=str(tmp_path / 'ck.csv'),
                          lock_path=str(tmp_path / 'ck.npz.lock'), script='min_char_rnn.py')
    (tmp_path / 'ck.npz.lock').write_text('')
    harness.lock(run, run.path)
    assert removed and os.path.samestat(os.fstat(run.lock), os.stat(run.lock_path)), 'it locks the file there is'
    os.close(run.lock)


@pytest.mark.parametrize('script', SCRIPTS)
def test_the_loss_log_survives_a_crash_while_it_is_rewritten(script, tmp_path, monkeypatch, capsys):
    args = small_args(script, tmp_path, '--max_iters=200', '--print_every=50')
    run_main(load_script(script), args)
    log = tmp_path / 'out' / 'ck.csv'
    rows = log.read_text().splitlines()
    assert [row.split(',')[0] for row in rows] == ['iter', '0', '50', '100', '150']
    with open(log, 'a') as f:                              # rows a crashed run wrote past its checkpoint
        f.write('200,1.0,1.0,,9.9\n250,1.0,1.0,,9.9\n250,1.0')
    before, m = log.read_text(), load_script(script)

    def killed_while_writing(file, mode='r', *a, **k):
        f = open(file, mode, *a, **k)
        if '.csv.' in (os.readlink(f'/proc/self/fd/{file}') if type(file) is int else str(file)) and 'w' in mode:
            f.write(b'iter,smooth_lo')
            raise SystemExit('killed')                       # the process dies halfway through the log
        return f
    with monkeypatch.context() as patch, pytest.raises(SystemExit, match='killed'):
        patch.setattr(harness, 'open', killed_while_writing, raising=False)
        run_main(m, args + ['--resume=True', '--max_iters=400', '--checkpoint_every=10'])
    assert log.read_text() == before
    run_main(load_script(script), args + ['--resume=True', '--max_iters=300'])
    assert [row.split(',')[0] for row in log.read_text().splitlines()] == ['iter', '0', '50', '100', '150', '200', '250']
    assert sorted(os.listdir(tmp_path / 'out')) == ['ck.csv', 'ck.npz'], 'the killed write left no file behind'


@pytest.mark.parametrize('script', SCRIPTS)
def test_what_runs_and_its_progress_go_to_stderr_and_stdout_stays_the_papers_transcript(script, tmp_path):
    r = run_script(script, *small_args(script, tmp_path, '--max_iters=250', '--learning_rate=0.05'))
    assert r.returncode == 0
    n_chars, vocab = len(TEXT * 1), len(set(TEXT))
    err = r.stderr.splitlines()
    assert err[0] == f'{script}: data has {n_chars} characters, {vocab} unique.'
    m = load_script(script)
    H, L, V = int(SMALL[script][0].split('=')[1]), 3 if script == 'rnn3.py' else 1, vocab
    gates = GATES.get(script, 1)
    size = gates * H * (V + H + 1) + V * (H + 1) if L == 1 else H * V + (2 * L - 1) * H * H + L * H + V * H + V
    top = float(re.search(r'^learning_rate = (\S+)', open(os.path.join(ROOT, script)).read(), re.M).group(1))
    assert f'{size:,} parameters' in err[1] and 'learning_rate=0.05' in err[1] and m.learning_rate == top != 0.05
    progress = [line for line in err if re.search(r'iter (100|200)/250: loss [\d.]+ nats/char, \d+ it/s, .* left$', line)]
    assert len(progress) == 2
    assert set(re.sub(r'^----$|^iter \d+, loss: \d+\.\d{6}$', '', r.stdout, flags=re.M)) <= set(TEXT)
    assert 'it/s' not in r.stdout and 'nats' not in r.stdout


def test_large_logits_give_a_finite_loss_equal_to_a_float64_reference():
    for script in SCRIPTS:
        m = load_script(script)
        m.hidden_size, m.num_layers = 4, 2
        params = script_params(m, 5, np.random.default_rng(0))
        for p in params:
            p[...] = 0
        params[-1][:] = [1200.0, 0.0, -700.0, 1199.0, 3.0]      # by: with zero weights y_t = by at every t
        h = m.zero_state()
        targets = np.array([2, 1, 0, 4, 3])
        loss = m.forward(np.zeros(5, int), targets, h, params)[0]
        by = [1200.0, 0.0, -700.0, 1199.0, 3.0]
        logsumexp = 1200.0 + math.log(sum(math.exp(y - 1200.0) for y in by))
        want = sum(logsumexp - by[t] for t in targets)
        assert math.isfinite(loss) and abs(loss - want) < 1e-6 * want, (script, loss, want)


FORMER_TRACEBACKS = [
    (['--hidden_size=100000'], 'GB'),
    (['--seed=-1'], '--seed must be a whole number >= 0, got -1'),
]


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('args, message', FORMER_TRACEBACKS, ids=[a[0] for a, _ in FORMER_TRACEBACKS])
def test_former_tracebacks_are_one_line_errors(script, args, message, tmp_path):
    assert_clean_error(run_script(script, *small_args(script, tmp_path, '--max_iters=5'), *args), message)


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_count_edited_at_the_top_as_1e2_works_and_a_fraction_is_one_line_error(script, tmp_path):
    r = run_path(edited_script(tmp_path / 'a', script, sample_length='1e2'), *user_args(tmp_path, '--max_iters=5'))
    assert r.returncode == 0 and len(r.stdout.split('----\n')[2]) == 100 + 1, r.stderr
    edited = edited_script(tmp_path / 'b', script, sample_length='20.5')
    assert_clean_error(run_path(edited, *user_args(tmp_path, '--max_iters=5')),
                       f'sample_length at the top of {script} must be a whole number >= 1, got 20.5')


def test_tools_answer_help_and_a_missing_log_in_one_line(tmp_path):
    for tool in ['loss_table.py', 'plot_loss.py']:
        path = os.path.join(ROOT, 'tools', tool)
        h = subprocess.run([sys.executable, path, '--help'], capture_output=True, text=True)
        assert h.returncode == 0 and 'usage' in h.stdout.lower(), h.stderr
        r = subprocess.run([sys.executable, path, *(['x.png'] if tool == 'plot_loss.py' else []), 'missing.csv'],
                           capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == 1 and r.stderr.strip().count('\n') == 0 and 'missing.csv' in r.stderr, r.stderr
