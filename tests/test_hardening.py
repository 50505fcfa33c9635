"""What a fault-injection run broke (issue 25), each made to happen: links to a checkpoint, a user's .csv beside
it, a planted temporary file or lock, file modes, a crafted checkpoint, the signals that end a run, Ctrl-C while
NumPy loads, escape sequences, encodings, sampling memory, a text named .npz, a deleted setting, the tools on odd
texts and huge vocabularies."""
import os
import re
import signal
import stat
import subprocess
import sys
import tracemalloc

import pytest

from common import (ROOT, SCRIPTS, HARNESS, assert_clean_error, ck_meta, harness, listing, load_script, load_tool,
                    read_until, rewrite_record, run_in_process, run_main, run_path, run_script, small_args, start_script, trained,
                    with_path, crafted, npy)


@pytest.mark.parametrize('script', HARNESS)
def test_a_link_to_a_live_runs_checkpoint_is_refused_as_the_same_checkpoint(script, tmp_path):
    args = trained(script, tmp_path, '--print_every=50')
    (tmp_path / 'link.npz').symlink_to(tmp_path / 'out' / 'ck.npz')
    first = start_script(script, args + ['--resume=True', '--max_iters=1000000'])
    read_until(first, 'iter 50, loss')
    for extra in (['--resume=True'], []):                      # a resume, and a new run that would rename it
        assert_clean_error(run_script(script, *with_path(args, tmp_path / 'link.npz'), *extra), 'is in use by another')
    first.send_signal(signal.SIGTERM)
    first.stderr.read()
    assert first.wait(timeout=60) == 143 and ck_meta(tmp_path / 'out' / 'ck.npz')['n'] > 50
    assert sorted(os.listdir(tmp_path / 'out')) == ['ck.csv', 'ck.npz'], 'the lock goes with the run'


@pytest.mark.parametrize('script', HARNESS)
def test_a_resume_never_overwrites_a_users_csv_and_repairs_a_log_cut_short(script, tmp_path):
    args = trained(script, tmp_path)
    mine = tmp_path / 'out' / 'mine.npz'
    mine.write_bytes((tmp_path / 'out' / 'ck.npz').read_bytes())
    (tmp_path / 'out' / 'mine.csv').write_text('name,score\nalice,1\n')
    before = listing(tmp_path / 'out')
    r = run_script(script, *with_path(args, mine), '--resume=True', '--max_iters=80')
    assert_clean_error(r, str(tmp_path / 'out' / 'mine.csv'), f"is not {script}'s loss log")
    assert listing(tmp_path / 'out') == before
    (tmp_path / 'out' / 'mine.csv').write_text('iter,smooth_lo')                 # a log cut short by a crash
    r = run_script(script, *with_path(args, mine), '--resume=True', '--max_iters=30')
    rows = (tmp_path / 'out' / 'mine.csv').read_text().splitlines()
    assert r.returncode == 0 and rows[0] == harness.HEADER and rows[1].startswith('0,'), r.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_resuming_through_a_link_writes_the_log_beside_the_real_checkpoint(script, tmp_path):
    args = trained(script, tmp_path / 'real', '--print_every=10')
    (tmp_path / 'link.npz').symlink_to(tmp_path / 'real' / 'out' / 'ck.npz')
    r = run_script(script, *with_path(args, tmp_path / 'link.npz'), '--resume=True', '--max_iters=40')
    rows = (tmp_path / 'real' / 'out' / 'ck.csv').read_text().splitlines()
    assert r.returncode == 0 and [row.split(',')[0] for row in rows[1:]] == ['0', '10', '20', '30'], r.stderr
    assert sorted(os.listdir(tmp_path)) == ['input.txt', 'link.npz', 'real'] or sorted(os.listdir(tmp_path)) == [
        'link.npz', 'real'], os.listdir(tmp_path)


@pytest.mark.parametrize('script', HARNESS)
def test_a_file_planted_where_a_temporary_file_or_the_lock_goes_is_never_written_through(script, tmp_path,
                                                                                        monkeypatch, capsys):
    args = trained(script, tmp_path)
    victim = tmp_path / 'victim.txt'
    victim.write_text('precious')
    before = listing(tmp_path / 'out')
    lock = harness.lock

    def lock_then_plant(run, path, *checks):          # another user plants a link at the next temporary name
        lock(run, path, *checks)
        os.symlink(victim, f'{run.path}.{"00" * 6}.tmp')
    monkeypatch.setattr(harness.os, 'urandom', lambda n: bytes(n))
    monkeypatch.setattr(harness, 'lock', lock_then_plant)
    r = run_in_process(capsys, script, *args, '--resume=True', '--max_iters=25')
    assert_clean_error(r, 'cannot write', 'File exists', 'the previous one is untouched')
    assert victim.read_text() == 'precious' and os.path.islink(tmp_path / 'out' / f'ck.npz.{"00" * 6}.tmp')
    os.remove(tmp_path / 'out' / f'ck.npz.{"00" * 6}.tmp')
    assert listing(tmp_path / 'out') == before
    monkeypatch.undo()
    os.symlink(victim, tmp_path / 'out' / 'ck.npz.lock')          # and a link where the lock goes
    assert_clean_error(run_script(script, *args, '--resume=True', '--max_iters=25'), 'Too many levels')
    assert victim.read_text() == 'precious'


@pytest.mark.parametrize('script', HARNESS)
def test_a_resume_keeps_the_files_modes_and_owners_and_a_new_run_follows_the_umask(script, tmp_path):
    """The owners where this process may change them (as root: a root resume of another user's run)."""
    args = small_args(script, tmp_path, '--max_iters=20')
    r = subprocess.run([sys.executable, os.path.join(ROOT, script), *args], preexec_fn=lambda: os.umask(0o027),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = tmp_path / 'out'
    assert [stat.S_IMODE(os.stat(out / f).st_mode) for f in ('ck.npz', 'ck.csv')] == [0o640, 0o640]
    os.chmod(out / 'ck.npz', 0o600)
    os.chmod(out / 'ck.csv', 0o604)
    owners = {f: (4321, 4322 + i) if os.geteuid() == 0 else (os.getuid(), os.getgid())
              for i, f in enumerate(('ck.npz', 'ck.csv'))}
    for f, (uid, gid) in owners.items():
        os.chown(out / f, uid, gid)
    assert run_script(script, *args, '--resume=True', '--max_iters=30').returncode == 0
    assert [stat.S_IMODE(os.stat(out / f).st_mode) for f in ('ck.npz', 'ck.csv')] == [0o600, 0o604]
    assert {f: (os.stat(out / f).st_uid, os.stat(out / f).st_gid) for f in owners} == owners
    assert ck_meta(out / 'ck.npz')['n'] == 30


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('mode', ['--resume=True', '--generate=20'])
def test_a_crafted_checkpoint_takes_no_more_memory_than_what_it_should_hold(script, mode, tmp_path, capsys):
    """100 MB of compressed zeros under an extra name are never read; a header that claims 10 GB is refused."""
    args = trained(script, tmp_path)
    path = tmp_path / 'out' / 'ck.npz'
    crafted(path, {'junk.npy': npy({'descr': '|u1', 'fortran_order': False, 'shape': (100_000_000,)},
                                   bytes(100_000_000))})
    assert path.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        assert run_in_process(capsys, script, *args, mode, '--max_iters=25').returncode == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 30e6, peak
    crafted(path, {'log.npy': npy({'descr': '|u1', 'fortran_order': False, 'shape': (10**10,)}, b'iter')})
    assert_clean_error(run_in_process(capsys, script, *args, mode, '--max_iters=40'), 'its log is damaged')


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('mode', ['--resume=True', '--generate=20'])
def test_a_checkpoint_is_checked_before_its_arrays_are_read(script, mode, tmp_path, capsys):
    """A record whose size would not fit this machine; a record member claiming 512 MB; a log that is not one."""
    args = [a for a in trained(script, tmp_path) if not a.startswith(('--hidden_size', '--num_layers'))]
    path = tmp_path / 'out' / 'ck.npz'
    good = path.read_bytes()
    rewrite_record(path, config=dict(ck_meta(path)['config'], hidden_size=200000))
    assert_clean_error(run_in_process(capsys, script, *args, mode, '--max_iters=40'), 'GB to train; this machine has')
    path.write_bytes(good)
    crafted(path, {'meta.npy': npy({'descr': '<U134217728', 'fortran_order': False, 'shape': ()}, b'{}')})
    assert_clean_error(run_in_process(capsys, script, *args, mode, '--max_iters=40'), 'its meta is damaged')
    path.write_bytes(good)
    crafted(path, {'log.npy': npy({'descr': '|u1', 'fortran_order': False, 'shape': (19,)}, b'name,score\nalice,1\n')})
    assert_clean_error(run_in_process(capsys, script, *args, mode, '--max_iters=40'), 'its log is damaged')


SAVING_SIGNALS = [signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGXCPU]


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('sig', SAVING_SIGNALS, ids=[s.name for s in SAVING_SIGNALS])
def test_ctrl_backslash_and_a_schedulers_signals_save_the_run_and_exit_128_plus_the_signal(script, sig, tmp_path):
    """Ctrl-C, kill and a closed terminal: test_session.py and test_faults.py, with an exact resume."""
    proc = start_script(script, small_args(script, tmp_path, '--print_every=50', '--max_iters=1000000'))
    read_until(proc, 'iter 50, loss')
    proc.send_signal(sig)
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 128 + sig and 'Traceback' not in err, err
    stopped = int(re.search(r'interrupted at iteration (\d+)', err).group(1))
    assert ck_meta(tmp_path / 'out' / 'ck.npz')['n'] == stopped > 50
    assert sorted(os.listdir(tmp_path / 'out')) == ['ck.csv', 'ck.npz']


def test_ctrl_c_while_numpy_loads_ends_in_silence_with_130(tmp_path):
    """A sitecustomize sends SIGINT to the process as NumPy's import begins."""
    (tmp_path / 'sitecustomize.py').write_text(
        'import builtins, os, signal\nreal = builtins.__import__\n'
        'def hook(name, *a, **k):\n'
        '    if name == "numpy" and not getattr(hook, "done", False):\n'
        '        hook.done = True\n        os.kill(os.getpid(), signal.SIGINT)\n'
        '    return real(name, *a, **k)\nbuiltins.__import__ = hook\n')
    for script in SCRIPTS:
        r = subprocess.run([sys.executable, os.path.join(ROOT, script), '--max_iters=5'], capture_output=True,
                           text=True, env=dict(os.environ, PYTHONPATH=str(tmp_path)), cwd=tmp_path,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))   # as in a terminal
        assert (r.returncode, r.stdout, r.stderr) == (130, '', ''), r.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_strings_from_a_crafted_record_or_a_path_reach_the_terminal_escaped(script, tmp_path, capsys):
    args = trained(script, tmp_path)
    rewrite_record(tmp_path / 'out' / 'ck.npz', script='x\x1b[2J\x07')
    r = run_in_process(capsys, script, *args, '--resume=True', '--max_iters=30')
    assert_clean_error(r, 'it was written by x\\x1b[2J\\x07')
    assert '\x1b' not in r.stderr and '\x07' not in r.stderr
    r = run_in_process(capsys, script, *with_path(args, tmp_path / 'a\x1b]0;owned\x07.npz'), '--generate=5')
    assert_clean_error(r, 'no checkpoint at', 'a\\x1b]0;owned\\x07.npz')
    assert '\x1b' not in r.stderr
    rewrite_record(tmp_path / 'out' / 'ck.npz', script=script, config=dict(
        ck_meta(tmp_path / 'out' / 'ck.npz')['config'], input_file='in\x1b[2J.txt'))
    r = run_in_process(capsys, script, *args, '--generate=5')               # a note, not an error
    assert r.returncode == 0 and '(trained on in\\x1b[2J.txt)' in r.stderr and '\x1b' not in r.stderr, r.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_sampling_what_stdout_cannot_encode_writes_escapes_not_a_traceback(script, tmp_path):
    args = trained(script, tmp_path, text='caf\xe9 au lait, ' * 30)
    r = subprocess.run([sys.executable, os.path.join(ROOT, script), *args, '--generate=300', '--temperature=5'],
                       capture_output=True, env=dict(os.environ, PYTHONIOENCODING='ascii'))
    assert r.returncode == 0 and b'Traceback' not in r.stderr and b'\\xe9' in r.stdout, r.stderr
    chars = ck_meta(tmp_path / 'out' / 'ck.npz')['chars']
    rewrite_record(tmp_path / 'out' / 'ck.npz', chars=[c if c != '\xe9' else '\udc80' for c in chars])
    r = run_script(script, *args, '--generate=300', '--temperature=5')
    assert r.returncode == 0 and 'Traceback' not in r.stderr and '\\udc80' in r.stdout, r.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_generating_from_a_huge_vocabulary_takes_little_memory(script, tmp_path, capsys):
    """20,000 symbols: the noise for 3,000 characters at once would be 480 MB."""
    text = ''.join(chr(0x4E00 + i) for i in range(20000)) * 2
    args = small_args(script, tmp_path, '--hidden_size=4', '--max_iters=2', '--sample_length=5', text=text)
    run_main(load_script(script), args)
    tracemalloc.start()
    try:
        r = run_in_process(capsys, script, *args, '--generate=3000')
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.returncode == 0 and len(r.stdout) == 3001 and peak < 100e6, peak


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('content', [b'this is text, not a checkpoint\n', b'PK\x03\x04 cut short'])
def test_a_file_that_is_not_a_checkpoint_is_named_so_and_nothing_advises_unpickling(script, content, tmp_path,
                                                                                      capsys):
    args = small_args(script, tmp_path)
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'ck.npz').write_bytes(content)
    for mode in ('--generate=5', '--resume=True'):
        r = run_in_process(capsys, script, *args, mode)
        assert_clean_error(r, f'is not a usable {script} checkpoint')
        assert 'pickle' not in r.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_a_setting_deleted_from_the_top_is_one_line_that_names_it(script, tmp_path):
    sources = {f: open(os.path.join(ROOT, f), encoding='utf-8').read() for f in (script, 'harness.py')}
    for name in ['clip', 'checkpoint_every', 'eval_every'] + (['num_layers'] if script == 'rnn3.py' else []):
        where = 'harness.py' if name == 'eval_every' else script   # the run options sit at the top of harness.py
        (tmp_path / name).mkdir()
        for f, source in sources.items():
            (tmp_path / name / f).write_text(re.sub(rf'^{name} = .*\n', '', source, count=1, flags=re.M) if f == where
                                             else source, encoding='utf-8')
        r = run_path(tmp_path / name / script, *small_args(script, tmp_path, '--max_iters=5'))
        assert_clean_error(r, f'the setting {name} is missing from the block at the top of {where}')


def test_the_tools_work_from_any_folder_and_load_a_model_quietly(tmp_path):
    """A model trained in the repository's folder on its input.txt (a relative path), read from elsewhere."""
    ck = tmp_path / 'ck.npz'
    r = subprocess.run([sys.executable, 'min_char_rnn.py', '--max_iters=3', '--hidden_size=8', f'--checkpoint_path={ck}'],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and ck_meta(ck)['config']['input_file'] == 'input.txt', r.stderr
    (tmp_path / 'elsewhere').mkdir()
    for tool, extra in (('inspect_text.py', ['--chars=200', '--out=p.html']), ('gradient_reach.py', ['--k=3'])):
        r = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', tool), str(ck), *extra], capture_output=True,
                           text=True, cwd=tmp_path / 'elsewhere')
        assert r.returncode == 0 and r.stderr == '' and 'iteration 3' in r.stdout, (tool, r.stderr)


def test_the_tools_refuse_a_text_too_short_to_predict_in_one_line(tmp_path):
    args = trained('min_char_rnn.py', tmp_path)
    ck = [a for a in args if a.startswith('--checkpoint_path=')][0].split('=', 1)[1]
    for text in ('', 'a'):
        (tmp_path / 'short.txt').write_text(text)
        for tool in ('inspect_text.py', 'gradient_reach.py'):
            extra = ['short.txt'] if tool == 'inspect_text.py' else ['--text=short.txt']
            r = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', tool), ck, *extra], capture_output=True,
                               text=True, cwd=tmp_path)
            assert r.returncode == 1 and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr, r.stderr
            assert f'has {len(text)} characters here' in r.stderr and 'Warning' not in r.stderr


@pytest.mark.parametrize('tool, extra', [('inspect_text.py', ['--chars=5000']),
                                         ('gradient_reach.py', ['--chars=10000', '--k=5', '--positions=50'])])
def test_the_tools_read_a_huge_vocabularys_text_in_pieces(tool, extra, tmp_path, capsys, monkeypatch):
    """20,000 symbols: p_t for every character at once would take 800 MB (inspect_text) or 1.6 GB."""
    text = ''.join(chr(0x4E00 + i) for i in range(20000)) * 2
    args = small_args('min_char_rnn.py', tmp_path, '--hidden_size=4', '--max_iters=2', '--sample_length=5', text=text)
    run_main(load_script('min_char_rnn.py'), args)
    monkeypatch.chdir(tmp_path)
    t = load_tool(tool)
    tracemalloc.start()
    try:
        t.main([str(tmp_path / 'out' / 'ck.npz'), *extra, f'--out={tmp_path / "page.html"}'] if tool[0] == 'i'
               else [str(tmp_path / 'out' / 'ck.npz'), *extra])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6, peak
