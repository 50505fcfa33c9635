"""Where learners run the scripts: Windows (simulated here: a Python without fcntl, the POSIX-only signals,
os.sysconf, os.fchmod and os.O_NOFOLLOW, with an msvcrt whose locking is the real lock), and python -O."""
import os
import re
import signal
import subprocess
import sys

import pytest

from common import ROOT, SCRIPTS, ck_meta, rewrite_record, small_args

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
for name in ('sysconf', 'fchmod', 'O_NOFOLLOW'):
    delattr(os, name)
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
            'hasattr(os, "sysconf"), hasattr(os, "fchmod"), harness.NOFOLLOW, hasattr(signal, "SIGHUP"))', cwd=ROOT)
    assert r.stdout.split() == ['None', '2', 'False', 'False', '0', 'False'], r.stderr


@pytest.mark.parametrize('script', SCRIPTS)
def test_on_windows_a_run_trains_stops_on_ctrl_c_resumes_exactly_refuses_a_second_and_samples(script, windows,
                                                                                             tmp_path):
    args = small_args(script, tmp_path / 'b', '--print_every=20', '--sample_length=30')
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, script), *args, '--max_iters=1000000'], env=windows,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ''
    while 'iter 40, loss' not in seen:
        seen += proc.stdout.readline()
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
    assert sample.returncode == 0 and sample.stdout.startswith('the ') and len(sample.stdout) == 4 + 40 + 1
    tool = run(windows, os.path.join(ROOT, 'tools', 'loss_table.py'), '--iters=0,20', tmp_path / 'b' / 'out' / 'ck.csv')
    assert tool.returncode == 0 and '| smoothed loss at 20 |' in tool.stdout, tool.stderr


@pytest.mark.parametrize('script', SCRIPTS)
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
