"""The traps of issue 17, each closed: a second terminal, bad checkpoint paths, sampling options without
sampling, a finished run, hang-up, full disk, kill -9 mid-save, edited records and settings, a huge vocabulary."""
import hashlib
import os
import pty
import shutil
import signal
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from common import (ROOT, SCRIPTS, HARNESS, TEXT, assert_clean_error, ck_meta, edited_script, listing, load_script, rewrite_record,
                    read_until, run_main, run_path, run_in_process, run_script, small_args, start_script, without_elapsed, write_text)


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_second_run_on_a_path_a_live_run_holds_is_refused_and_the_first_is_untouched(script, tmp_path):
    args = small_args(script, tmp_path, '--print_every=50', '--max_iters=1000000')
    first = start_script(script, args)
    read_until(first, 'iter 50, loss')
    second = run_script(script, *args)
    assert_clean_error(second, str(tmp_path / 'out' / 'ck.npz'), 'is in use by another run')
    also = run_script(script, *args, '--resume=True')              # resuming it is refused as well
    assert_clean_error(also, 'is in use by another run')
    first.send_signal(signal.SIGTERM)
    err = first.stderr.read()
    assert first.wait(timeout=60) == 143 and 'earlier run kept' not in err, err
    assert sorted(os.listdir(tmp_path / 'out')) == ['ck.csv', 'ck.npz']
    assert ck_meta(tmp_path / 'out' / 'ck.npz')['n'] > 50
    assert run_script(script, *args[:-1], '--max_iters=5').returncode == 0, 'the lock goes with the run'


BAD_PATHS = ['out', 'out/', '.', 'input.txt', 'SCRIPT', 'out/ck.csv', 'out/ck.npz/']


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('path', BAD_PATHS)
def test_a_checkpoint_path_that_is_not_a_npz_file_is_refused_and_nothing_is_renamed(script, path, tmp_path, capsys):
    shutil.copy(os.path.join(ROOT, script), tmp_path / script)
    write_text(tmp_path)
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'ck.npz').mkdir() if path == 'out/ck.npz/' else (tmp_path / 'out' / 'ck.csv').write_text('x')
    before = listing(tmp_path)
    r = run_in_process(capsys, script, '--max_iters=5', f"--checkpoint_path={path.replace('SCRIPT', script)}", cwd=tmp_path)
    assert_clean_error(r, 'must be a file name ending in .npz')
    assert listing(tmp_path) == before


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('which', ['ck.npz', 'ck.csv'])
def test_a_new_run_renames_only_this_scripts_own_checkpoint_and_log(script, which, tmp_path):
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / which).write_bytes(b'somebody else\'s file\n')
    r = run_script(script, *small_args(script, tmp_path, '--max_iters=5'))
    assert_clean_error(r, str(tmp_path / 'out' / which))
    assert os.listdir(tmp_path / 'out') == [which] and (tmp_path / 'out' / which).read_bytes() == b'somebody else\'s file\n'


@pytest.mark.parametrize('script', HARNESS)
def test_a_symlinked_checkpoint_stays_a_link_and_its_target_is_updated(script, tmp_path):
    args = small_args(script, tmp_path / 'real', '--max_iters=20')
    assert run_script(script, *args).returncode == 0
    (tmp_path / 'link.npz').symlink_to(tmp_path / 'real' / 'out' / 'ck.npz')
    linked = [a for a in args if not a.startswith('--checkpoint_path')] + [f'--checkpoint_path={tmp_path / "link.npz"}']
    r = run_script(script, *linked, '--resume=True', '--max_iters=30')
    assert r.returncode == 0, r.stderr
    assert os.path.islink(tmp_path / 'link.npz') and ck_meta(tmp_path / 'real' / 'out' / 'ck.npz')['n'] == 30


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('args, message', [
    (['--prime=ROMEO:', '--temperature=0.8'], '--prime and --temperature are for sampling a saved model'),
    (['--temperature=0.5'], 'add --generate=N or --lines=K'),
    (['--top_k=3'], '--top_k is for sampling a saved model'),
    (['--prime_file=p.txt', '--top_k=2'], '--prime_file and --top_k are for sampling a saved model'),
    (['--resume=True', '--generate=10'], '--resume=True trains, --generate and --lines sample')])
def test_sampling_options_without_sampling_are_refused_and_the_trained_model_stays(script, args, message, tmp_path,
                                                                                    capsys):
    assert run_in_process(capsys, script, *small_args(script, tmp_path, '--max_iters=20')).returncode == 0
    before = listing(tmp_path / 'out')
    assert_clean_error(run_in_process(capsys, script, *small_args(script, tmp_path), *args), message)
    assert listing(tmp_path / 'out') == before


@pytest.mark.parametrize('script', HARNESS)
def test_resuming_a_finished_run_says_so_and_how_to_go_on(script, tmp_path):
    args = small_args(script, tmp_path, '--max_iters=20')
    assert run_script(script, *args).returncode == 0
    before = listing(tmp_path / 'out')
    assert_clean_error(run_script(script, *args, '--resume=True'), 'is a finished run (iteration 20, max_iters=20)',
                       '--resume=True --max_iters=40')
    assert listing(tmp_path / 'out') == before


@pytest.mark.parametrize('script', SCRIPTS)
def test_closing_the_terminal_saves_the_run_and_it_resumes_exactly(script, tmp_path):
    """The run's terminal is a pseudo-terminal; closing it sends SIGHUP and makes every later write fail."""
    extra = ['--print_every=50', '--sample_length=40']
    parent, child = pty.openpty()

    def own_terminal():
        os.setsid()
        import fcntl
        import termios
        fcntl.ioctl(child, termios.TIOCSCTTY, 0)
    env = dict(os.environ, OPENBLAS_NUM_THREADS='1')
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, script), *small_args(script, tmp_path / 'b', *extra),
                             '--max_iters=1000000'], stdin=child, stdout=child, stderr=child, preexec_fn=own_terminal,
                            env=env)
    os.close(child)
    seen = b''
    while b'iter 100, loss' not in seen:
        seen += os.read(parent, 4096)
    os.close(parent)                                          # the terminal window is closed
    assert proc.wait(timeout=60) == 128 + signal.SIGHUP
    stopped = ck_meta(tmp_path / 'b' / 'out' / 'ck.npz')['n']
    assert stopped > 100
    resumed = run_script(script, *small_args(script, tmp_path / 'b', *extra), f'--max_iters={stopped + 60}', '--resume=True')
    whole = run_script(script, *small_args(script, tmp_path / 'a', *extra), f'--max_iters={stopped + 60}')
    assert resumed.returncode == 0 and resumed.stdout and whole.stdout.endswith(resumed.stdout)


@pytest.mark.parametrize('script', HARNESS)
def test_sampling_a_model_whose_text_has_no_newline_starts_from_its_first_symbol(script, tmp_path):
    args = small_args(script, tmp_path, '--max_iters=30', text='abcdefghij' * 9)
    assert run_script(script, *args).returncode == 0
    r = run_script(script, *args, '--generate=25')
    assert r.returncode == 0 and len(r.stdout) == 26 and set(r.stdout[:-1]) <= set('abcdefghij') and r.stdout[-1] == '\n'


@pytest.mark.parametrize('script', SCRIPTS)
def test_a_per_line_model_samples_names_with_generate_as_with_lines(script, tmp_path):
    names = 'helium\nneon\nargon\nkrypton\nxenon\nradon\n'
    args = small_args(script, tmp_path, '--per_line=True', '--max_iters=300', '--learning_rate=0.1', text=names)
    assert run_script(script, *args).returncode == 0
    lines, gen = run_script(script, *args, '--lines=30').stdout, run_script(script, *args, '--generate=60').stdout
    assert gen == lines[:60] + '\n' and lines.count('\n') == 30


def mounted_tmpfs(path, size):
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size}', 'tmpfs', str(path)],
                                           capture_output=True).returncode:
        pytest.skip('needs root and a tmpfs mount')


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('full', ['up to the last byte', 'up to the last page'])
def test_a_full_disk_ends_the_run_in_one_line_and_the_last_checkpoint_is_whole(script, full, tmp_path):
    disk = tmp_path / 'disk'
    mounted_tmpfs(disk, '1m')
    try:
        args = small_args(script, disk, '--max_iters=20', '--print_every=10')
        assert run_script(script, *args).returncode == 0
        before = listing(disk / 'out')
        filler = open(disk / 'filler', 'wb', buffering=0)
        try:
            while True:
                filler.write(b'x' * (4096 if full == 'up to the last page' else 1))
        except OSError:
            pass
        r = run_script(script, *args, '--resume=True', '--max_iters=40', '--checkpoint_every=5')
        assert_clean_error(r, 'No space left on device', 'the previous one is untouched')
        assert listing(disk / 'out') == before
        filler.close()
        os.remove(disk / 'filler')
        assert run_script(script, *args, '--resume=True', '--max_iters=40').returncode == 0
    finally:
        subprocess.run(['umount', '-l', str(disk)])


@pytest.mark.parametrize('script', SCRIPTS)
def test_kill_9_while_saving_leaves_a_whole_checkpoint_and_the_run_resumes(script, tmp_path):
    """Each kill lands while a checkpoint or log is being written: once a temporary file of the run's is seen."""
    args = small_args(script, tmp_path, '--checkpoint_every=1', '--print_every=100000', '--hidden_size=64')
    out, n = tmp_path / 'out', 0
    for k in range(3):
        proc = start_script(script, args + ['--max_iters=1000000'] + (['--resume=True'] if k else []))
        while not (out / 'ck.npz').exists() or ck_meta(out / 'ck.npz')['n'] <= n + 1:   # this run has saved
            pass
        while not any(f.endswith('.tmp') for f in os.listdir(out)):                      # and saves again
            pass
        proc.kill()
        proc.wait()
        assert ck_meta(out / 'ck.npz')['n'] > n
        n = ck_meta(out / 'ck.npz')['n']
    r = run_script(script, *args, '--resume=True', f'--max_iters={n + 3}')
    assert r.returncode == 0, r.stderr
    assert not list((tmp_path / 'out').glob('*.tmp')) and sorted(os.listdir(tmp_path / 'out')) == ['ck.csv', 'ck.npz']


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('field, value', [('n', -1), ('n', 2.5), ('p', 'x'), ('smooth_loss', None), ('rng', {'a': 1}),
                                          ('smooth_loss', float('nan')), ('elapsed', float('inf')),
                                          ('chars', ['ab']), ('config', {'hidden_size': 'big'})])
def test_a_damaged_checkpoint_record_is_one_line_error(script, field, value, tmp_path, capsys):
    args = small_args(script, tmp_path, '--max_iters=20')
    assert run_in_process(capsys, script, *args).returncode == 0
    rewrite_record(tmp_path / 'out' / 'ck.npz', **{field: value})
    r = run_in_process(capsys, script, *args, '--resume=True', '--max_iters=30')
    assert_clean_error(r, str(tmp_path / 'out' / 'ck.npz'))


@pytest.mark.parametrize('script', HARNESS)
def test_resume_cuts_the_log_exactly_keeps_the_final_held_out_row_and_says_so(script, tmp_path):
    args = small_args(script, tmp_path, '--print_every=50', '--val_fraction=0.1', '--eval_every=100')
    assert run_script(script, *args, '--max_iters=120').returncode == 0         # final held-out row at 120
    log = tmp_path / 'out' / 'ck.csv'
    rows = log.read_text().splitlines()
    assert [r.split(',')[0] for r in rows] == ['iter', '0', '50', '100', '120'] and rows[-1].split(',')[3]
    with open(log, 'a') as f:
        f.write('150,1,1,,1\n2')                                 # rows past the checkpoint: a whole one (counted), one cut short
    r = run_script(script, *args, '--max_iters=200', '--resume=True')
    assert r.returncode == 0 and '1 rows written after its checkpoint (iteration 120) are dropped' in r.stderr, r.stderr
    assert [row.split(',')[0] for row in log.read_text().splitlines()] == ['iter', '0', '50', '100', '120', '150', '200']
    assert log.read_text().splitlines()[:5] == rows


@pytest.mark.parametrize('script', HARNESS)
def test_resuming_on_a_changed_text_with_the_same_vocabulary_is_reported(script, tmp_path):
    args = small_args(script, tmp_path, '--max_iters=20')
    assert run_script(script, *args).returncode == 0
    write_text(tmp_path, TEXT[::-1])
    r = run_script(script, *args, '--resume=True', '--max_iters=25')
    assert r.returncode == 0 and 'is not the text' in r.stderr and 'was trained on' in r.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_the_record_holds_the_hash_of_the_whole_text_and_a_changed_first_character_is_reported(script, tmp_path):
    args = small_args(script, tmp_path, '--max_iters=20')
    assert run_script(script, *args).returncode == 0
    codes = np.array([sorted(set(TEXT)).index(ch) for ch in TEXT], np.int32)
    assert ck_meta(tmp_path / 'out' / 'ck.npz')['text_sha256'] == hashlib.sha256(codes.tobytes()).hexdigest()
    write_text(tmp_path, 'q' + TEXT[1:])
    r = run_script(script, *args, '--resume=True', '--max_iters=25')
    assert r.returncode == 0 and 'is not the text' in r.stderr, r.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_a_new_runs_weights_are_its_seeds_randn_times_0_01(script, tmp_path):
    """One iteration at a learning rate of 1e-12 leaves the weights as the seed drew them (Adagrad's step is at
    most the learning rate)."""
    args = small_args(script, tmp_path, '--max_iters=1', '--learning_rate=1e-12', '--dtype=float64', '--seed=7')
    assert run_script(script, *args).returncode == 0
    with np.load(tmp_path / 'out' / 'ck.npz', allow_pickle=False) as ck:
        first = ck['Wxh']
    np.testing.assert_allclose(first, np.random.default_rng(7).standard_normal(first.shape) * 0.01, atol=1e-11)


@pytest.mark.parametrize('script', HARNESS)
def test_a_checkpoint_that_has_no_text_hash_resumes_on_another_text_without_a_warning(script, tmp_path):
    """A checkpoint written before the text's hash was kept in it cannot tell: nothing is said."""
    args = small_args(script, tmp_path, '--max_iters=20')
    assert run_script(script, *args).returncode == 0
    rewrite_record(tmp_path / 'out' / 'ck.npz', text_sha256=None)
    write_text(tmp_path, TEXT[::-1])
    r = run_script(script, *args, '--resume=True', '--max_iters=25')
    assert r.returncode == 0 and 'resuming' in r.stderr and 'warning' not in r.stderr, r.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_top_of_file_values_of_the_wrong_type_are_one_line_and_1e6_works_for_a_count(script, tmp_path):
    args = small_args(script, tmp_path)
    assert_clean_error(run_path(edited_script(tmp_path / 'a', script, per_line="'False'"), *args, '--max_iters=5'),
                       f"per_line at the top of {script} must be True or False, got 'False'")
    r = run_path(edited_script(tmp_path / 'b', script, max_iters='1e6'), *args, '--max_iters=200')
    assert r.returncode == 0 and 'stopped at iteration 200' in r.stderr


@pytest.mark.parametrize('script', HARNESS)
def test_a_leading_byte_order_mark_is_not_a_symbol(script, tmp_path):
    path = tmp_path / 'bom.txt'
    path.write_bytes(b'\xef\xbb\xbf' + TEXT.encode())
    m = load_script(script)
    data, chars = m.load_data(str(path))
    assert chars == sorted(set(TEXT)) and len(data) == len(TEXT)


@pytest.mark.parametrize('script', HARNESS)
def test_a_huge_vocabulary_needs_no_vocabulary_squared_memory(script, tmp_path, capsys):
    """20,000 symbols: a V x V matrix would be 1.6 GB; the step needs a few MB."""
    text = ''.join(chr(0x4E00 + i) for i in range(20000)) * 2
    m = load_script(script)
    tracemalloc.start()
    try:
        run_main(m, small_args(script, tmp_path, '--hidden_size=4', '--max_iters=3', '--sample_length=5', text=text))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6, peak


def test_the_tools_answer_help_and_bad_arguments_in_one_line(tmp_path):
    (tmp_path / 'a.csv').write_text('iter,smooth_loss,loss_per_char,val_loss_per_char,elapsed_s\n0,1,1,,0\n')
    calls = [('tests/benchmark.py', ['--help'], 0), ('tests/benchmark.py', ['--rounds=x'], 1),
             ('tests/benchmark.py', ['--round=3'], 1), ('tools/plot_loss.py', ['a.csv', 'a.csv'], 1),
             ('tools/plot_loss.py', ['out.png', os.path.join(ROOT, 'README.md')], 1),
             ('tools/loss_table.py', [os.path.join(ROOT, 'README.md')], 1), ('tools/gradient_reach.py', ['--help'], 0),
             ('tools/loss_vs_size.py', ['--help'], 0), ('tools/loss_by_position.py', ['--help'], 0),
             ('tools/loss_by_position.py', ['a.csv'], 1), ('tools/loss_by_position.py', ['a.csv', '--skip=-1'], 1),
             ('tools/loss_by_position.py', [os.path.join(ROOT, 'README.md')], 1), ('tools/loss_by_position.py', [], 1)]
    for tool, args, code in calls:
        r = subprocess.run([sys.executable, os.path.join(ROOT, tool), *args], capture_output=True, text=True, cwd=tmp_path)
        assert r.returncode == code and 'Traceback' not in r.stderr, (tool, args, r.stderr)
        assert code == 0 and r.stdout or r.stderr.count('\n') == 1, (tool, args, r.stderr)


@pytest.mark.parametrize('script', HARNESS)
def test_a_checkpoint_from_before_the_log_was_kept_in_it_resumes_with_the_log_beside_it(script, tmp_path):
    """Earlier checkpoints had no 'log' array: the rows before their iteration come from the .csv."""
    args = small_args(script, tmp_path, '--print_every=50')
    whole = run_script(script, *small_args(script, tmp_path / 'whole', '--print_every=50'), '--max_iters=300')
    assert run_script(script, *args, '--max_iters=150').returncode == 0
    path, log = tmp_path / 'out' / 'ck.npz', tmp_path / 'out' / 'ck.csv'
    with np.load(path, allow_pickle=False) as ck:
        arrays = {k: ck[k] for k in ck.files if k != 'log'}
    np.savez(path, **arrays)
    with open(log, 'a') as f:
        f.write('150,1,1,,1\n')                                   # a row the old code wrote past it
    r = run_script(script, *args, '--max_iters=300', '--resume=True')
    assert r.returncode == 0 and '1 rows written after its checkpoint (iteration 150) are dropped' in r.stderr
    assert without_elapsed(log.read_text()) == without_elapsed((tmp_path / 'whole' / 'out' / 'ck.csv').read_text())
    assert whole.returncode == 0


@pytest.mark.parametrize('script', HARNESS)
def test_a_checkpoint_whose_log_has_no_gradient_columns_resumes_and_keeps_its_rows(script, tmp_path):
    """A log written before grad_norm and clipped_fraction: its rows get empty ones, the new rows full ones;
    and a new run renames such a log as its own."""
    args = small_args(script, tmp_path, '--print_every=50')
    assert run_script(script, *args, '--max_iters=150').returncode == 0
    path, log = tmp_path / 'out' / 'ck.npz', tmp_path / 'out' / 'ck.csv'
    with np.load(path, allow_pickle=False) as ck:
        arrays = {k: ck[k] for k in ck.files}
    old = [','.join(row.split(',')[:5]) for row in arrays['log'].tobytes().decode().splitlines()]
    assert old[0] == 'iter,smooth_loss,loss_per_char,val_loss_per_char,elapsed_s' and len(old) == 4
    arrays['log'] = np.frombuffer('\n'.join(old + ['']).encode(), np.uint8)
    np.savez(path, **arrays)
    log.write_text('\n'.join(old + ['']))
    r = run_script(script, *args, '--max_iters=300', '--resume=True')
    rows = [row.split(',') for row in log.read_text().splitlines()]
    assert r.returncode == 0 and rows[0][5:] == ['grad_norm', 'clipped_fraction'], r.stderr
    assert [row[0] for row in rows[1:]] == ['0', '50', '100', '150', '200', '250'] and all(len(row) == 7 for row in rows)
    assert all(row[5:] == ['', ''] for row in rows[1:4]) and all(float(row[5]) > 0 for row in rows[4:])
    log.write_text('\n'.join(old + ['']))
    path.unlink()
    r = run_script(script, *args, '--max_iters=50')
    kept = [f for f in (tmp_path / 'out').glob('ck.*.csv') if f.read_text() == '\n'.join(old + [''])]
    assert r.returncode == 0 and 'earlier run kept as' in r.stderr and len(kept) == 1, r.stderr
