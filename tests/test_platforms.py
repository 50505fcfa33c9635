"""Where learners run the scripts: Windows (simulated here: a Python without fcntl, the POSIX-only signals,
os.sysconf, os.fchmod, os.O_NOFOLLOW and /proc, with an msvcrt whose locking is the real lock), and python -O."""
import os
import re
import signal
import subprocess
import sys

import pytest

from common import ROOT, SCRIPTS, HARNESS, ck_meta, read_until, rewrite_record, small_args

WINDOWS = '''import errno, os, signal, sys, types
import fcntl as _fcntl

def locking(fd, mode, nbytes):
    """msvcrt.locking made of the real lock: EACCES when another process holds it, as on Windows."""
    try:
        _fcntl.lockf(fd, (_fcntl.LOCK_EX | _fcntl.LOCK_NB) if mode == LK_NBLCK else _fcntl.LOCK_UN, nbytes)
    except OSError:
        raise PermissionError(errno.EACCES, 'Permission denied') from None

LK_UNLCK, LK_NBLCK = 0, 2
sys.modules['msvcrt'] = types.SimpleNamespace(LK_UNLCK=LK_UNLCK, LK_NBLCK=LK_NBLCK, locking=locking)
sys.modules['fcntl'] = None
for name in ('SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGXCPU', 'SIGPIPE'):
    delattr(signal, name)
for name in ('sysconf', 'fchmod', 'fchown', 'O_NOFOLLOW'):
    delattr(os, name)
os.supports_dir_fd = set()
import builtins
_open = builtins.open

def open_without_proc(file, *args, **kwargs):
    """Windows and macOS have no /proc (its mountinfo, Linux's list of mounts)."""
    if str(file).startswith('/proc/'):
        raise FileNotFoundError(errno.ENOENT, 'No such file or directory', file)
    return _open(file, *args, **kwargs)

builtins.open = open_without_proc
'''


@pytest.fixture
def windows(tmp_path):
    """The environment of a simulated Windows Python (a sitecustomize on PYTHONPATH)."""
    (tmp_path / 'site').mkdir()
    (tmp_path / 'site' / 'sitecustomize.py').write_text(WINDOWS)
    return dict(os.environ, PYTHONPATH=str(tmp_path / 'site'), OPENBLAS_NUM_THREADS='1', PYTHONUNBUFFERED='1')


def run(env, *cmd, **kw):
    return subprocess.run([sys.executable, *map(str, cmd)], env=env, capture_output=True, text=True, timeout=120, **kw)


def test_the_simulated_windows_is_the_one_that_runs(windows):
    r = run(windows, '-c', 'import harness, os, signal; print(harness.fcntl, harness.msvcrt.LK_NBLCK, '
            'hasattr(os, "sysconf"), hasattr(os, "fchmod"), harness.NOFOLLOW, hasattr(signal, "SIGHUP"), '
            'len(os.supports_dir_fd), open.__name__)', cwd=ROOT)
    assert r.stdout.split() == ['None', '2', 'False', 'False', '0', 'False', '0', 'open_without_proc'], r.stderr


@pytest.mark.parametrize('script', SCRIPTS)
def test_on_windows_a_run_trains_stops_on_ctrl_c_resumes_exactly_refuses_a_second_and_samples(script, windows,
                                                                                             tmp_path):
    args = small_args(script, tmp_path / 'b', '--print_every=20', '--sample_length=30')
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, script), *args, '--max_iters=1000000'], env=windows,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = read_until(proc, 'iter 40, loss')
    second = run(windows, os.path.join(ROOT, script), *args, '--max_iters=10')   # while the first one runs
    proc.send_signal(signal.SIGINT)
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=60)
    assert second.returncode == 1 and second.stderr.strip().endswith(
        'is in use by another run: let it end, or give this one another --checkpoint_path'), second.stderr
    assert proc.returncode == 130 and 'Traceback' not in err, err
    stopped = int(re.search(r'interrupted at iteration (\d+)', err).group(1))
    resumed = run(windows, os.path.join(ROOT, script), *args, f'--max_iters={stopped + 50}', '--resume=True')
    whole = run(windows, os.path.join(ROOT, script), *small_args(script, tmp_path / 'a', '--print_every=20',
                                                                 '--sample_length=30'), f'--max_iters={stopped + 50}')
    assert resumed.returncode == whole.returncode == 0, resumed.stderr + whole.stderr
    assert seen + out + resumed.stdout == whole.stdout
    sample = run(windows, os.path.join(ROOT, script), f'--checkpoint_path={tmp_path / "b" / "out" / "ck.npz"}',
                 '--generate=40', '--prime=the ')
    ends = sample.stdout[43] != '\n'                # a newline unless the sample ends in one
    assert sample.returncode == 0 and sample.stdout.startswith('the ') and len(sample.stdout) == 4 + 40 + ends
    tool = run(windows, os.path.join(ROOT, 'tools', 'loss_table.py'), '--iters=0,20', tmp_path / 'b' / 'out' / 'ck.csv')
    assert tool.returncode == 0 and '| smoothed loss at 20 |' in tool.stdout, tool.stderr


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('field, value', [('chars', ['ab', 'c']), ('n', -1), ('smooth_loss', float('nan'))])
def test_under_python_O_a_damaged_checkpoint_is_still_refused_in_one_line(script, field, value, tmp_path):
    args = small_args(script, tmp_path, '--max_iters=20')
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1')
    assert run(env, '-O', os.path.join(ROOT, script), *args).returncode == 0
    rewrite_record(tmp_path / 'out' / 'ck.npz', **{field: value})
    ck = tmp_path / 'out' / 'ck.npz'
    for extra in (['--generate=20'], ['--resume=True', '--max_iters=30']):
        r = run(env, '-O', os.path.join(ROOT, script), *(args if 'resume' in extra[0] else [f'--checkpoint_path={ck}']),
                *extra)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and r.stdout == '' and 'Traceback' not in r.stderr, r.stderr
        assert lines[-1].startswith(f'{script}: error: {ck} is not a usable') and f'its {field}' in lines[-1]
    assert ck_meta(ck)[field] == value or field == 'smooth_loss', 'the damaged file is left as it was'


TOOLS = sorted(f for f in os.listdir(os.path.join(ROOT, 'tools')) if f.endswith('.py') and f not in ('cli.py', 'loss_log.py'))


@pytest.mark.parametrize('tool', TOOLS + SCRIPTS)
def test_every_tool_and_script_piped_into_head_ends_quietly(tool):
    path = os.path.join(ROOT, tool if tool in SCRIPTS else os.path.join('tools', tool))
    r = subprocess.run(f'"{sys.executable}" "{path}" --help | head -1', shell=True, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.count('\n') == 1 and r.stderr == '', r.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_from_another_folder_a_missing_text_says_where_it_looked_and_a_resume_finds_its_text(script, tmp_path):
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1')
    (tmp_path / 'elsewhere').mkdir()
    r = run(env, os.path.join(ROOT, script), '--max_iters=2', cwd=tmp_path / 'elsewhere')
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1] == (
        f'{script}: error: cannot read input file input.txt ({tmp_path / "elsewhere" / "input.txt"}): '
        'No such file or directory; give --input_file=PATH')
    args = small_args(script, tmp_path / 'a', '--max_iters=20')
    args = ['--input_file=input.txt' if a.startswith('--input_file=') else a for a in args]
    assert run(env, os.path.join(ROOT, script), *args, cwd=tmp_path / 'a').returncode == 0
    ck = tmp_path / 'a' / 'out' / 'ck.npz'
    assert ck_meta(ck)['config']['input_file'] == 'input.txt'
    assert ck_meta(ck)['input_path'] == str(tmp_path / 'a' / 'input.txt')
    r = run(env, os.path.join(ROOT, script), f'--checkpoint_path={ck}', '--resume=True', '--max_iters=30',
            cwd=tmp_path / 'elsewhere')
    assert r.returncode == 0 and 'warning' not in r.stderr and ck_meta(ck)['n'] == 30, r.stderr
    assert ck_meta(ck)['config']['input_file'] == 'input.txt', 'the path as typed stays in the record'


@pytest.mark.parametrize('script', HARNESS)
def test_resume_without_a_value_suggests_resume_true_and_an_empty_text_has_no_symbols(script, tmp_path):
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1')
    r = run(env, os.path.join(ROOT, script), '--resume', cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.strip() == f"{script}: error: expected --resume=True, got '--resume' (see --help)"
    (tmp_path / 'empty.txt').write_text('')
    r = run(env, os.path.join(ROOT, script), '--input_file=empty.txt', f'--checkpoint_path={tmp_path / "ck.npz"}',
            cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and lines[0] == f'{script}: data has 0 characters, 0 unique.', r.stderr
    assert lines[-1].startswith(f'{script}: error: empty.txt has 0 characters')
