"""What is taken for a run's loss log (the .csv beside its checkpoint) and what a resume keeps of it (issue 32):
a user's file that only starts like the log, a checkpoint from before the log was kept inside it, a log shorter
than the checkpoint's."""
import os

import numpy as np
import pytest

from common import HARNESS, assert_clean_error, harness, listing, run_script, small_args, without_elapsed


def rows_of(path):
    return without_elapsed(path.read_text())


def strip_log(path):
    """The checkpoint at path as one written before the loss log was kept inside it (no 'log' member)."""
    with np.load(path, allow_pickle=False) as ck:
        arrays = {k: ck[k] for k in ck.files if k != 'log'}
    np.savez(path, **arrays)


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('resume', [False, True])
def test_a_csv_that_starts_with_the_logs_header_and_goes_on_is_not_the_log_and_stays(script, resume, tmp_path):
    """The header, then more on its first line: a user's table, refused for a new run and for a resume."""
    args = small_args(script, tmp_path, '--max_iters=20')
    if resume:
        assert run_script(script, *args).returncode == 0
    (tmp_path / 'out').mkdir(exist_ok=True)
    (tmp_path / 'out' / 'ck.csv').write_text(harness.HEADER + ',note\n0,1,2,,0.0,,,mine\n')
    before = listing(tmp_path / 'out')
    r = run_script(script, *args, f'--resume={resume}', '--max_iters=30')
    assert_clean_error(r, str(tmp_path / 'out' / 'ck.csv'), f"is not {script}'s loss log")
    assert listing(tmp_path / 'out') == before


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('went_on', [False, True])
def test_resuming_a_checkpoint_without_its_log_keeps_every_row_before_its_iteration_the_last_one_too(script, went_on,
                                                                                                       tmp_path):
    """Rows at 0, 50, 100 and 150 before a checkpoint at 151 are kept from the .csv (its own, or one a run that went
    on wrote: its rows at 200 and 250 are dropped, and said to be); 200 is written again as that run wrote it."""
    args = small_args(script, tmp_path, '--print_every=50', '--sample_length=5', '--dtype=float64')
    out = tmp_path / 'out'
    assert run_script(script, *args, '--max_iters=151').returncode == 0
    at_151 = {f: (out / f).read_bytes() for f in ('ck.npz', 'ck.csv')}
    assert run_script(script, *args, '--max_iters=251', '--resume=True').returncode == 0
    whole = rows_of(out / 'ck.csv')
    assert [row.split(',')[0] for row in whole[1:]] == ['0', '50', '100', '150', '200', '250']
    for f, data in at_151.items():
        if f == 'ck.npz' or not went_on:
            (out / f).write_bytes(data)
    strip_log(out / 'ck.npz')
    r = run_script(script, *args, '--max_iters=201', '--resume=True')
    assert r.returncode == 0, r.stderr
    assert rows_of(out / 'ck.csv') == whole[:-1]
    assert ('2 rows written after its checkpoint (iteration 151) are dropped' in r.stderr) == went_on, r.stderr
    assert went_on or 'dropped' not in r.stderr


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('left', [harness.HEADER + '\n', ''])
def test_a_log_shorter_than_the_checkpoints_is_written_again_from_it_and_nothing_is_said_dropped(script, left,
                                                                                                tmp_path):
    args = small_args(script, tmp_path, '--print_every=10', '--sample_length=5')
    out = tmp_path / 'out'
    assert run_script(script, *args, '--max_iters=31').returncode == 0
    whole = rows_of(out / 'ck.csv')
    (out / 'ck.csv').write_text(left)
    r = run_script(script, *args, '--max_iters=41', '--resume=True')
    assert r.returncode == 0 and 'dropped' not in r.stderr, r.stderr
    rows = rows_of(out / 'ck.csv')
    assert rows[:len(whole)] == whole and [row.split(',')[0] for row in rows[len(whole):]] == ['40']
    assert os.listdir(out) == ['ck.npz', 'ck.csv'] or sorted(os.listdir(out)) == ['ck.csv', 'ck.npz']
