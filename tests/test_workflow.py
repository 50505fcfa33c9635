"""Long runs: checkpoints, exact resume (also after Ctrl-C), sampling a saved model, held-out loss, the log."""
import errno
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from common import (ROOT, SCRIPTS, TEXT, harness, load_script, loss_lines, rewrite_record, run_main, run_script,
                    saved_params, small_args, without_elapsed, SMALL)

EXTRA = ['--print_every=50', '--sample_length=40', '--val_fraction=0.1', '--eval_every=100']


def csv_rows(tmp_path):
    """The loss log without its elapsed-seconds column, which differs between runs."""
    return without_elapsed((tmp_path / 'out' / 'ck.csv').read_text())


@pytest.mark.parametrize('script', SCRIPTS)
def test_run_stopped_halfway_and_resumed_prints_what_one_run_prints(script, tmp_path):
    whole = run_script(script, *small_args(script, tmp_path / 'a', '--max_iters=400', *EXTRA))
    first = run_script(script, *small_args(script, tmp_path / 'b', '--max_iters=200', *EXTRA))
    second = run_script(script, *small_args(script, tmp_path / 'b', '--max_iters=400', *EXTRA), '--resume=True')
    assert whole.returncode == first.returncode == second.returncode == 0, second.stderr
    assert len(loss_lines(whole.stdout)) == 8 and whole.stdout.count('held-out loss') == 5
    assert first.stdout + second.stdout == whole.stdout
    assert csv_rows(tmp_path / 'b') == csv_rows(tmp_path / 'a')


@pytest.mark.parametrize('script', SCRIPTS)
def test_checkpoint_is_plain_arrays_with_everything_a_resume_needs(script, tmp_path):
    assert run_script(script, *small_args(script, tmp_path, '--max_iters=30')).returncode == 0
    with np.load(tmp_path / 'out' / 'ck.npz', allow_pickle=False) as ck:
        names = set(ck.files)
        meta = json.loads(str(ck['meta']))
        assert ck['Whh'].dtype == np.float32 and ck['hprev'].any()
        assert ck['log'].tobytes() == (tmp_path / 'out' / 'ck.csv').read_bytes(), 'the loss log, kept in it'
    weights = {'Wxh', 'Whh', 'Why', 'bh', 'by'} | ({'Wxh2', 'Wxh3', 'Whh2', 'Whh3', 'bh2', 'bh3'} if script == 'rnn3.py' else set())
    assert names == weights | {'m' + k for k in weights} | {'hprev', 'meta', 'log'}
    assert meta['script'] == script and meta['n'] == 30 and meta['p'] == 30 * 25
    assert meta['chars'] == sorted(set(TEXT)) and meta['config']['hidden_size'] == int(SMALL[script][0].split('=')[1])
    assert math.isfinite(meta['smooth_loss']) and meta['rng']['bit_generator'] == 'PCG64'
    assert not any(f.endswith('.tmp') for f in os.listdir(tmp_path / 'out'))


@pytest.mark.parametrize('script', SCRIPTS)
def test_failed_checkpoint_write_leaves_the_previous_checkpoint_whole(script, tmp_path, monkeypatch, capsys):
    args = small_args(script, tmp_path, '--max_iters=20')
    run_main(load_script(script), args)
    path = tmp_path / 'out' / 'ck.npz'
    before = path.read_bytes()
    m = load_script(script)

    def disk_full(f, **arrays):
        f.write(b'PK\x03\x04 half a checkpoint')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(np, 'savez', disk_full)
    with pytest.raises(SystemExit) as e:
        run_main(m, args + ['--resume=True', '--max_iters=40'])
    assert 'No space left on device; the previous one is untouched' in str(e.value)
    assert path.read_bytes() == before and sorted(os.listdir(path.parent)) == ['ck.csv', 'ck.npz']


@pytest.mark.parametrize('script', SCRIPTS)
def test_what_is_synced_to_disk_is_the_whole_checkpoint_and_log(script, tmp_path, monkeypatch):
    """fsync (before the rename) sees every byte written: nothing is left in a buffer for a power cut to lose."""
    synced, fsync = [], os.fsync
    monkeypatch.setattr(harness.os, 'fsync', lambda fd: synced.append(os.fstat(fd).st_size) or fsync(fd))
    run_main(load_script(script), small_args(script, tmp_path, '--max_iters=20'))
    assert synced == [os.path.getsize(tmp_path / 'out' / 'ck.npz'), os.path.getsize(tmp_path / 'out' / 'ck.csv')]


@pytest.fixture(scope='module')
def names_model(tmp_path_factory):
    """Each script trained on a list of names, one per line."""
    names = '\n'.join(['Hydrogen', 'Helium', 'Lithium', 'Beryllium', 'Sodium', 'Magnesium', 'Calcium',
                       'Titanium', 'Chromium', 'Germanium', 'Selenium', 'Rubidium', 'Strontium']) + '\n'
    out = {}
    for script in SCRIPTS:
        tmp = tmp_path_factory.mktemp(script[:-3])
        args = small_args(script, tmp, '--max_iters=600', '--learning_rate=0.1', '--seq_length=10', text=names)
        assert run_script(script, *args).returncode == 0
        out[script] = args
    return out


@pytest.mark.parametrize('script', SCRIPTS)
def test_generate_prints_prime_then_n_characters_reproducibly(script, names_model):
    args = names_model[script] + ['--generate=50', '--prime=Sel', '--temperature=0.7']
    a, b = run_script(script, *args), run_script(script, *args)
    c = run_script(script, *args, '--seed=7')
    assert a.returncode == 0 and re.fullmatch(r'.*: sampling .*ck\.npz at iteration 600 \(trained on .*\)\n', a.stderr)
    assert a.stdout.startswith('Sel') and len(a.stdout) == 3 + 50 + (a.stdout[52] != '\n')   # and a newline
    assert a.stdout == b.stdout != c.stdout


@pytest.mark.parametrize('script', SCRIPTS)
def test_low_temperature_generates_likelier_text_than_high(script, names_model):
    """Loss of generated text under the model: lower at T=0.3 than at T=1.5."""
    def per_char_loss(temperature):
        r = run_script(script, *names_model[script], '--generate=400', f'--temperature={temperature}')
        m = load_script(script)
        run_main(m, names_model[script] + ['--generate=1'])          # sets the model's settings, as sampling does
        params, meta = saved_params(m, [a for a in names_model[script] if a.startswith('--checkpoint_path=')][0][18:])
        ix = np.array([meta['chars'].index(ch) for ch in r.stdout[:-1]])
        h = m.zero_state()
        return m.forward(ix[:-1], ix[1:], h, params)[0] / (len(ix) - 1)
    assert per_char_loss(0.3) < per_char_loss(1.5)


@pytest.mark.parametrize('script', SCRIPTS)
def test_lines_prints_that_many_generated_lines(script, names_model):
    r = run_script(script, *names_model[script], '--lines=8')
    lines = r.stdout.split('\n')
    assert r.returncode == 0 and len(lines) == 9 and lines[-1] == ''
    assert sum(name.endswith('ium') for name in lines) >= 2, lines


@pytest.mark.parametrize('script', SCRIPTS)
def test_held_out_loss_is_printed_in_nats_and_bits_and_logged(script, tmp_path):
    r = run_script(script, *small_args(script, tmp_path, '--max_iters=201', *EXTRA))
    held = re.findall(r'^iter (\d+), held-out loss: ([\d.]+) nats/char, ([\d.]+) bits/char$', r.stdout, re.M)
    assert [int(n) for n, _, _ in held] == [0, 100, 200, 201]          # and at the end
    assert all(abs(float(bits) - float(nats) / math.log(2)) < 1e-3 for _, nats, bits in held)
    rows = [line.split(',') for line in csv_rows(tmp_path)]
    assert rows[0] == ['iter', 'smooth_loss', 'loss_per_char', 'val_loss_per_char', 'grad_norm', 'clipped_fraction']
    assert [int(row[0]) for row in rows[1:]] == [0, 50, 100, 150, 200, 201]
    assert [row[3] != '' for row in rows[1:]] == [True, False, True, False, True, True]   # and the last
    for (n, loss), row in zip(loss_lines(r.stdout), rows[1:]):
        assert abs(float(row[1]) - loss) < 1e-5 and abs(float(row[2]) - loss / 25) < 1e-5


def test_results_table_tool_reports_the_log_and_checkpoint_of_a_run(tmp_path):
    r = run_script('min_char_rnn.py', *small_args('min_char_rnn.py', tmp_path, '--max_iters=251', *EXTRA))
    losses = dict(loss_lines(r.stdout))
    tool = os.path.join(ROOT, 'tools', 'loss_table.py')
    table = subprocess.run([sys.executable, tool, '--iters=0,150', '--paper=1,2', f'--below={losses[100]}',
                            '--minutes=1000', f'{tmp_path / "out" / "ck.csv"}=run'], capture_output=True, text=True)
    assert r.returncode == table.returncode == 0, table.stderr
    rows = [row.strip('| ').split(' | ') for row in table.stdout.splitlines()]
    assert rows[0] == ['paper', 'run'] and len(rows) == 13
    final = re.search(r'^iter 251, held-out loss: ([\d.]+) nats/char', r.stdout, re.M).group(1)
    assert rows[3] == ['smoothed loss at 150', '2', f'{losses[150]:.2f}']
    assert rows[4][2] == '100' and rows[5][2] == f'{min(losses.values()):.2f}'
    assert rows[6][2] == f'{min(losses[200], losses[250]):.2f} - {max(losses[200], losses[250]):.2f}'
    assert rows[7][2].startswith(f'{final} (') and rows[7][2].endswith('at 251')
    assert rows[8] == ['held-out loss, last evaluation within 1000 min of training', '-', rows[7][2]]
    assert rows[9] == ['passes over the training text', '-', f'{251 * 25 / (len(TEXT) - int(len(TEXT) * 0.1)):.1f}']
    assert rows[10][2].startswith('251 in 0 min')
    log = [row.split(',') for row in (tmp_path / 'out' / 'ck.csv').read_text().splitlines()[1:] if row.split(',')[5]]
    norms = sorted(float(row[5]) for row in log)
    assert len(log) == 6 and rows[11][2] == f'{np.median(norms):.3g}, {norms[-1]:.3g} (at {int(max(log, key=lambda r: float(r[5]))[0]):,})'
    assert rows[12][2] == f'{np.mean([float(row[6]) for row in log]):.2g}, {sum(float(row[6]) > 0 for row in log)} of 6'


def test_the_results_table_of_a_run_resumed_past_until_reads_it_as_it_was_there(tmp_path):
    args = small_args('min_char_rnn.py', tmp_path, '--print_every=20', '--sample_length=5')
    first = run_script('min_char_rnn.py', *args, '--max_iters=101')
    assert run_script('min_char_rnn.py', *args, '--max_iters=200', '--resume=True').returncode == first.returncode == 0
    losses = dict(loss_lines(first.stdout))
    table = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'loss_table.py'), '--iters=0,100', '--until=100',
                            f'{tmp_path / "out" / "ck.csv"}=run'], capture_output=True, text=True)
    rows = {row.strip('| ').split(' | ')[0]: row.strip('| ').split(' | ')[1] for row in table.stdout.splitlines()[2:]}
    assert table.returncode == 0 and rows['smoothed loss at 100'] == f'{losses[100]:.2f}', table.stderr
    assert rows['lowest smoothed loss'] == f'{min(losses.values()):.2f}'
    assert rows['iterations, training time'].startswith('100 in 0 min')
    assert rows['passes over the training text'] == f'{100 * 25 / len(TEXT):.1f}'


@pytest.mark.parametrize('until, trained', [(None, '20 in 1 min 0 s'), ('300', '300 in 1 min 0 s'),
                                            ('100', '100 in 1 min 0 s')])
def test_the_results_table_rounds_the_training_time_and_reads_the_evaluations_within_each_minute(until, trained,
                                                                                                 tmp_path):
    """A hand-made log: held-out evaluations at 59.9, 60.0 and 60.1 s of training; the checkpoint's 59.6 s."""
    run_script('min_char_rnn.py', *small_args('min_char_rnn.py', tmp_path, '--max_iters=20'))
    out = tmp_path / 'out'
    rewrite_record(out / 'ck.npz', elapsed=59.6)
    (out / 'ck.csv').write_text('\n'.join([harness.HEADER, '0,80.0,3.2,3.0,0.0,,', '100,70.0,2.8,2.9,59.9,,',
                                            '200,60.0,2.4,2.5,60.0,,', '300,50.0,2.0,2.25,60.1,,', '']))
    table = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'loss_table.py'), '--minutes=1,0.998',
                            *([f'--until={until}'] if until else []), str(out / 'ck.csv')],
                           capture_output=True, text=True)
    rows = {row.strip('| ').split(' | ')[0]: row.strip('| ').split(' | ')[1] for row in table.stdout.splitlines()[2:]}
    assert table.returncode == 0 and rows['iterations, training time'] == trained, table.stderr
    last = '100' if until == '100' else '200'
    assert rows['held-out loss, last evaluation within 1 min of training'].endswith(f' at {last}')
    assert rows['held-out loss, last evaluation within 0.998 min of training'].endswith(' at 0')


@pytest.mark.parametrize('script', SCRIPTS)
def test_output_piped_into_a_reader_that_stops_early_ends_quietly(script, names_model):
    cmd = [sys.executable, os.path.join(ROOT, script), *names_model[script], '--generate=1000000000']
    reader = subprocess.Popen(['head', '-c', '20'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    writer = subprocess.run(cmd, stdout=reader.stdin, stderr=subprocess.PIPE, text=True, timeout=120)
    reader.stdin.close()
    assert len(reader.stdout.read()) == 20 and reader.wait() == 0
    assert writer.stderr.count('\n') == 1 and ': sampling ' in writer.stderr and writer.returncode in (0, 1)
