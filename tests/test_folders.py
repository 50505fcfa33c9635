"""A run's files against what happens to them around it (issue 32): its folder moved or removed mid-run, names
too long for the folder, a hard link, the earlier run's pair kept aside in two steps, names already taken, a
dangling link, glob characters in a path, the lock removed while held."""
import fcntl
import os
import shutil
import signal
import subprocess
import sys

import pytest

from common import (ROOT, HARNESS, assert_clean_error, ck_meta, harness, listing, load_script, read_until,
                    run_in_process, run_main, run_script, small_args, start_script, write_text)


def started(script, args, line='iter 20, loss'):
    """A run started with args, once it has printed line (a state, not a time)."""
    proc = start_script(script, args)
    read_until(proc, line)
    return proc


@pytest.mark.parametrize('script', HARNESS)
def test_a_run_whose_folder_is_moved_saves_in_it_where_it_is_now_and_a_new_run_at_the_old_name_keeps_its_own(
        script, tmp_path):
    args = small_args(script, tmp_path, '--print_every=20', '--checkpoint_every=1000000')
    first = started(script, [*args, '--max_iters=1000000'])
    os.rename(tmp_path / 'out', tmp_path / 'moved')             # the lock moves with the folder
    second = run_script(script, *args, '--max_iters=30', '--seed=7')
    first.send_signal(signal.SIGINT)
    err = first.stderr.read()
    assert first.wait(timeout=60) == 130 and second.returncode == 0, err + second.stderr
    moved = str(tmp_path / 'moved' / 'ck.npz')
    assert f'was moved or removed: this run saves as {moved}' in err, err
    assert err.strip().splitlines()[-1].endswith(f'saved {moved}; continue with --resume=True --checkpoint_path={moved}')
    ours, theirs = ck_meta(moved), ck_meta(tmp_path / 'out' / 'ck.npz')
    assert (ours['config']['seed'], theirs['config']['seed'], theirs['n']) == (1337, 7, 30) and ours['n'] > 20
    assert sorted(os.listdir(tmp_path / 'moved')) == sorted(os.listdir(tmp_path / 'out')) == ['ck.csv', 'ck.npz']
    resumed = run_script(script, *args, f'--checkpoint_path={moved}', '--resume=True', f'--max_iters={ours["n"] + 5}')
    assert resumed.returncode == 0 and f'resuming {moved} at iteration {ours["n"]}' in resumed.stderr, resumed.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_a_run_whose_folder_is_removed_saves_in_a_new_one_under_new_names_never_over_a_new_runs(script, tmp_path):
    args = small_args(script, tmp_path, '--print_every=20', '--checkpoint_every=1000000')
    first = started(script, [*args, '--max_iters=1000000'])
    shutil.rmtree(tmp_path / 'out')
    second = run_script(script, *args, '--max_iters=30', '--seed=7')
    first.send_signal(signal.SIGINT)
    err = first.stderr.read()
    assert first.wait(timeout=60) == 130 and second.returncode == 0, err + second.stderr
    rescued = tmp_path / 'out' / f'ck.pid{first.pid}.npz'
    assert f'this run saves as {rescued}' in err and 'Traceback' not in err, err
    assert sorted(os.listdir(tmp_path / 'out')) == sorted(['ck.csv', 'ck.npz', rescued.name, f'ck.pid{first.pid}.csv'])
    assert ck_meta(tmp_path / 'out' / 'ck.npz')['config']['seed'] == 7 and ck_meta(rescued)['config']['seed'] == 1337
    assert ck_meta(rescued)['config']['checkpoint_path'] == str(rescued)   # its record names where it is


@pytest.mark.parametrize('script', HARNESS)
def test_a_save_that_fails_says_the_previous_checkpoint_is_untouched_only_if_it_is_there(script, tmp_path, capsys,
                                                                                         monkeypatch):
    """The write fails (a full disk) after the folder's files were deleted: nothing is saved, and it says so."""
    args = small_args(script, tmp_path, '--max_iters=40', '--print_every=20')
    m, real = load_script(script), os.replace

    def full_after_the_files_went(src, dst, **kw):
        if str(dst).endswith('ck.npz') and (tmp_path / 'out' / 'ck.npz').exists():
            os.remove(tmp_path / 'out' / 'ck.npz')
            raise OSError(28, 'No space left on device')
        return real(src, dst, **kw)
    run_main(m, args)
    monkeypatch.setattr(harness.os, 'replace', full_after_the_files_went)
    r = run_in_process(capsys, script, *args, '--resume=True', '--max_iters=60')
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].endswith(
        'ck.npz: No space left on device; nothing is saved'), r.stderr


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('stem', ['x' * 235, 'x' * 228, '\u00e4' * 118])
def test_a_checkpoint_name_the_folder_cannot_hold_with_the_runs_suffixes_is_refused_before_training(script, stem,
                                                                                                    tmp_path):
    """255 bytes a name: the temporary files add 18, the names an earlier run is kept under about 30."""
    args = small_args(script, tmp_path, '--max_iters=3')
    r = run_script(script, *args, f'--checkpoint_path={tmp_path / "out" / (stem + ".npz")}')
    assert_clean_error(r, 'File name too long', 'give a shorter --checkpoint_path')
    assert 'data has' not in r.stderr and sorted(os.listdir(tmp_path / 'out')) == []   # nothing trained, nothing left
    fits = run_script(script, *args, f'--checkpoint_path={tmp_path / "out" / (stem[:100] + ".npz")}')
    again = run_script(script, *args, f'--checkpoint_path={tmp_path / "out" / (stem[:100] + ".npz")}')
    assert fits.returncode == again.returncode == 0 and 'earlier run kept as' in again.stderr, again.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_a_checkpoint_with_a_hard_link_is_not_resumed_and_nothing_changes(script, tmp_path):
    args = small_args(script, tmp_path, '--max_iters=10')
    assert run_script(script, *args).returncode == 0
    os.link(tmp_path / 'out' / 'ck.npz', tmp_path / 'out' / 'b.npz')
    before = (tmp_path / 'out' / 'ck.npz').read_bytes()
    for name in ('ck.npz', 'b.npz'):
        r = run_script(script, *args[:-1], f'--checkpoint_path={tmp_path / "out" / name}', '--resume=True',
                       '--max_iters=20')
        assert_clean_error(r, f'out/{name} has another name (a hard link): copy it (cp) and resume the copy')
    assert (tmp_path / 'out' / 'b.npz').read_bytes() == before and os.stat(tmp_path / 'out' / 'b.npz').st_nlink == 2
    shutil.copy(tmp_path / 'out' / 'b.npz', tmp_path / 'out' / 'c.npz')
    r = run_script(script, *args[:-1], f'--checkpoint_path={tmp_path / "out" / "c.npz"}', '--resume=True',
                   '--max_iters=20')
    assert r.returncode == 0 and ck_meta(tmp_path / 'out' / 'c.npz')['n'] == 20, r.stderr


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('name', ['ck.npz', 'ck.csv'])
def test_a_checkpoint_or_log_with_a_file_mounted_at_its_name_is_refused_before_training(script, name, tmp_path):
    args = small_args(script, tmp_path, '--max_iters=10')
    assert run_script(script, *args).returncode == 0
    other, at = tmp_path / 'other', tmp_path / 'out' / name
    shutil.copy(at, other)
    if os.geteuid() != 0 or subprocess.run(['mount', '--bind', str(other), str(at)], capture_output=True).returncode:
        pytest.skip('needs root and mount --bind')
    try:
        before = listing(tmp_path / 'out')
        for resume in ('--resume=True', '--resume=False'):     # a save replaces it; a new run renames it
            r = run_script(script, *args[:-1], resume, '--max_iters=20')
            assert_clean_error(r, f'{at} is a mount point, which a save cannot replace: umount it first')
            assert 'data has' not in r.stderr                  # before training
        assert listing(tmp_path / 'out') == before
    finally:
        subprocess.run(['umount', str(at)], check=True)
    r = run_script(script, *args[:-1], '--resume=True', '--max_iters=20')   # unmounted: it resumes
    assert r.returncode == 0 and ck_meta(tmp_path / 'out' / 'ck.npz')['n'] == 20, r.stderr


KILL_AT_SECOND_RENAME = '''import os, signal
rename, calls = os.rename, []
def dies_between(src, dst, *a, **k):
    calls.append(src)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return rename(src, dst, *a, **k)
os.rename = dies_between
'''


@pytest.mark.parametrize('script', HARNESS)
def test_a_kill_between_keeping_the_log_and_the_checkpoint_aside_leaves_a_run_that_resumes_and_a_pair_kept_together(
        script, tmp_path):
    args = small_args(script, tmp_path, '--max_iters=10')
    assert run_script(script, *args).returncode == 0
    (tmp_path / 'site').mkdir()
    (tmp_path / 'site' / 'sitecustomize.py').write_text(KILL_AT_SECOND_RENAME)
    env = dict(os.environ, PYTHONPATH=str(tmp_path / 'site'), OPENBLAS_NUM_THREADS='1')
    killed = subprocess.run([sys.executable, os.path.join(ROOT, script), *args], env=env, capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    kept_log = [f for f in os.listdir(tmp_path / 'out') if f.startswith('ck.iter10-')]
    assert len(kept_log) == 1 and kept_log[0].endswith('.csv') and (tmp_path / 'out' / 'ck.npz').exists()
    shutil.copytree(tmp_path / 'out', tmp_path / 'copy')
    resumed = run_script(script, *args[:-1], '--max_iters=15', '--resume=True',   # the checkpoint holds its log
                         f'--checkpoint_path={tmp_path / "copy" / "ck.npz"}')
    assert resumed.returncode == 0 and ck_meta(tmp_path / 'copy' / 'ck.npz')['n'] == 15, resumed.stderr
    new = run_script(script, *args)                              # or a new run keeps the pair together
    kept = kept_log[0][:-len('.csv')] + '.npz'
    assert new.returncode == 0 and f'kept as {tmp_path / "out" / kept}' in new.stderr, new.stderr
    assert sorted(os.listdir(tmp_path / 'out')) == sorted(['ck.csv', 'ck.npz', kept_log[0], kept])
    assert ck_meta(tmp_path / 'out' / kept)['n'] == 10


@pytest.mark.parametrize('script', HARNESS)
def test_a_new_run_never_overwrites_an_older_kept_file_at_one_of_the_two_names_it_would_keep_its_pair_under(
        script, tmp_path, capsys):
    args = small_args(script, tmp_path, '--max_iters=10')
    run_in_process(capsys, script, *args)
    stamp = harness.time.strftime('%Y%m%d-%H%M%S', harness.time.localtime(os.path.getmtime(tmp_path / 'out' /
                                                                                              'ck.npz')))
    older = tmp_path / 'out' / f'ck.iter10-{stamp}.csv'
    older.write_text('an older run\n')
    r = run_in_process(capsys, script, *args)
    assert r.returncode == 0 and older.read_text() == 'an older run\n', r.stderr
    assert f'kept as {tmp_path / "out"}/ck.iter10-{stamp}-1.npz and ' in r.stderr, r.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_a_dangling_link_at_the_logs_name_is_kept_aside_as_an_earlier_runs_file(script, tmp_path, capsys):
    args = small_args(script, tmp_path, '--max_iters=10')
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'ck.csv').symlink_to(tmp_path / 'nowhere')
    r = run_in_process(capsys, script, *args)
    kept = [f for f in os.listdir(tmp_path / 'out') if f not in ('ck.npz', 'ck.csv')]
    assert r.returncode == 0 and len(kept) == 1 and kept[0].endswith('.csv'), r.stderr
    assert os.readlink(tmp_path / 'out' / kept[0]) == str(tmp_path / 'nowhere') and not (tmp_path / 'nowhere').exists()


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('resume', ['False', 'True'])
def test_a_dangling_link_at_the_checkpoints_name_is_refused_and_stays(script, resume, tmp_path):
    args = small_args(script, tmp_path, '--max_iters=10', f'--resume={resume}')
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'ck.npz').symlink_to(tmp_path / 'nowhere.npz')
    r = run_script(script, *args)
    assert_clean_error(r, f'ck.npz is a link to nothing ({tmp_path / "nowhere.npz"}): remove it')
    assert os.listdir(tmp_path / 'out') == ['ck.npz'] and not (tmp_path / 'nowhere.npz').exists()


@pytest.mark.parametrize('script', HARNESS)
def test_a_killed_runs_temporary_files_go_at_the_next_start_even_under_glob_characters_and_no_other_file(
        script, tmp_path, capsys):
    folder = tmp_path / 'a[b]*?'
    args = [f'--input_file={write_text(tmp_path)}', '--hidden_size=8', f'--checkpoint_path={folder / "c[1].npz"}',
            '--max_iters=5']
    folder.mkdir()
    left = [folder / 'c[1].npz.0a1b2c3d4e5f.tmp', folder / 'c[1].csv.0a1b2c3d4e5f.tmp']   # a killed run's
    others = [folder / 'c1.npz.0a1b2c3d4e5f.tmp', folder / 'c[1].npz.tmp', folder / 'x.csv.0a1b2c3d4e5f.tmp']
    for f in left + others:
        f.write_text('')
    r = run_in_process(capsys, script, *args)
    assert r.returncode == 0, r.stderr
    assert not any(f.exists() for f in left) and all(f.exists() for f in others)


def locked_elsewhere(fd):
    """Whether another open file description holds the flock of the lock file open as fd."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def test_the_lock_file_is_removed_while_the_lock_is_still_held(tmp_path, capsys, monkeypatch):
    """A run starting at that instant finds either a held lock or no file: never a file it can lock that the
    ending run then removes from under it."""
    held_at_removal, remove = [], os.remove

    def remove_seeing_the_lock(path, *a, **k):
        if str(path).endswith('.lock'):
            fd = os.open(path, os.O_RDWR)
            held_at_removal.append(locked_elsewhere(fd))
            os.close(fd)
        return remove(path, *a, **k)
    monkeypatch.setattr(harness.os, 'remove', remove_seeing_the_lock)
    r = run_in_process(capsys, 'min_char_rnn.py', *small_args('min_char_rnn.py', tmp_path, '--max_iters=3'))
    assert r.returncode == 0 and held_at_removal == [True] and not (tmp_path / 'out' / 'ck.npz.lock').exists()
